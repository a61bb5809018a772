// How an `EventStream` tells `typed` of every event, whatever its name. A
// symbol of the global registry, so that the `typed` of one generated
// module hears the `EventStream` of another (or of `event-stream.js`).
/** @type {unique symbol} */
const EVERY_EVENT = Symbol.for("sse-runtime.EventStream.everyEvent");

// An exception of a page's own code (a handler, a hook), thrown on its own
// so that the stream and the other handlers go on, as the browser does
// with an event listener's.
/** @param {unknown} error */
function rethrow(error) {
  queueMicrotask(() => {
    throw error;
  });
}

// A header's value is bytes: `fetch` sends each character below 256 as one
// byte and refuses the others, where `EventSource` sends the id as UTF-8.
/** @param {string} text */
function utf8(text) {
  let bytes = "";
  for (const byte of new TextEncoder().encode(text)) bytes += String.fromCharCode(byte);
  return bytes;
}

// A header's value back to text: its bytes read as UTF-8.
/** @param {string} bytes */
function fromBytes(bytes) {
  return new TextDecoder().decode(Uint8Array.from(bytes, (c) => c.charCodeAt(0)));
}

// The longest a timer waits (2^31 - 1 ms, about 24.8 days): a longer delay
// fires at once.
const LONGEST_DELAY = 2147483647;

/**
 * @typedef {{ url: string, method: string, headers: Headers, body: XMLHttpRequestBodyInit | null }} StreamRequest
 * @typedef {{ url?: string | URL, method?: string, headers?: HeadersInit, body?: XMLHttpRequestBodyInit | null }} NextRequest
 * @typedef {{ reason: "closed" }
 *   | { reason: "aborted", cause: unknown }
 *   | { reason: "no-content", response: Response }
 *   | { reason: "status", response: Response }
 *   | { reason: "not-event-stream", response: Response }
 *   | { reason: "not-reconnecting" }
 *   | { reason: "request-error", error: unknown }} Stop
 * @typedef {{
 *   method?: string,
 *   headers?: HeadersInit,
 *   body?: XMLHttpRequestBodyInit | null,
 *   withCredentials?: boolean,
 *   lastEventId?: string,
 *   retryJitter?: number,
 *   signal?: AbortSignal,
 *   reconnect?: (stream: EventStream) => NextRequest | null | undefined | PromiseLike<NextRequest | null | undefined>,
 *   onStop?: (stop: Stop) => void,
 *   fetch?: (url: string, init: RequestInit) => Promise<Response>,
 * }} Init
 */

/**
 * The request `next` describes, `previous` giving what it leaves out: a GET
 * or HEAD sends no body unless `next` names one. Throws a `TypeError`, as
 * `fetch` would, for a request that cannot be sent (a relative URL without
 * a page, a header name or value that is not one, a body on a GET).
 * @param {StreamRequest} previous
 * @param {NextRequest} next
 * @returns {StreamRequest}
 */
function nextRequest(previous, next) {
  const url = next.url === undefined ? previous.url : new URL(next.url, globalThis.location?.href).href;
  const method = next.method ?? previous.method;
  const headers = next.headers === undefined ? previous.headers : new Headers(next.headers);
  const bodyless = /^(GET|HEAD)$/i.test(method) && next.method !== undefined;
  const body = next.body !== undefined ? next.body : bodyless ? null : previous.body;
  // Checked here, not at `fetch`, where a mistake would look like a
  // network error and be retried for ever.
  new Request(url, { method, headers, body });
  return { url, method, headers, body };
}

// An `EventSource` over `fetch`, following the WHATWG HTML standard's
// "Server-sent events": the same parsing (a byte order mark, CR, LF and
// CRLF line ends across chunks, `retry` digits only, an `id` with NUL
// ignored), events, `readyState`, reconnection after `retry:` milliseconds
// (3 s at first) and `Last-Event-ID`. Beyond `EventSource`: any method, a
// body and headers; an id to resume from; a random extra delay before each
// reconnection (`retryJitter`); `reconnect` to change the request (to
// resume a POST with a GET, to renew a token) or to stop; an `AbortSignal`;
// and `onStop`, which says why it stopped. A response that is not a 2xx
// `text/event-stream` stops it, as it does `EventSource`, and a 204 is the
// server saying there is nothing more.
export class EventStream extends EventTarget {
  static CONNECTING = /** @type {0} */ (0);
  static OPEN = /** @type {1} */ (1);
  static CLOSED = /** @type {2} */ (2);

