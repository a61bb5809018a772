// Drives `EventStream` (the generated fetch transport) in Node through a
// fake `fetch` (its `fetch` option), with timers that fire at once and
// record their delays, and `Math.random` under the script's control.
// Prints one JSON object; tests/typescript.rs makes the assertions.
//
// usage: node transport.mjs DIR   (DIR holds event-stream.mjs and events.mjs)
const [dir] = process.argv.slice(2);
const { EventStream } = await import(`${dir}/event-stream.mjs`);
const { typed } = await import(`${dir}/events.mjs`);

const realSetTimeout = globalThis.setTimeout;
realSetTimeout(() => {
  console.log(JSON.stringify({ timedOut: true }));
  process.exit(1);
}, 20000).unref();

// Timers: each delay asked for is recorded, and the timer fires at once.
/** @type {number[]} */
let delays = [];
globalThis.setTimeout = /** @type {any} */ ((fn, delay) => {
  delays.push(delay);
  return realSetTimeout(fn, 0);
});
// `Math.random`: the next values given, then 0.
/** @type {number[]} */
let randoms = [];
Math.random = () => randoms.shift() ?? 0;

const thrown = [];
process.on("uncaughtException", (error) => thrown.push(String(error?.message ?? error)));

const encoder = new TextEncoder();
const idle = () => new Promise((resolve) => setImmediate(resolve));
async function until(predicate, what) {
  for (let i = 0; i < 20000; i++) {
    if (predicate()) return;
    await idle();
  }
  throw new Error(`never happened: ${what}`);
}

// A body of these chunks (strings or bytes); it stays open after them when
// `open`, until the request is aborted, as a real one does.
function body(chunks, { open = false, signal } = {}) {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      if (!open) controller.close();
      signal?.addEventListener("abort", () => controller.error(new DOMException("aborted", "AbortError")));
    },
  });
}
const SSE = { "content-type": "text/event-stream" };
const sse = (chunks, init = {}, options = {}) => new Response(body(chunks, options), { status: 200, headers: SSE, ...init });

// A fake server: `answer(request, n)` answers the n-th request (from 0).
function server(answer) {
  const requests = [];
  const fetch = async (url, init) => {
    const headers = Object.fromEntries(new Headers(init.headers));
    const request = { url, method: init.method, headers, body: init.body ?? null, signal: init.signal };
    requests.push(request);
    return answer(request, requests.length - 1);
  };
  return { fetch, requests, seen: () => requests.map(({ signal, ...rest }) => rest) };
}

// Every event of `stream`, as [type, data, lastEventId], and its
// connection's own events with the `readyState` they came with.
function record(stream) {
  const log = { events: [], states: [], stops: [] };
  for (const type of ["message", "a", "open", "error", "item", "removed"]) {
    stream.addEventListener(type, (event) => {
      if (event instanceof MessageEvent) log.events.push([event.type, event.data, event.lastEventId]);
      else log.states.push([event.type, stream.readyState]);
    });
  }
  return log;
}

const result = {};

// 1. Parsing, as `EventSource` parses: the same events whether the bytes
// come whole, split in two at every place, or one by one.
{
  const text =
    "\uFEFFretry: 7\r\n: a comment\r\nid: 1\r\nevent: a\r\ndata: x\r\ndata:  y\r\n\r\n" +
    "id: bad\0id\ndata: 2\n\n" +
    "retry: 1x\nretry: -5\nretry\ndata\n\n" +
    "event: empty\n\n" +
    "data: é日本\rid\r\r" +
    "data: incomplete";
  const bytes = encoder.encode(text);
  async function read(chunks) {
    delays = [];
    const fake = server((request, n) => (n === 0 ? sse(chunks) : new Response(null, { status: 204 })));
    let stopped = null;
    const stream = new EventStream("http://fake/", { fetch: fake.fetch, retryJitter: 0, onStop: (stop) => (stopped = stop.reason) });
    const log = record(stream);
    await until(() => stopped !== null, "the parse's stop");
    return { events: log.events, lastEventId: stream.lastEventId, delays, requests: fake.seen().map((r) => r.headers["last-event-id"] ?? null) };
  }
  const whole = await read([bytes]);
  const splits = [];
  for (let at = 0; at <= bytes.length; at++) splits.push([bytes.slice(0, at), bytes.slice(at)]);
  splits.push([...bytes].map((byte) => new Uint8Array([byte])));
  let differ = 0;
  for (const chunks of splits) {
    const got = await read(chunks);
    if (JSON.stringify(got) !== JSON.stringify(whole)) differ += 1;
  }
  // One leading byte order mark is dropped; a second is part of a field's name.
  const twice = await read(["\uFEFF\uFEFFdata: z\n\ndata: w\n\n"]);
  result.parse = { whole, splits: splits.length, differ, twice: twice.events };
}

