#!/usr/bin/env python3
"""Validate the bodies of OpenAI Batch API output lines with openai-python's own types.

Usage: python3 Tests/openai-shapes/check.py FILE.jsonl...

Each line of each file is a Batch API output line:
    {"id": ..., "custom_id": ..., "response": {"status_code": ..., "request_id": ..., "body": {...}}, "error": ...}
Every line whose status is 2xx has its body validated with the openai-python type its shape
names, via pydantic's `model_validate`, which fails on a missing required field or a field of
the wrong type:

    object "chat.completion"  -> openai.types.chat.ChatCompletion
    object "list"             -> openai.types.CreateEmbeddingResponse
    object "text_completion"  -> openai.types.Completion
    object "response"         -> openai.types.responses.Response
    a "results" member        -> openai.types.ModerationCreateResponse

An embedding sent as base64 (`encoding_format: "base64"`) is decoded to its floats first,
as openai-python does before it builds the type; a string that is not base64 of whole
little-endian float32s fails. Lines with another status, or with no response, are skipped
(and counted). The first failure
exits 1, naming file:line and the error; otherwise the counts per type are printed and the
exit status is 0. Needs openai-python (`pip install openai`).
"""

import array
import base64
import binascii
import json
import sys


def load_types():
    try:
        from openai.types import Completion, CreateEmbeddingResponse, ModerationCreateResponse
        from openai.types.chat import ChatCompletion
        from openai.types.responses import Response
    except ImportError as error:
        sys.exit(f"check.py: openai-python is not installed ({error}); pip install openai")
    return {
        "chat.completion": ChatCompletion,
        "list": CreateEmbeddingResponse,
        "text_completion": Completion,
        "response": Response,
        "moderation": ModerationCreateResponse,
    }


def type_name(body):
    """The key of the type that validates `body`, or None when its shape names none."""
    if not isinstance(body, dict):
        return None
    kind = body.get("object")
    if kind in ("chat.completion", "list", "text_completion", "response"):
        return kind
    if "results" in body:
        return "moderation"
    return None


def decoded_embeddings(body):
    """`body` with each base64 embedding replaced by its floats, as openai-python decodes them."""
    data = body.get("data")
    if not isinstance(data, list):
        return body
    items = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("embedding"), str):
            raw = base64.b64decode(item["embedding"], validate=True)
            if len(raw) % 4:
                raise ValueError(f"a base64 embedding of {len(raw)} bytes, not whole float32s")
            floats = array.array("f")
            floats.frombytes(raw)
            if sys.byteorder != "little":
                floats.byteswap()
            item = {**item, "embedding": floats.tolist()}
        items.append(item)
    return {**body, "data": items}


def fail(location, message):
    print(f"{location}: {message}", file=sys.stderr)
    sys.exit(1)


def main(paths):
    if not paths:
        sys.exit(__doc__.strip().splitlines()[2])
    types = load_types()
    counts = {key: 0 for key in types}
    skipped = 0
    for path in paths:
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                location = f"{path}:{number}"
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    fail(location, f"not JSON: {error}")
                response = record.get("response") if isinstance(record, dict) else None
                status = response.get("status_code") if isinstance(response, dict) else None
                if not isinstance(status, int) or not 200 <= status < 300:
                    skipped += 1
                    continue
                body = response.get("body")
                key = type_name(body)
                if key is None:
                    fail(location, f"a {status} body of no known shape: {json.dumps(body)[:200]}")
                if key == "list":
                    try:
                        body = decoded_embeddings(body)
                    except (binascii.Error, ValueError) as error:
                        fail(location, f"an embedding that is not base64 float32s: {error}")
                try:
                    types[key].model_validate(body, strict=True)
                except Exception as error:  # pydantic.ValidationError, with every failing field
                    fail(location, f"not a valid {types[key].__name__}: {error}")
                counts[key] += 1
    for key, count in counts.items():
        print(f"{types[key].__name__}: {count}")
    print(f"skipped (not 2xx): {skipped}")


if __name__ == "__main__":
    main(sys.argv[1:])
