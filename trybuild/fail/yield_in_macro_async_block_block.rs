use sse_runtime::prelude::*;

sse_handlers! {
    async fn clock() {
        let tick = tokio::time::sleep(std::time::Duration::from_millis(1));
        tokio::select! {
            _ = tick => {
                tokio::spawn(async move {
                    yield event!("tick");
                });
            }
        }
    }
}

fn main() {}
