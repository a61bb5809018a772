// Streams one chat completion from the llm example with the official
// `openai` npm package and prints what it assembled, as JSON.
//
// usage: node client.mjs BASE_URL PROMPT
import OpenAI from "openai";

const [baseURL, prompt] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "not-needed", maxRetries: 0 });
const result = { text: "", finish_reason: null, usage: null, chunks: 0, error: null };
try {
  const stream = await client.chat.completions.create({
    model: "sse-demo",
    messages: [{ role: "user", content: prompt }],
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    result.chunks += 1;
    for (const choice of chunk.choices) {
      result.text += choice.delta?.content ?? "";
      if (choice.finish_reason !== null) result.finish_reason = choice.finish_reason;
    }
    if (chunk.usage) result.usage = chunk.usage;
  }
} catch (error) {
  result.error = { type: error.constructor.name, message: error.message };
}
console.log(JSON.stringify(result));
