// A TypeScript consumer of the generated module, as a front end would write
// it: checked by `cargo test --test typescript`.
import { EVENT_NAMES, typed, type ChatEvent, type ChatEventData, type Message } from "../events.js";

const events = typed(new EventSource("/stream"));

const stop = events.on("message", (message: Message, event: MessageEvent<string>) => {
  console.log(message.user.toUpperCase(), message.text.length, event.lastEventId);
});
stop();
events.on("join", (data: ChatEventData<"join">) => console.log(data.user));
// The hub's notices, which the client knows whatever `ChatEvent` declares.
events.on("lagged", (missed: number) => console.log(missed + 1));
events.on("reset", (after: string) => console.log(after.trim()));

const names: readonly string[] = EVENT_NAMES;
console.log(names);

// The union narrows on the event name, and a switch over it is checked to
// be exhaustive: an event added to `ChatEvent` fails here until handled.
export function describe(event: ChatEvent): string {
  switch (event.event) {
    case "message":
      return `${event.data.user}: ${event.data.text}`;
    case "join":
      return `${event.data.user} joined`;
    default: {
      const unhandled: never = event;
      return unhandled;
    }
  }
}
