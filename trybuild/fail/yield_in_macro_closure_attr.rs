use sse_runtime::prelude::*;

#[sse_handler]
async fn names() {
    let names = vec!["a", "b"];
    let tick = tokio::time::sleep(std::time::Duration::from_millis(1));
    tokio::select! {
        _ = tick => {
            names.iter().for_each(|name| {
                yield_!(event!(data: *name));
            });
        }
    }
}

fn main() {}