  /** @type {0 | 1 | 2} */
  readyState = EventStream.CONNECTING;
  lastEventId = "";
  /** @type {Response | null} */
  response = null;
  /** @type {Set<(event: MessageEvent<string>) => void>} */
  [EVERY_EVENT] = new Set();
  /** @type {Map<string, ((event: any) => void) | null>} */
  #handlers = new Map();
  #retry = 3000;
  #jitter = 1000;
  /** @type {StreamRequest} */
  #request;
  /** @type {Init} */
  #init;
  /** @type {AbortController | null} */
  #abort = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer = undefined;
  /** @type {(() => void) | null} */
  #onAbort = null;

  /**
   * @param {string | URL} url
   * @param {Init} [init]
   */
  constructor(url, init = {}) {
    super();
    this.#init = { ...init };
    this.#request = nextRequest(
      { url: "", method: "GET", headers: new Headers(), body: null },
      { url, method: init.method ?? "GET", headers: init.headers ?? {}, body: init.body ?? null },
    );
    this.url = this.#request.url;
    this.withCredentials = Boolean(init.withCredentials);
    // A `Last-Event-ID` among the headers is where the stream starts, as
    // `lastEventId` is: sent as it is on every request, it would outlive
    // the server resetting the id.
    const idInHeaders = this.#request.headers.get("last-event-id");
    this.#request.headers.delete("last-event-id");
    this.lastEventId = String(init.lastEventId ?? (idInHeaders === null ? "" : fromBytes(idInHeaders)));
    // Refused here, as a header `fetch` refuses would be retried for ever.
    if (this.lastEventId !== "") new Headers([["last-event-id", utf8(this.lastEventId)]]);
    const jitter = Number(init.retryJitter ?? 1000);
    this.#jitter = jitter > 0 ? Math.min(jitter, LONGEST_DELAY) : 0;
    const signal = init.signal;
    if (signal?.aborted) {
      this.readyState = EventStream.CLOSED;
      queueMicrotask(() => this.#tell({ reason: "aborted", cause: signal.reason }));
      return;
    }
    if (signal) {
      this.#onAbort = () => this.#stop({ reason: "aborted", cause: signal.reason });
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    this.#connect();
  }

  close() {
    this.#stop({ reason: "closed" });
  }

  // `onopen`, `onerror` and `onmessage` are event handlers, as
  // `EventSource`'s are: each is a listener of its type (added where it is
  // first set), so it hears the server's events of that name too (an
  // `event: error` calls `onerror`), and an exception of it is reported on
  // its own, never ending the stream.
  /** @returns {((event: Event) => void) | null} */
  get onopen() {
    return this.#handlers.get("open") ?? null;
  }
  /** @param {((event: Event) => void) | null} handler */
  set onopen(handler) {
    this.#handle("open", handler);
  }
  /** @returns {((event: Event) => void) | null} */
  get onerror() {
    return this.#handlers.get("error") ?? null;
  }
  /** @param {((event: Event) => void) | null} handler */
  set onerror(handler) {
    this.#handle("error", handler);
  }
  /** @returns {((event: MessageEvent<string>) => void) | null} */
  get onmessage() {
    return this.#handlers.get("message") ?? null;
  }
  /** @param {((event: MessageEvent<string>) => void) | null} handler */
  set onmessage(handler) {
    this.#handle("message", handler);
  }

  /**
   * @param {string} type
   * @param {((event: any) => void) | null} handler
   */
  #handle(type, handler) {
    if (!this.#handlers.has(type)) {
      this.addEventListener(type, (event) => this.#handlers.get(type)?.call(this, event));
    }
    this.#handlers.set(type, typeof handler === "function" ? handler : null);
  }

  #closed() {
    return this.readyState === EventStream.CLOSED;
  }

