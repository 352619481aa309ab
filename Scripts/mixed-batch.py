#!/usr/bin/env python3
"""Writes a mixed OpenAI Batch API input file: N lines of each of chat, embeddings, responses
and completions, of which BAD in all (spread over the four) have bodies the Pacer simulator
refuses with 400 (chat: temperature 5; embeddings: an empty input; responses:
max_output_tokens 1; completions: a missing model).

    python3 Scripts/mixed-batch.py 500 20 > mixed.jsonl     # issue 10's 2,000-line file
    python3 Scripts/mixed-batch.py 10 4 5 > small.jsonl      # and 5 moderations lines
"""
import json
import sys

per_endpoint = int(sys.argv[1]) if len(sys.argv) > 1 else 500
bad_total = int(sys.argv[2]) if len(sys.argv) > 2 else 20
endpoints = ["chat/completions", "embeddings", "responses", "completions"]
bad_per_endpoint = bad_total // len(endpoints)
moderations = int(sys.argv[3]) if len(sys.argv) > 3 else 0


def body(endpoint, index, bad):
    text = f"item {index} of the {endpoint} part: " + "pace " * (index % 17)
    if endpoint == "chat/completions":
        result = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": 40}
        if bad:
            result["temperature"] = 5
    elif endpoint == "embeddings":
        result = {"model": "text-embedding-3-small", "input": "" if bad else text, "dimensions": 64}
    elif endpoint == "responses":
        result = {"model": "gpt-4o-mini", "input": text, "max_output_tokens": 1 if bad else 40}
    else:
        result = {"model": "gpt-3.5-turbo-instruct", "prompt": text, "max_tokens": 30}
        if bad:
            del result["model"]
    return result


for index in range(per_endpoint):
    for endpoint in endpoints:
        bad = index % (per_endpoint // bad_per_endpoint) == 0 if bad_per_endpoint else False
        name = endpoint.split("/")[0]
        line = {"custom_id": f"{name}-{index}", "method": "POST", "url": "/v1/" + endpoint,
                "body": body(endpoint, index, bad)}
        print(json.dumps(line, separators=(",", ":")))

for index in range(moderations):
    text = f"moderation {index}" + (" about an attack" if index % 2 else "")
    line = {"custom_id": f"moderations-{index}", "method": "POST", "url": "/v1/moderations",
            "body": {"model": "omni-moderation-latest", "input": text}}
    print(json.dumps(line, separators=(",", ":")))
