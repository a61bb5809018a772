"""Asks the llm example for one chat completion with the official `openai`
Python package and prints what it assembled, as JSON.

usage: python3 client.py BASE_URL PROMPT [--max-chunks N] [--params JSON]

By default it streams, with `stream_options.include_usage`. `--params` is a
JSON object of request parameters, passed to `create` as keyword arguments
(so they go through the SDK's own types), over those defaults; its key
`extra_body` is passed as `extra_body`, for fields the SDK does not know.
With `--max-chunks`, it stops after that many chunks.

It prints `text` and `finish_reason` (of choice 0), `choices` (each
choice's text and finish reason, by index), `usage`, `chunks` (how many
were read), `arrivals` (when each chunk was read, in milliseconds since
the request), and `error`: the class of what the SDK raised, with its
message, HTTP status, `param`, `code` and `type`.

`--params` may also be a JSON array of such objects: it then makes one
request for each, in order, and prints an array of results (one process
start for many requests).
"""
import argparse
import json
import time

import openai

parser = argparse.ArgumentParser()
parser.add_argument("base_url")
parser.add_argument("prompt")
parser.add_argument("--max-chunks", type=int)
parser.add_argument("--params", type=json.loads, default={})
args = parser.parse_args()

client = openai.OpenAI(base_url=args.base_url, api_key="not-needed", max_retries=0)


def ask(params):
    params = dict(params)
    params.setdefault("stream", True)
    if params["stream"]:
        params.setdefault("stream_options", {"include_usage": True})
    choices = {}
    result = {"text": "", "finish_reason": None, "choices": [], "usage": None, "chunks": 0, "arrivals": [], "error": None}
    started = time.monotonic()

    def choice(index):
        return choices.setdefault(index, {"text": "", "finish_reason": None})

    try:
        response = client.chat.completions.create(
            model="sse-demo",
            messages=[{"role": "user", "content": args.prompt}],
            **params,
        )
        if params["stream"]:
            for chunk in response:
                result["chunks"] += 1
                result["arrivals"].append((time.monotonic() - started) * 1000)
                for part in chunk.choices:
                    choice(part.index)["text"] += part.delta.content or ""
                    if part.finish_reason is not None:
                        choice(part.index)["finish_reason"] = part.finish_reason
                if chunk.usage is not None:
                    result["usage"] = chunk.usage.model_dump()
                if result["chunks"] == args.max_chunks:
                    break
            response.close()
        else:
            for part in response.choices:
                choice(part.index).update(text=part.message.content, finish_reason=part.finish_reason)
            result["usage"] = response.usage.model_dump()
    except openai.APIError as error:
        result["error"] = {
            "type": type(error).__name__,
            "message": error.message,
            "status": getattr(error, "status_code", None),
            "param": error.param,
            "code": error.code,
            "error_type": error.type,
        }
    result["choices"] = [choices[index] for index in sorted(choices)]
    if 0 in choices:
        result["text"] = choices[0]["text"]
        result["finish_reason"] = choices[0]["finish_reason"]
    return result


if isinstance(args.params, list):
    print(json.dumps([ask(params) for params in args.params]))
else:
    print(json.dumps(ask(args.params)))
