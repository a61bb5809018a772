// Mistakes the generated types must catch. Each line after
// `@ts-expect-error` has to fail to type-check: were the types to let one
// through, tsc would report the directive as unused, and
// `cargo test --test typescript` fails.
import { typed, type ChatEvent } from "../events.js";

const events = typed(new EventSource("/stream"));

// @ts-expect-error a misspelled event name is not an event of ChatEvent
events.on("mesage", () => {});

// @ts-expect-error a message has no field `txet`
events.on("message", (message) => message.txet);

// @ts-expect-error `lagged` carries a number
events.on("lagged", (missed: string) => missed);

// @ts-expect-error a `join` event's data has `user`, not `name`
export const wrong: ChatEvent = { event: "join", data: { name: "ann" } };
