// A TypeScript consumer of the generated module, as a front end would write
// it: checked by `cargo test --test typescript`.
import { EVENT_NAMES, EventStream, typed, type ChatEvent, type ChatEventData, type Message } from "../events.js";

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

// The fetch transport: a POST with a body and headers, resumed with a GET,
// stopped by a signal; typed as `EventSource` is.
const abort = new AbortController();
const init: EventStream.Init = {
  method: "POST",
  headers: { authorization: "Bearer token", "content-type": "application/json" },
  body: JSON.stringify({ room: "a" }),
  lastEventId: "41",
  retryJitter: 2000,
  signal: abort.signal,
  reconnect: async (stream: EventStream): Promise<EventStream.Next | null> =>
    stream.response?.status === 200 ? { url: "/stream", method: "GET" } : null,
  onStop: (stop: EventStream.Stop) => {
    switch (stop.reason) {
      case "status":
      case "no-content":
      case "not-event-stream":
        return console.log(stop.response.status);
      case "aborted":
        return console.log(stop.cause);
      case "request-error":
        return console.log(stop.error);
      case "closed":
      case "not-reconnecting":
        return;
      default: {
        const unhandled: never = stop;
        return unhandled;
      }
    }
  },
};
const stream = new EventStream("/stream", init);
typed(stream).on("message", (message) => console.log(message.text, stream.lastEventId));
stream.onmessage = (event) => console.log(event.data.length);
const state: 0 | 1 | 2 = stream.readyState;
console.log(state === EventStream.CLOSED, stream.url, stream.withCredentials);
stream.close();
