use sse_runtime::prelude::*;

sse_handlers! {
    async fn names() {
        let names = vec!["a", "b"];
        let tick = tokio::time::sleep(std::time::Duration::from_millis(1));
        tokio::select! {
            _ = tick => {
                let send = move |index: usize| yield event!(data: names[index]);
                send(0);
            }
        }
    }
}

fn main() {}
