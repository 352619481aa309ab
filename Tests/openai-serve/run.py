#!/usr/bin/env python3
"""Run openai-python's own client against `pacer serve` (issue 21).

Usage: python3 Tests/openai-serve/run.py SERVE_BASE_URL SIMULATOR_ROOT

SERVE_BASE_URL is the server's `/v1` root; SIMULATOR_ROOT the upstream simulator's root
(its `/stats` counts the requests it was sent). The simulator refuses inputs containing
REJECT (`pacer simulate --reject-input-containing REJECT`) and may inject faults.

What it checks, each with openai-python's client and types:
- a chat batch and an embeddings batch: upload, create, poll, download; the batch object
  validates as `openai.types.Batch` at every poll; `request_counts` equal the files' lines;
  each custom_id is in exactly one of the two files; every output body validates with
  Tests/openai-shapes/check.py;
- `batches.list` pages with `after` (limit=1, through openai-python's auto-pagination);
- a cancel ends `cancelled`, with the finished lines in the output file and the rest in the
  error file as `batch_cancelled`;
- a file whose line 2 is broken ends `failed` with an error on line 2, and the upstream is
  sent nothing;
- another key's batch is NotFoundError; no key is 401.
The first failure exits 1 with what went wrong.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from openai import AuthenticationError, ConflictError, NotFoundError, OpenAI
from openai.types import Batch

SERVE, SIMULATOR = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=SERVE, api_key="sk-ci-one", max_retries=0)
other = OpenAI(base_url=SERVE, api_key="sk-ci-two", max_retries=0)
work = tempfile.mkdtemp()
CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "openai-shapes", "check.py")


def fail(message):
    sys.exit(f"openai-serve: {message}")


def upstream_requests():
    with urllib.request.urlopen(SIMULATOR + "/stats") as answer:
        return json.load(answer)["requests"]


def chat_lines(count, rejected=()):
    return [
        {
            "custom_id": f"chat-{index}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "REJECT this" if index in rejected else f"hello {index}"}],
            },
        }
        for index in range(count)
    ]


def embedding_lines(count):
    return [
        {
            "custom_id": f"embed-{index}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "text-embedding-3-small", "input": [f"text {index}", f"more {index}"]},
        }
        for index in range(count)
    ]


def upload(lines, name):
    path = os.path.join(work, name)
    with open(path, "w") as file:
        file.write("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    with open(path, "rb") as file:
        return client.files.create(file=file, purpose="batch")


def retrieve(batch_id):
    """The batch, validated strictly with openai-python's type (the client itself does not validate)."""
    raw = client.batches.with_raw_response.retrieve(batch_id)
    return Batch.model_validate(json.loads(raw.text))


def wait(batch_id, statuses, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        batch = retrieve(batch_id)
        if batch.status in statuses:
            return batch
        time.sleep(0.2)
    fail(f"{batch_id} stayed {batch.status}, expected {statuses}")


def download(file_id, name):
    if file_id is None:
        return []
    path = os.path.join(work, name)
    client.files.content(file_id).write_to_file(path)
    with open(path) as file:
        return [json.loads(line) for line in file if line.strip()]


def check_finished(batch, total, name):
    counts = batch.request_counts
    output = download(batch.output_file_id, f"{name}.out.jsonl")
    errors = download(batch.error_file_id, f"{name}.errors.jsonl")
    if (counts.total, counts.completed, counts.failed) != (total, len(output), len(errors)):
        fail(f"{name}: request_counts {counts} but {len(output)} output and {len(errors)} error lines of {total}")
    ids = [line["custom_id"] for line in output + errors]
    if len(ids) != total or len(set(ids)) != total:
        fail(f"{name}: {len(ids)} lines, {len(set(ids))} distinct custom_ids, expected {total}")
    if output:
        subprocess.run([sys.executable, CHECK, os.path.join(work, f"{name}.out.jsonl")], check=True)
    return output, errors


# A chat batch and an embeddings batch, at once, through faults.
chat_file = upload(chat_lines(40, rejected={3, 17}), "chat.jsonl")
embed_file = upload(embedding_lines(40), "embed.jsonl")
chat = client.batches.create(
    input_file_id=chat_file.id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"run": "ci"}
)
embed = client.batches.create(input_file_id=embed_file.id, endpoint="/v1/embeddings", completion_window="24h")
if chat.status != "validating" or chat.metadata != {"run": "ci"}:
    fail(f"a new batch is {chat.status} with metadata {chat.metadata}")
