#!/usr/bin/env bash
# Issue 22: an Anthropic Message Batch file of 500 lines runs through `pacer batch` against
# `pacer simulate`'s /v1/messages (with faults and a rate limit), and every results line
# validates with the `anthropic` package's own types (Tests/anthropic-shapes/check.py).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
pacer=.build/debug/pacer
venv="${PACER_ANTHROPIC_VENV:-/tmp/pacer-anthropic-venv}"
pinned_venv "$venv" anthropic 'anthropic==2.17.0'
work=$(mktemp -d)
port=$(random_port)
"$pacer" simulate --port "$port" --fail-rate 0.1 --seed 11 --rpm 6000 >"$work/sim.log" 2>&1 &
simulator=$!
trap 'kill $simulator 2>/dev/null; rm -rf "$work"' EXIT
wait_for_port "$port"
# 500 requests; every 50th has an empty conversation, which the API refuses (400).
python3 - "$work/in.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(500):
        messages = [] if i % 50 == 49 else [{"role": "user", "content": f"Summarise item {i} in a sentence."}]
        params = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": messages}
        if i % 3 == 0:
            params["system"] = "Be brief."
        f.write(json.dumps({"custom_id": f"item-{i}", "params": params}) + "\n")
PY
status=0
ANTHROPIC_API_KEY=sk-ant-ci "$pacer" batch "$work/in.jsonl" -o "$work/results.jsonl" \
    --base-url "http://127.0.0.1:$port" -q --backoff-base 0.01 --backoff-cap 0.1 --max-retries 10 || status=$?
[ "$status" -eq 1 ] || { echo "pacer batch exited $status, expected 1 (the refused requests)"; exit 1; }
"$venv/bin/python" Tests/anthropic-shapes/check.py "$work/in.jsonl" "$work/results.jsonl"
