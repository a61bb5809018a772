// Asks the llm example for one chat completion with the official `openai`
// npm package and prints what it assembled, as JSON.
//
// usage: node openai-client.mjs BASE_URL PROMPT [--max-chunks N] [--params JSON]
//
// The same arguments and output as tests/llm/client.py: by default it
// streams with `stream_options.include_usage`; `--params` is a JSON object
// of request parameters over those defaults (its key `extra_body` is merged
// into the body, as the Python package does); it prints `text` and
// `finish_reason` (of choice 0), `choices`, `usage`, `chunks`, `arrivals`
// (when each chunk was read, in ms since the request), and `error`
// (the class of what the SDK threw, with its message, status, param, code
// and type). `--params` may also be a JSON array of such objects: one
// request for each, in order, and an array of results.
import OpenAI from "openai";

const [baseURL, prompt, ...rest] = process.argv.slice(2);
let maxChunks = null;
let params = {};
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i] === "--max-chunks") maxChunks = Number(rest[i + 1]);
  else if (rest[i] === "--params") params = JSON.parse(rest[i + 1]);
  else throw new Error(`unknown argument ${rest[i]}`);
}
const client = new OpenAI({ baseURL, apiKey: "not-needed", maxRetries: 0 });

async function ask(params) {
  const { extra_body: extraBody, ...given } = params;
  const body = {
    model: "sse-demo",
    messages: [{ role: "user", content: prompt }],
    stream: true,
    ...given,
    ...extraBody,
  };
  if (body.stream && !("stream_options" in body)) body.stream_options = { include_usage: true };
  const choices = new Map();
  const choice = (index) => {
    if (!choices.has(index)) choices.set(index, { text: "", finish_reason: null });
    return choices.get(index);
  };
  const result = { text: "", finish_reason: null, choices: [], usage: null, chunks: 0, arrivals: [], error: null };
  const started = performance.now();
  try {
    const response = await client.chat.completions.create(body);
    if (body.stream) {
      for await (const chunk of response) {
        result.chunks += 1;
        result.arrivals.push(performance.now() - started);
        for (const part of chunk.choices) {
          choice(part.index).text += part.delta?.content ?? "";
          if (part.finish_reason !== null) choice(part.index).finish_reason = part.finish_reason;
        }
        if (chunk.usage) result.usage = chunk.usage;
        if (result.chunks === maxChunks) break;
      }
    } else {
      for (const part of response.choices) {
        Object.assign(choice(part.index), { text: part.message.content, finish_reason: part.finish_reason });
      }
      result.usage = response.usage;
    }
  } catch (error) {
    if (!(error instanceof OpenAI.APIError)) throw error;
    result.error = {
      type: error.constructor.name,
      message: error.message,
      status: error.status ?? null,
      param: error.param ?? null,
      code: error.code ?? null,
      error_type: error.type ?? null,
    };
  }
  result.choices = [...choices.keys()].sort((a, b) => a - b).map((index) => choices.get(index));
  if (choices.has(0)) Object.assign(result, { text: choices.get(0).text, finish_reason: choices.get(0).finish_reason });
  return result;
}

const results = [];
for (const one of Array.isArray(params) ? params : [params]) results.push(await ask(one));
console.log(JSON.stringify(Array.isArray(params) ? results : results[0]));