// 2. Reconnection: `retry` plus a random part of `retryJitter`.
{
  async function reconnections(init, randomValues, retry = "100", count = 3) {
    delays = [];
    randoms = [...randomValues];
    const fake = server(() => sse([`retry: ${retry}\n\n`]));
    const stream = new EventStream("http://fake/", { fetch: fake.fetch, ...init });
    await until(() => fake.requests.length > count, "reconnections");
    stream.close();
    return delays.slice(0, count);
  }
  result.jitter = {
    window: await reconnections({ retryJitter: 400 }, [0, 0.5, 0.999]),
    defaultWindow: await reconnections({}, [0.5, 0, 0.999]),
    none: await reconnections({ retryJitter: 0 }, [0.5, 0.5, 0.5]),
    negative: await reconnections({ retryJitter: -5 }, [0.5]),
    notANumber: await reconnections({ retryJitter: Number.NaN }, [0.5]),
    longest: await reconnections({ retryJitter: 1000 }, [0.9], "99999999999", 1),
    beforeRetry: (await reconnections({ retryJitter: 10 }, [0.5], "", 1)),
  };
}

// 3. Responses that stop it: a 204, a status that is not 2xx, a 2xx that is
// not an event stream. Each is one request, one `onStop`, and an `error`
// event with `readyState` CLOSED; `onStop` may read the response's body.
{
  async function stopsOn(response) {
    const fake = server(() => response);
    const stops = [];
    const stream = new EventStream("http://fake/", {
      fetch: fake.fetch,
      onStop: (stop) => {
        stops.push(stop.reason);
        if (stop.response && stop.response.status === 500) stop.response.text().then((text) => stops.push(text));
      },
    });
    const log = record(stream);
    await until(() => stops.length > 0, "a stop");
    await new Promise((resolve) => realSetTimeout(resolve, 20));
    return { stops, states: log.states, requests: fake.requests.length, readyState: stream.readyState };
  }
  result.stops = {
    noContent: await stopsOn(new Response(null, { status: 204 })),
    status: await stopsOn(new Response("oops", { status: 500 })),
    unauthorized: await stopsOn(new Response("who?", { status: 401, headers: SSE })),
    plain: await stopsOn(new Response("text", { status: 200, headers: { "content-type": "text/plain" } })),
    noBody: await stopsOn(new Response(null, { status: 200, headers: SSE })),
  };
  // A 2xx other than 200 that is an event stream is read.
  const fake = server((request, n) => (n === 0 ? sse(["data: created\n\n"], { status: 201 }) : new Response(null, { status: 204 })));
  let stopped = null;
  const stream = new EventStream("http://fake/", { fetch: fake.fetch, onStop: (stop) => (stopped = stop.reason) });
  const log = record(stream);
  await until(() => stopped !== null, "the 201's stop");
  result.stops.created = { events: log.events, stopped };
}

// 4. Aborting: while reading, while waiting to reconnect, before it starts;
// and `close()`. `onStop` hears each once; no `error` event.
{
  const controller = new AbortController();
  const fake = server((request) => sse(["id: 1\ndata: one\n\n"], {}, { open: true, signal: request.signal }));
  const stops = [];
  const stream = new EventStream("http://fake/", { fetch: fake.fetch, signal: controller.signal, onStop: (stop) => stops.push(stop) });
  const log = record(stream);
  await until(() => log.events.length === 1, "the first event");
  controller.abort("bye");
  controller.abort("again");
  stream.close();
  await new Promise((resolve) => realSetTimeout(resolve, 20));
  result.abortWhileReading = {
    stops: stops.map((stop) => [stop.reason, stop.cause ?? null]),
    states: log.states,
    readyState: stream.readyState,
    requestAborted: fake.requests[0].signal.aborted,
    requests: fake.requests.length,
  };
}
{
  const controller = new AbortController();
  const fake = server(() => sse(["retry: 200\ndata: one\n\n"]));
  const stops = [];
  // Real timers here: the abort lands while it waits.
  globalThis.setTimeout = realSetTimeout;
  const stream = new EventStream("http://fake/", { fetch: fake.fetch, signal: controller.signal, retryJitter: 0, onStop: (stop) => stops.push(stop.reason) });
  stream.onerror = () => realSetTimeout(() => controller.abort(), 20);
  await new Promise((resolve) => realSetTimeout(resolve, 500));
  result.abortWhileWaiting = { stops, requests: fake.requests.length, readyState: stream.readyState };
  globalThis.setTimeout = /** @type {any} */ ((fn, delay) => {
    delays.push(delay);
    return realSetTimeout(fn, 0);
  });
}
{
  const fake = server(() => sse(["data: one\n\n"]));
  const stops = [];
  const stream = new EventStream("http://fake/", { fetch: fake.fetch, signal: AbortSignal.abort("before"), onStop: (stop) => stops.push([stop.reason, stop.cause]) });
  const synchronously = stops.length;
  await new Promise((resolve) => realSetTimeout(resolve, 20));
  result.abortedBefore = { synchronously, stops, requests: fake.requests.length, readyState: stream.readyState };
}
{
  const fake = server((request) => sse(["data: one\n\n"], {}, { open: true, signal: request.signal }));
  const stops = [];
  const stream = new EventStream("http://fake/", { fetch: fake.fetch, onStop: (stop) => stops.push(stop.reason) });
  const log = record(stream);
  await until(() => log.events.length === 1, "the event");
  stream.close();
  stream.close();
  await new Promise((resolve) => realSetTimeout(resolve, 20));
  result.close = { stops, states: log.states, requestAborted: fake.requests[0].signal.aborted, requests: fake.requests.length };
}

