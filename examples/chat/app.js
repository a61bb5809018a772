// @ts-check
// The chat page. Plain JavaScript the browser runs as it is, type-checked
// by TypeScript (`// @ts-check`, tsconfig.json) against events.d.ts, which
// is generated from the server's Rust `ChatEvent`: a misspelled event name
// or field here fails `cargo test --test typescript`.
import { typed } from "./events.js";

const log = /** @type {HTMLUListElement} */ (document.getElementById("log"));
const state = /** @type {HTMLElement} */ (document.getElementById("state"));
const form = /** @type {HTMLFormElement} */ (document.getElementById("send"));
const userInput = /** @type {HTMLInputElement} */ (form.elements.namedItem("user"));
const textInput = /** @type {HTMLInputElement} */ (form.elements.namedItem("text"));

userInput.value = "guest" + Math.floor(Math.random() * 1000);

/** @param {string} text */
function setState(text) {
  state.textContent = text;
  state.className = "state " + text;
  document.body.dataset.state = text;
}

/**
 * Adds a line to the log; text is set as text, never as markup.
 * @param {string} kind
 * @param {string} who
 * @param {string} text
 * @param {string} id
 */
function append(kind, who, text, id) {
  const li = document.createElement("li");
  li.className = kind;
  li.dataset.id = id;
  for (const [name, value] of [["user", who], ["text", text], ["id", id ? "#" + id : ""]]) {
    const span = document.createElement("span");
    span.className = name;
    span.textContent = value;
    li.appendChild(span);
  }
  log.appendChild(li);
  log.scrollTop = log.scrollHeight;
}

// The room is the page's `?room=` (the public one without), and a token
// for a private room its `#access_token=`: a fragment is not sent to the
// server, so the page's own URL keeps it out of logs. `EventSource` cannot
// send headers, so the stream's URL carries it; posts send it as a header.
const page = new URLSearchParams(location.search);
const room = page.get("room") ?? "public";
const token = new URLSearchParams(location.hash.slice(1)).get("access_token");
const streamQuery = new URLSearchParams({ user: userInput.value, room });
if (token) {
  streamQuery.set("access_token", token);
}

setState("connecting");
const source = new EventSource("/stream?" + streamQuery);
source.onopen = () => setState("open");
source.onerror = () => setState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");

const events = typed(source);
events.on("message", (message, event) => append("message", message.user, message.text, event.lastEventId));
events.on("join", ({ user }, event) => append("notice", user, "joined", event.lastEventId));
events.on("lagged", (missed) => append("notice", "", `fell behind by ${missed} events; catching up`, ""));
events.on("reset", () => {
  log.replaceChildren();
  append("notice", "", "earlier messages are no longer available", "");
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  /** @type {Record<string, string>} */
  const headers = { "content-type": "application/json" };
  if (token) {
    headers.authorization = `Bearer ${token}`;
  }
  const response = await fetch("/messages?" + new URLSearchParams({ room }), {
    method: "POST",
    headers,
    body: JSON.stringify({ user: userInput.value, text: textInput.value }),
  });
  if (!response.ok) {
    append("notice", "", `not sent: ${await response.text()}`, "");
    return;
  }
  textInput.value = "";
  textInput.focus();
});