chat = wait(chat.id, {"completed"})
embed = wait(embed.id, {"completed"})
_, chat_errors = check_finished(chat, 40, "chat")
if sorted(line["custom_id"] for line in chat_errors) != ["chat-17", "chat-3"]:
    fail(f"chat errors are {[line['custom_id'] for line in chat_errors]}, expected chat-3 and chat-17")
if any(line["response"]["status_code"] != 400 for line in chat_errors):
    fail("a refused chat line does not carry the upstream's 400")
check_finished(embed, 40, "embed")
if chat.usage is None or chat.usage.input_tokens <= 0 or chat.usage.output_tokens <= 0:
    fail(f"the chat batch's usage is {chat.usage}")
for stamp in ("in_progress_at", "finalizing_at", "completed_at", "expires_at"):
    if getattr(chat, stamp) is None:
        fail(f"a completed batch has no {stamp}")
print(f"openai-serve: chat {chat.request_counts}, embeddings {embed.request_counts}, usage {chat.usage.total_tokens} tokens")

# A cancel keeps what finished.
big = upload(chat_lines(400), "big.jsonl")
cancelled = client.batches.create(input_file_id=big.id, endpoint="/v1/chat/completions", completion_window="24h")
deadline = time.time() + 60
while retrieve(cancelled.id).request_counts.completed < 5:
    if time.time() > deadline:
        fail("the batch to cancel never got going")
    time.sleep(0.05)
answer = client.batches.cancel(cancelled.id)
if answer.status not in ("cancelling", "cancelled"):
    fail(f"a cancel answered {answer.status}")
cancelled = wait(cancelled.id, {"cancelled"})
output, errors = check_finished(cancelled, 400, "cancelled")
if not 5 <= len(output) < 400:
    fail(f"the cancelled batch kept {len(output)} of 400 lines")
if any(line["error"]["code"] != "batch_cancelled" for line in errors):
    fail("a line the cancel stopped is not batch_cancelled")
try:
    client.batches.cancel(cancelled.id)
    fail("a cancelled batch was cancelled again")
except ConflictError:
    pass
print(f"openai-serve: cancelled with {len(output)} finished lines kept, {len(errors)} batch_cancelled")

# A broken line 2 fails the batch, and nothing goes upstream.
before = upstream_requests()
broken = chat_lines(3)
broken[1] = {"custom_id": "chat-1", "method": "POST", "url": "/v1/chat/completions", "body": "not an object"}
broken_file = upload(broken, "broken.jsonl")
failed = client.batches.create(input_file_id=broken_file.id, endpoint="/v1/chat/completions", completion_window="24h")
failed = wait(failed.id, {"failed"})
if not failed.errors or not failed.errors.data or failed.errors.data[0].line != 2:
    fail(f"a broken line 2 gave errors {failed.errors}")
if upstream_requests() != before:
    fail(f"a failed batch sent {upstream_requests() - before} requests upstream")
print(f"openai-serve: failed on line 2: {failed.errors.data[0].message}")

# batches.list pages with after, newest first.
paged = [batch.id for batch in client.batches.list(limit=1)]
expected = [failed.id, cancelled.id, embed.id, chat.id]
if paged != expected:
    fail(f"batches.list(limit=1) paged {paged}, expected {expected}")
first = client.batches.list(limit=2)
second = client.batches.list(limit=2, after=first.data[-1].id)
if [b.id for b in first.data + second.data] != expected or not first.has_more or second.has_more:
    fail("batches.list with after does not page")

# Each key sees only its own.
try:
    other.batches.retrieve(chat.id)
    fail("another key read a batch")
except NotFoundError:
    pass
try:
    other.files.content(chat.output_file_id)
    fail("another key read a batch's output")
except NotFoundError:
    pass
try:
    urllib.request.urlopen(SERVE + "/batches")
    fail("a request without a key was answered")
except urllib.error.HTTPError as error:
    if error.code != 401:
        fail(f"a request without a key got {error.code}, expected 401")
print("openai-serve: every check passed")
