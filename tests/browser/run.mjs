// Drives the demo page in headless Chromium (playwright-core, pointed at
// the system's /usr/bin/chromium) and reads the same routes with undici's
// EventSource, a spec-following client we did not write. Prints one JSON
// object; tests/browser.rs makes the assertions.
//
// usage: node run.mjs DEMO_URL SCREENSHOT_PATH CHAT_URL CHAT_SCREENSHOT_PATH LLM_URL ROOM_TOKEN PRIVATE_URL LLM_CUT_URL
// (ROOM_TOKEN: a token for the chat's private room `secret`)
import { chromium } from "playwright-core";
import { EventSource } from "undici";

const [base, screenshot, chatBase, chatScreenshot, llmBase, roomToken, privateBase, llmCutBase] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

function launch() {
  return chromium.launch({
    executablePath,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

// Two chat windows: what one sends appears live in both, with the hub's id;
// a third window opened afterwards sees the recent messages first. The page
// reads its events through the client generated from the Rust `ChatEvent`.
async function chatInBrowser() {
  const browser = await launch();
  const errors = [];
  try {
    async function open() {
      const page = await browser.newPage();
      page.on("pageerror", (error) => errors.push(String(error)));
      await page.goto(`${chatBase}/`);
      await page.waitForFunction(() => document.body.dataset.state === "open", null, { timeout: 10000 });
      return page;
    }
    const [a, b] = [await open(), await open()];
    async function send(page, user, text) {
      await page.fill("input[name=user]", user);
      await page.fill("input[name=text]", text);
      await page.click("#send button");
    }
    const messages = (page, count) => page.waitForFunction(
      (count) => document.querySelectorAll("#log li.message").length === count, count, { timeout: 10000 });
    const lines = (page) => page.evaluate(() => [...document.querySelectorAll("#log li.message")].map((li) => ({
      id: li.dataset.id, user: li.querySelector(".user").textContent, text: li.querySelector(".text").textContent,
    })));
    const notices = (page) => page.evaluate(() => [...document.querySelectorAll("#log li.notice")].map((li) =>
      `${li.querySelector(".user").textContent} ${li.querySelector(".text").textContent}`));
    await send(a, "alice", "hello from A");
    await messages(b, 1);
    await send(b, "bob", "hi <b>A</b>");
    for (const page of [a, b]) await messages(page, 2);
    const newcomer = await open();
    await messages(newcomer, 2);
    await a.screenshot({ path: chatScreenshot });
    return { a: await lines(a), b: await lines(b), newcomer: await lines(newcomer), noticesA: await notices(a), errors };
  } finally {
    await browser.close();
  }
}

// The chat's private room `secret`: a page with a token for it (in its
// fragment) reads and posts there; a page without one is refused and its
// EventSource closes; the public room shows nothing of it.
async function privateRoomInBrowser() {
  const browser = await launch();
  const errors = [];
  try {
    async function open(path, state) {
      const page = await browser.newPage();
      page.on("pageerror", (error) => errors.push(String(error)));
      await page.goto(`${chatBase}${path}`);
      await page.waitForFunction((state) => document.body.dataset.state === state, state, { timeout: 10000 });
      return page;
    }
    const texts = (page) => page.evaluate(() =>
      [...document.querySelectorAll("#log li.message .text")].map((span) => span.textContent));
    const member = await open(`/?room=secret#access_token=${roomToken}`, "open");
    await member.fill("input[name=text]", "only for the room");
    await member.click("#send button");
    await member.waitForFunction(() => document.querySelectorAll("#log li.message").length === 1, null, { timeout: 10000 });
    const outsider = await open("/?room=secret", "closed");
    const publicRoom = await open("/", "open");
    // What the public page would show of the private room has had time to arrive.
    await publicRoom.waitForTimeout(300);
    return { member: await texts(member), outsider: await texts(outsider), public: await texts(publicRoom), errors };
  } finally {
    await browser.close();
  }
}

// The llm page: ask, reload while the answer streams, and read the answer
// once it is done. What the page had kept when it reloaded (the run's id
// and its last event id) is read as the new page starts.
async function llmInBrowser() {
  const browser = await launch();
  const errors = [];
  try {
    const page = await browser.newPage();
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(`${llmBase}/`);
    await page.click("#ask button");
    await page.waitForFunction(() => document.getElementById("answer").textContent.split(" ").length > 8, null, { timeout: 10000 });
    const beforeReload = await page.evaluate(() => document.getElementById("answer").textContent);
    await page.addInitScript(() => {
      window.savedAtLoad = sessionStorage.getItem("sse-runtime-llm");
    });
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.state === "done", null, { timeout: 20000 });
    const text = await page.evaluate(() => document.getElementById("answer").textContent);
    const saved = JSON.parse(await page.evaluate(() => window.savedAtLoad));
    return { before_reload: beforeReload, text, errors, runId: saved.id, lastEventIdBeforeReload: saved.lastEventId };
  } finally {
    await browser.close();
  }
}

// The llm page against a server that cuts the answer to the POST short:
// ask, and read the answer once it is done.
async function llmCutInBrowser() {
  const browser = await launch();
  const errors = [];
  try {
    const page = await browser.newPage();
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(`${llmCutBase}/`);
    await page.click("#ask button");
    await page.waitForFunction(() => ["done", "failed", "closed"].includes(document.body.dataset.state), null, { timeout: 20000 });
    const text = await page.evaluate(() => document.getElementById("answer").textContent);
    return { text, state: await page.evaluate(() => document.body.dataset.state), errors };
  } finally {
    await browser.close();
  }
}

// The fetch transport (`EventStream`, loaded by the page) against streams
// that need an `Authorization` header: without it, with it across the
// server closing the stream, aborted, and a 204.
async function privateInBrowser() {
  const browser = await launch();
  const errors = [];
  try {
    const page = await browser.newPage();
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(`${privateBase}/`);
    await page.waitForFunction(() => document.body.dataset.ready === "yes", null, { timeout: 10000 });
    const result = await page.evaluate(async (token) => {
      const { EventStream } = window;
      const headers = { authorization: token };
      const unauthorized = await new Promise((resolve) => {
        new EventStream("/private", {
          onStop: (stop) => {
            if (stop.reason !== "status") return resolve({ reason: stop.reason });
            const status = stop.response.status;
            stop.response.text().then((body) => resolve({ reason: stop.reason, status, body }));
          },
        });
      });
      const authorized = await new Promise((resolve) => {
        const events = [];
        const waits = [];
        let ended = null;
        const stream = new EventStream("/private", {
          headers,
          retryJitter: 500,
          onStop: (stop) => resolve({ events, waits, reason: stop.reason }),
        });
        stream.onmessage = (event) => events.push({ data: event.data, id: event.lastEventId });
        stream.onerror = () => {
          if (stream.readyState === EventStream.CONNECTING) ended = performance.now();
        };
        stream.onopen = () => {
          if (ended !== null) waits.push(performance.now() - ended);
          ended = null;
        };
      });
      const aborted = await new Promise((resolve) => {
        const controller = new AbortController();
        let events = 0;
        const stream = new EventStream("/forever", {
          headers,
          signal: controller.signal,
          onStop: (stop) => resolve({ reason: stop.reason, cause: stop.cause, events }),
        });
        stream.onmessage = () => {
          events += 1;
          controller.abort("enough");
        };
      });
      const noContent = await new Promise((resolve) => {
        const stream = new EventStream("/done", {
          headers,
          onStop: (stop) => resolve({ reason: stop.reason, readyState: stream.readyState }),
        });
      });
      return { unauthorized, authorized, aborted, noContent };
    }, "Bearer s3cret");
    // The server notices the aborted stream at its next write.
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { ...result, errors };
  } finally {
    await browser.close();
  }
}

async function inBrowser() {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors = [];
    page.on("pageerror", (error) => consoleErrors.push(String(error)));
    // Updates every 100 ms; the first connection is dropped after id 3 and
    // the browser must come back after the 4000 ms `retry` (longer than
    // Chromium's own 3 s default, so honouring it shows) with
    // Last-Event-ID: 3.
    await page.goto(`${base}/?interval_ms=100&drop_after=3&retry_ms=4000`);
    await page.waitForFunction(
      () => ["events", "updates", "process"].every((id) => document.getElementById(id).dataset.state === "closed")
        && window.sseLog.filter((e) => e.panel === "clock").length >= 3,
      null,
      { timeout: 30000 },
    );
    await page.click("#echo button");
    await page.waitForFunction(() => document.getElementById("echo").dataset.state === "closed", null, { timeout: 10000 });
    const result = await page.evaluate(() => ({
      log: window.sseLog,
      states: window.sseStates,
      dom: {
        updatesCount: document.querySelector('#updates [data-field="count"]').textContent,
        updatesLastId: document.querySelector('#updates [data-field="last-id"]').textContent,
        clock: document.querySelector('#clock [data-field="time"]').textContent,
        events: [...document.querySelectorAll("#events .log li")].map((li) => li.textContent),
        process: [...document.querySelectorAll("#process .log li")].map((li) => li.textContent),
        echo: [...document.querySelectorAll("#echo .log li")].map((li) => li.textContent),
        notifications: document.getElementById("notifications").dataset.state,
      },
    }));
    await page.screenshot({ path: screenshot, fullPage: true });
    return { ...result, consoleErrors };
  } finally {
    await browser.close();
  }
}

// Reads `count` events of the given types from `url`, following the
// EventSource's own reconnection; returns what it saw.
function withUndici(url, types, count, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const source = new EventSource(url);
    const seen = [];
    const timer = setTimeout(() => { source.close(); reject(new Error(`undici: timed out on ${url} with ${JSON.stringify(seen)}`)); }, timeoutMs);
    for (const type of types) {
      source.addEventListener(type, (event) => {
        seen.push({ type: event.type, data: event.data, lastEventId: event.lastEventId });
        if (seen.length === count) { clearTimeout(timer); source.close(); resolve(seen); }
      });
    }
  });
}

const browser = await inBrowser();
const chat = await chatInBrowser();
const privateRoom = await privateRoomInBrowser();
const llm = await llmInBrowser();
const privateStreams = await privateInBrowser();
const llmCut = await llmCutInBrowser();
const undici = {
  events: await withUndici(`${base}/events`, ["message", "greeting"], 2),
  updates: await withUndici(`${base}/updates?interval_ms=50&drop_after=3&retry_ms=300`, ["update"], 10),
  echo: await withUndici(`${base}/echo?data=a%0D%0Ab&event=e&id=7`, ["e"], 1),
  refused: await withUndici(`${base}/echo?data=x&event=bad%0Aname`, ["error"], 1),
};
console.log(JSON.stringify({ browser, chat, privateRoom, llm, llmCut, private: privateStreams, undici }));
