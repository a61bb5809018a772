use sse_runtime::prelude::*;

sse_handlers! {
    async fn clock() {
        let send = || {
            yield event!("tick");
        };
        send();
    }
}

fn main() {}
