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

setState("connecting");
const source = new EventSource("/stream?" + new URLSearchParams({ user: userInput.value }));
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
  const response = await fetch("/messages", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: userInput.value, text: textInput.value }),
  });
  if (!response.ok) {
    append("notice", "", `not sent: ${await response.text()}`, "");
    return;
  }
  textInput.value = "";
  textInput.focus();
});
