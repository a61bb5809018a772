// Mistakes the generated types must catch. Each line after
// `@ts-expect-error` has to fail to type-check: were the types to let one
// through, tsc would report the directive as unused, and
// `cargo test --test typescript` fails.
import { EventStream, typed, type ChatEvent } from "../events.js";

const events = typed(new EventSource("/stream"));

// @ts-expect-error a misspelled event name is not an event of ChatEvent
events.on("mesage", () => {});

// @ts-expect-error a message has no field `txet`
events.on("message", (message) => message.txet);

// @ts-expect-error `lagged` carries a number
events.on("lagged", (missed: string) => missed);

// @ts-expect-error a `join` event's data has `user`, not `name`
export const wrong: ChatEvent = { event: "join", data: { name: "ann" } };

// @ts-expect-error a stream's body is sent again on every reconnection: not a one-time stream
new EventStream("/stream", { method: "POST", body: new ReadableStream() });

// @ts-expect-error the jitter's window is milliseconds, a number
new EventStream("/stream", { retryJitter: "1s" });

// @ts-expect-error only some stops have a response: narrow on `reason` first
new EventStream("/stream", { onStop: (stop) => stop.response.status });

// @ts-expect-error `reconnect` returns what changes in the request, not a URL alone
new EventStream("/stream", { reconnect: () => "/other" });

// @ts-expect-error `lastEventId` is read-only, as `EventSource`'s is
new EventStream("/stream").lastEventId = "1";
