/**
 * An `EventSource` that reads the stream with `fetch`: the same parsing, events, `readyState`,
 * reconnection after the server's `retry` and `Last-Event-ID`; and, beyond it, any method, a body
 * and headers, an id to resume from, a random extra delay before each reconnection, a hook to
 * change the request when it reconnects, an `AbortSignal`, and a hook that says why it stopped.
 * With `typed`, it shows every event the server sends, whatever its name. On its own, it reads any
 * stream, typed or not (`onmessage`, `addEventListener(name, ..)`).
 */
export declare class EventStream extends globalThis.EventTarget {
  /**
   * Connects at once. Throws a `TypeError` for a request `fetch` could never send (a relative URL
   * without a page, a header name or value that is not one, a body on a GET), as `EventSource`
   * throws for a URL it cannot read.
   */
  constructor(url: string | globalThis.URL, init?: EventStream.Init);
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSED: 2;
  /** The URL of the latest request (`reconnect` may change it). */
  readonly url: string;
  readonly withCredentials: boolean;
  /** `EventStream.CONNECTING`, `OPEN` or `CLOSED`. */
  readonly readyState: 0 | 1 | 2;
  /** The id of the last event received: sent as `Last-Event-ID` when it reconnects. */
  readonly lastEventId: string;
  /** The latest response (its status and headers), once there is one: its body is the stream's. */
  readonly response: globalThis.Response | null;
  onopen: ((event: globalThis.Event) => void) | null;
  onerror: ((event: globalThis.Event) => void) | null;
  onmessage: ((event: globalThis.MessageEvent<string>) => void) | null;
  /** Ends the stream for good (`onStop` hears `{ reason: "closed" }`). */
  close(): void;
}

export declare namespace EventStream {
  /** How a stream is opened: `EventSource`'s `withCredentials`, and what `fetch` can do besides. */
  interface Init {
    /** `GET` unless given. */
    method?: string;
    /**
     * Sent with every request, besides `Accept: text/event-stream` (unless given) and `Last-Event-ID`.
     * A `Last-Event-ID` among them is the id to resume from (unless `lastEventId` is given), not a
     * header sent as it is: after it the stream sends its own id, and none once the server resets it.
     */
    headers?: globalThis.HeadersInit;
    /** Sent with every request (so not a stream, which can be read once). */
    body?: globalThis.XMLHttpRequestBodyInit | null;
    /** Cookies and HTTP authentication for another origin too, as `EventSource`'s. */
    withCredentials?: boolean;
    /** The id to resume from: sent as `Last-Event-ID` from the first request on. */
    lastEventId?: string;
    /**
     * Each reconnection waits the server's `retry` (3 s until it sends one) plus a random part of
     * this many milliseconds, so that streams cut together do not come back together. 1000 unless
     * given; 0 waits `retry` exactly, as `EventSource` does.
     */
    retryJitter?: number;
    /** Aborting it ends the stream for good (`onStop` hears `{ reason: "aborted", cause }`). */
    signal?: globalThis.AbortSignal;
    /**
     * Called before each reconnection, once its delay has passed: returns what changes in the
     * request (`undefined` or `{}`: nothing; a field not given is kept, except that a body is
     * dropped by a change to `GET` or `HEAD`), or `null` not to reconnect. A POST that started
     * work is resumed with a GET of it; a token is renewed. It may be async.
     */
    reconnect?: (
      stream: EventStream,
    ) => Next | null | undefined | globalThis.PromiseLike<Next | null | undefined>;
    /**
     * Called once when the stream ends for good, saying why. Read a response's body here, at
     * once, or it is cancelled. A stop that is not `closed` or `aborted` is also an `error`
     * event with `readyState` CLOSED, as `EventSource` fails a connection.
     */
    onStop?: (stop: Stop) => void;
    /** Makes the requests, in place of the global `fetch`. */
    fetch?: (url: string, init: globalThis.RequestInit) => globalThis.Promise<globalThis.Response>;
  }

  /** What a reconnection changes in the request; see `Init.reconnect`. */
  interface Next {
    url?: string | globalThis.URL;
    method?: string;
    /** The headers, in place of the previous ones (a `Last-Event-ID` among them is not sent: the stream sends its own). */
    headers?: globalThis.HeadersInit;
    body?: globalThis.XMLHttpRequestBodyInit | null;
  }

  /** Why a stream ended for good. */
  type Stop =
    /** `close()` was called. */
    | { reason: "closed" }
    /** The `signal` given aborted, for this reason. */
    | { reason: "aborted"; cause: unknown }
    /** A 204: the server has nothing more for this stream (a run that has ended, say). */
    | { reason: "no-content"; response: globalThis.Response }
    /** A status other than 2xx: 401, 403, 404, 500, ... */
    | { reason: "status"; response: globalThis.Response }
    /** A 2xx that is not `text/event-stream`. */
    | { reason: "not-event-stream"; response: globalThis.Response }
    /** `reconnect` returned `null`. */
    | { reason: "not-reconnecting" }
    /** `reconnect` threw, or asked for a request that cannot be sent. */
    | { reason: "request-error"; error: unknown };
}
