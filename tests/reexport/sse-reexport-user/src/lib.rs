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

/// Typed events, their serde attributes and their TypeScript included,
/// told where the runtime is.
#[derive(SseEvent, Debug, PartialEq)]
#[sse(crate = "sse_reexport::sse")]
pub enum Said {
    /// Something said.
    Said {
        /// What.
        text: String,
        /// Not sent.
        #[serde(skip)]
        secret: String,
    },
    /// The end.
    Done,
}

/// A typed handler through the re-export.
#[sse_handler(crate = "sse_reexport::sse", events = Said)]
pub async fn typed() {
    yield_!(Said::Said {
        text: "hi".into(),
        secret: "s3cr3t".into(),
    });
    yield_!(Said::Done);
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

    #[tokio::test]
    async fn typed_events_work_through_the_re_export() {
        let client = TestClient::new(Router::new().route("/t", get(super::typed)));
        let mut stream = client.get("/t").send().await;
        assert_eq!(
            stream.next_as::<super::Said>().await.unwrap(),
            Some(super::Said::Said {
                text: "hi".into(),
                secret: String::new()
            })
        );
        assert_eq!(
            stream.next_as::<super::Said>().await.unwrap(),
            Some(super::Said::Done)
        );
    }
}