  // Ends the stream for good, once; `false` when it had already ended.
  /** @param {Stop} stop */
  #stop(stop) {
    if (this.#closed()) return false;
    this.readyState = EventStream.CLOSED;
    clearTimeout(this.#timer);
    if (this.#onAbort !== null) this.#init.signal?.removeEventListener("abort", this.#onAbort);
    // A response `onStop` may read is not aborted: only a connection
    // being read (or made) is.
    if (!("response" in stop)) this.#abort?.abort();
    this.#tell(stop);
    return true;
  }

  /** @param {Stop} stop */
  #tell(stop) {
    try {
      this.#init.onStop?.(stop);
    } catch (error) {
      rethrow(error);
    }
  }

  // Stops for a reason of the server's (or of `reconnect`'s): an `error`
  // event, with `readyState` CLOSED, as `EventSource` fails a connection.
  /** @param {Stop} stop */
  #fail(stop) {
    if (!this.#stop(stop)) return;
    this.dispatchEvent(new Event("error"));
    if ("response" in stop && !stop.response.bodyUsed) stop.response.body?.cancel().catch(() => {});
  }

  async #connect() {
    if (this.#closed()) return;
    const abort = (this.#abort = new AbortController());
    const { url, method, body } = this.#request;
    let response;
    try {
      const headers = new Headers(this.#request.headers);
      if (!headers.has("accept")) headers.set("accept", "text/event-stream");
      // The stream's own id, or none: never one a `reconnect` gave.
      headers.delete("last-event-id");
      if (this.lastEventId !== "") headers.set("last-event-id", utf8(this.lastEventId));
      response = await (this.#init.fetch ?? fetch)(url, {
        method,
        headers,
        body,
        cache: "no-store",
        credentials: this.withCredentials ? "include" : "same-origin",
        signal: abort.signal,
      });
    } catch {
      return this.#reconnect();
    }
    if (this.#closed()) {
      response.body?.cancel().catch(() => {});
      return;
    }
    this.response = response;
    const type = response.headers.get("content-type") ?? "";
    if (response.status === 204) return this.#fail({ reason: "no-content", response });
    if (!response.ok) return this.#fail({ reason: "status", response });
    if (!/^text\/event-stream\s*(;|$)/i.test(type) || response.body === null) {
      return this.#fail({ reason: "not-event-stream", response });
    }
    this.readyState = EventStream.OPEN;
    this.dispatchEvent(new Event("open"));
    try {
      await this.#read(response.body);
    } catch {
      // A network error or `close()`: the same as the end of the stream.
    }
    this.#reconnect();
  }

  #reconnect() {
    if (this.#closed()) return;
    this.readyState = EventStream.CONNECTING;
    this.dispatchEvent(new Event("error"));
    if (this.#closed()) return;
    // Each stream adds its own random part, so that streams cut together
    // (a server restarting) do not come back together.
    const delay = Math.min(this.#retry + Math.random() * this.#jitter, LONGEST_DELAY);
    this.#timer = setTimeout(() => this.#again(), delay);
  }

  async #again() {
    const reconnect = this.#init.reconnect;
    if (reconnect !== undefined) {
      let next;
      try {
        next = await reconnect(this);
        if (this.#closed()) return;
        if (next === null) return this.#fail({ reason: "not-reconnecting" });
        if (next !== undefined) this.#request = nextRequest(this.#request, next);
      } catch (error) {
        return this.#fail({ reason: "request-error", error });
      }
      this.url = this.#request.url;
    }
    this.#connect();
  }

  /** @param {ReadableStream<Uint8Array>} body */
  async #read(body) {
    const reader = body.getReader();
    // UTF-8, one leading byte order mark dropped, as the standard says.
    const decoder = new TextDecoder();
    const event = { type: "", data: "", id: this.lastEventId };
    const lineEnd = /[\r\n]/g;
    let text = "";
    // A CR ended the last chunk: an LF first in the next one is its CRLF.
    let afterCR = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
      if (text === "") continue;
      let start = afterCR && text[0] === "\n" ? 1 : 0;
      afterCR = false;
      for (;;) {
        lineEnd.lastIndex = start;
        const found = lineEnd.exec(text);
        if (found === null) break;
        const at = found.index;
        this.#line(text.slice(start, at), event);
        start = at + 1;
        if (text[at] === "\r") {
          if (start === text.length) afterCR = true;
          else if (text[start] === "\n") start += 1;
        }
      }
      text = text.slice(start);
    }
  }

  /**
   * @param {string} line
   * @param {{ type: string, data: string, id: string }} event
   */
  #line(line, event) {
    if (line === "") return this.#dispatch(event);
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event.type = value;
    else if (field === "data") event.data += value + "\n";
    else if (field === "id" && !value.includes("\0")) event.id = value;
    // A delay longer than a timer can wait is the longest it can (a timer
    // given more fires at once; the browser's `EventSource` waits).
    else if (field === "retry" && /^[0-9]+$/.test(value)) this.#retry = Math.min(Number(value), LONGEST_DELAY);
  }

  /** @param {{ type: string, data: string, id: string }} event */
  #dispatch(event) {
    this.lastEventId = event.id;
    const { type, data } = event;
    event.type = "";
    event.data = "";
    if (data === "" || this.#closed()) return;
    const message = new MessageEvent(type === "" ? "message" : type, {
      data: data.slice(0, -1),
      lastEventId: event.id,
      origin: new URL(this.url).origin,
    });
    this.dispatchEvent(message);
    for (const every of this[EVERY_EVENT]) {
      try {
        every(message);
      } catch (error) {
        rethrow(error);
      }
    }
  }
}
