use sse_runtime::SseEvent;

// A mistake in a serde attribute is serde's one error, on the attribute:
// not also two on the derive naming its hidden copy of the enum.
#[derive(SseEvent)]
enum Chat {
    Joined {
        #[serde(renam = "name")]
        user: String,
    },
}

#[derive(SseEvent)]
#[serde(rename_all_fields = "camelcase")]
enum Account {
    SignedIn { user_name: String },
}

// serde refuses `flatten` on a tuple field; the TypeScript copy of the
// variant does not refuse it a second time, on the derive.
#[derive(SseEvent)]
enum Extra {
    Fields(#[serde(flatten)] std::collections::BTreeMap<String, u8>, u8),
}

fn main() {}
