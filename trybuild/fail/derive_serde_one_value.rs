use sse_runtime::SseEvent;

// serde attributes that shape the enum as one JSON value cannot shape an
// event (its name is its `event:` field): an error on each, not data
// other than what serde writes.
#[derive(SseEvent, serde::Serialize)]
#[serde(tag = "type")]
enum Tagged {
    Joined { user: String },
}

#[derive(SseEvent, serde::Serialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    Joined { user: String },
}

#[derive(SseEvent, serde::Serialize)]
#[serde(untagged)]
enum Untagged {
    Joined { user: String },
}

#[derive(SseEvent, serde::Serialize, Clone)]
#[serde(into = "String")]
enum Into {
    Joined { user: String },
}

impl From<Into> for String {
    fn from(_: Into) -> String {
        String::new()
    }
}

fn main() {}
