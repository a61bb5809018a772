"""Streams one chat completion from the llm example with the official
`openai` Python package and prints what it assembled, as JSON.

usage: python3 client.py BASE_URL PROMPT [MAX_CHUNKS]

With MAX_CHUNKS, it stops after that many chunks.
"""
import json
import sys

import openai

base_url, prompt = sys.argv[1], sys.argv[2]
max_chunks = int(sys.argv[3]) if len(sys.argv) > 3 else None
client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0)
result = {"text": "", "finish_reason": None, "usage": None, "chunks": 0, "error": None}
try:
    stream = client.chat.completions.create(
        model="sse-demo",
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        result["chunks"] += 1
        for choice in chunk.choices:
            result["text"] += choice.delta.content or ""
            if choice.finish_reason is not None:
                result["finish_reason"] = choice.finish_reason
        if chunk.usage is not None:
            result["usage"] = chunk.usage.model_dump()
        if result["chunks"] == max_chunks:
            break
except openai.APIError as error:
    result["error"] = {"type": type(error).__name__, "message": error.message}
print(json.dumps(result))
