#!/usr/bin/env python3
"""SIGKILL `pacer serve` twice during a 2,000-line batch (issue 21).

Usage: python3 Tests/openai-serve/kill.py PACER SIMULATOR_ROOT DATA_FOLDER

Starts `PACER serve` on DATA_FOLDER against the simulator, creates a 2,000-line chat batch
through openai-python, kills the server with SIGKILL twice while the batch runs (each time
starting it again on the same folder), and checks that the batch completes with each
custom_id exactly once, and that the simulator was sent at most 2,000 requests plus the
requests in flight at each kill (the server's --concurrency).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from openai import OpenAI

PACER, SIMULATOR, DATA = sys.argv[1], sys.argv[2], sys.argv[3]
LINES, CONCURRENCY = 2000, 8


def fail(message):
    sys.exit(f"serve-kill: {message}")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}/v1"


def start():
    log = open(os.path.join(DATA, "..", "serve.log"), "a")
    server = subprocess.Popen(
        [PACER, "serve", "--port", str(PORT), "--data", DATA, "--base-url", SIMULATOR + "/v1",
         "--concurrency", str(CONCURRENCY), "--backoff-base", "0.01", "--backoff-cap", "0.1"],
        stdout=log, stderr=log,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.05)
    fail("pacer serve did not start")


def upstream_requests():
    with urllib.request.urlopen(SIMULATOR + "/stats") as answer:
        return json.load(answer)["requests"]


client = OpenAI(base_url=BASE, api_key="sk-kill", max_retries=0)
path = os.path.join(DATA, "..", "input.jsonl")
with open(path, "w") as file:
    for index in range(LINES):
        line = {"custom_id": f"r{index}", "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hello {index}"}]}}
        file.write(json.dumps(line) + "\n")

server = start()
with open(path, "rb") as file:
    uploaded = client.files.create(file=file, purpose="batch")
batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
for kill, at in enumerate((LINES // 4, LINES // 2), start=1):
    while client.batches.retrieve(batch.id).request_counts.completed < at:
        time.sleep(0.02)
    server.send_signal(signal.SIGKILL)
    server.wait()
    print(f"serve-kill: kill {kill} with at least {at} lines done ({upstream_requests()} requests sent)")
    server = start()

deadline = time.time() + 300
while (batch := client.batches.retrieve(batch.id)).status != "completed":
    if batch.status in ("failed", "expired", "cancelled") or time.time() > deadline:
        fail(f"the batch ended {batch.status}")
    time.sleep(0.2)
output = client.files.content(batch.output_file_id).text if batch.output_file_id else ""
server.send_signal(signal.SIGTERM)
server.wait()
ids = [json.loads(line)["custom_id"] for line in output.splitlines() if line.strip()]
if len(ids) != LINES or len(set(ids)) != LINES:
    fail(f"{len(ids)} output lines, {len(set(ids))} distinct custom_ids, expected {LINES}")
counts = batch.request_counts
if (counts.total, counts.completed, counts.failed) != (LINES, LINES, 0):
    fail(f"request_counts {counts}")
sent = upstream_requests()
if sent > LINES + 2 * CONCURRENCY:
    fail(f"the simulator was sent {sent} requests: more than {LINES} + {CONCURRENCY} in flight at each of 2 kills")
print(f"serve-kill: completed, {LINES} custom_ids once each, {sent} requests sent ({sent - LINES} re-sent after 2 kills)")
