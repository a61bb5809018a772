use sse_runtime::prelude::*;

#[sse_handler]
async fn clock() {
    let tick = tokio::time::sleep(std::time::Duration::from_millis(1));
    tokio::select! {
        _ = tick => {
            tokio::spawn(async move {
                yield_!(event!("tick"));
            });
        }
    }
}

fn main() {}