// 5. `reconnect`: a POST resumed with a GET (its body dropped), the id it
// had, headers replaced, then no more; a hook that throws or asks for a
// request that cannot be sent stops it.
{
  const fake = server((request, n) =>
    sse([`retry: 5\nid: ${n + 1}\ndata: ${n}\n\n`], { headers: { ...SSE, "x-run-id": "run-1" } }),
  );
  const stops = [];
  const seen = [];
  const stream = new EventStream("http://fake/start", {
    fetch: fake.fetch,
    method: "POST",
    headers: { authorization: "Bearer one", "content-type": "application/json" },
    body: '{"ask":1}',
    lastEventId: "0",
    reconnect: async (previous) => {
      seen.push([previous.url, previous.lastEventId, previous.response?.headers.get("x-run-id") ?? null]);
      if (seen.length === 1) return { url: "http://fake/runs/run-1", method: "GET" };
      if (seen.length === 2) return { headers: { authorization: "Bearer two" } };
      if (seen.length === 3) return undefined;
      return null;
    },
    onStop: (stop) => stops.push(stop.reason),
  });
  const log = record(stream);
  await until(() => stops.length > 0, "the hook's stop");
  result.reconnect = { requests: fake.seen(), seen, stops, states: log.states.slice(-1), url: stream.url };
}
{
  const errors = [];
  for (const hook of [
    () => {
      throw new Error("no token");
    },
    () => ({ headers: { "bad header": "x" } }),
    () => ({ method: "GET", body: "a body" }),
  ]) {
    const fake = server(() => sse(["data: one\n\n"]));
    let stop = null;
    new EventStream("http://fake/", { fetch: fake.fetch, reconnect: hook, onStop: (s) => (stop = s) });
    await until(() => stop !== null, "the hook's error");
    errors.push([stop.reason, stop.error?.name ?? null, fake.requests.length]);
  }
  result.reconnectErrors = errors;
}

// 6. Requests `fetch` could never send are refused when it is made.
{
  const refused = [];
  for (const [url, init] of [
    ["http://fake/", { body: "a body" }],
    ["http://fake/", { headers: { "bad header": "x" } }],
    ["/relative", {}],
    ["http://fake/", { lastEventId: "a\nb" }],
    ["http://fake/", { method: "CONNECT" }],
  ]) {
    try {
      new EventStream(url, { fetch: server(() => sse([])).fetch, ...init }).close();
      refused.push(null);
    } catch (error) {
      refused.push(error.name);
    }
  }
  result.refused = refused;
}

// 7. `typed` of a generated module hears an `EventStream` of another: every
// event, its unknown names included.
{
  const fake = server((request, n) =>
    n === 0 ? sse(["event: item\ndata: 1\n\nevent: removed\ndata: {}\n\n"]) : new Response(null, { status: 204 }),
  );
  let stopped = false;
  const stream = new EventStream("http://fake/", { fetch: fake.fetch, onStop: () => (stopped = true) });
  const got = [];
  typed(stream, { onUnknown: (event) => got.push(["unknown", event.type]) }).on("item", (n) => got.push(["item", n]));
  await until(() => stopped, "the typed stream's end");
  result.typed = got;
}

// 8. Hooks that throw are reported on their own; the stream goes on.
{
  const fake = server((request, n) => (n === 0 ? sse(["data: 1\n\n"]) : new Response(null, { status: 204 })));
  const stream = new EventStream("http://fake/", {
    fetch: fake.fetch,
    onStop: () => {
      throw new Error("the page's onStop");
    },
  });
  await until(() => stream.readyState === EventStream.CLOSED, "the end");
  await new Promise((resolve) => realSetTimeout(resolve, 20));
  result.thrown = thrown;
}

// 9. A `Last-Event-ID` in `headers` is where the stream starts, as
// `lastEventId` would be: after that the stream's own id is sent, and none
// once the server resets it with an empty `id`.
{
  const answers = ["id: 5\ndata: a\n\n", "id\ndata: b\n\n", "data: c\n\n"];
  const fake = server((request, n) => (n < answers.length ? sse([answers[n]]) : new Response(null, { status: 204 })));
  const stream = new EventStream("http://fake/", { fetch: fake.fetch, headers: { "Last-Event-ID": "3" }, retryJitter: 0 });
  const starting = stream.lastEventId;
  await until(() => stream.readyState === EventStream.CLOSED, "the 204");
  result.idInHeaders = { starting, sent: fake.requests.map((r) => r.headers["last-event-id"] ?? null) };
}

console.log(JSON.stringify(result));
process.exit(0);
