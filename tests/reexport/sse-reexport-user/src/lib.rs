//! Handlers written against `sse_reexport::sse`, with no `sse_runtime` in
//! this crate's dependencies: every path the macros expand to must go
//! through the re-export.

use sse_reexport::sse::prelude::*;

/// The attribute form, told where the runtime is.
#[sse_handler(crate = "sse_reexport::sse")]
pub async fn attribute_form() {
    yield_!(event!("through a re-export", event: "reexported"));
    yield_!(comment!("and a comment"));
}

sse_handlers! {
    /// The block form finds the runtime by itself.
    pub async fn block_form() {
        yield event!(data: "block", id: 1);
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use axum::Router;
    use sse_reexport::sse::testing::TestClient;

    #[tokio::test]
    async fn both_forms_work_through_the_re_export() {
        let app = Router::new()
            .route("/a", get(super::attribute_form))
            .route("/b", get(super::block_form));
        let client = TestClient::new(app);
        let a = client.get("/a").send().await.collect().await;
        assert_eq!(a.events[0].event_type, "reexported");
        assert_eq!(a.comments, ["and a comment"]);
        let b = client.get("/b").send().await.collect().await;
        assert_eq!(b.events[0].last_event_id, "1");
    }
}
