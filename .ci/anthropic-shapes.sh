#!/usr/bin/env bash
# Issue 22: an Anthropic Message Batch file of 500 lines runs through `pacer batch` against
# `pacer simulate`'s /v1/messages (with faults and a rate limit), and every results line
# validates with the `anthropic` package's own types (Tests/anthropic-shapes/check.py).
set -euo pipefail
cd "$(dirname "$0")/.."
pacer=.build/debug/pacer
venv="${PACER_ANTHROPIC_VENV:-/tmp/pacer-anthropic-venv}"
if ! "$venv/bin/python" -c 'import anthropic' 2>/dev/null; then
    python3 -m venv "$venv" 2>/dev/null || {
        apt-get install -y -q python3-venv >/dev/null
        python3 -m venv "$venv"
    }
    # Pinned, as openai-python is: a newer release may require fields the simulator lacks.
    "$venv/bin/pip" install -q 'anthropic==2.17.0'
fi
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$pacer" simulate --port "$port" --fail-rate 0.1 --seed 11 --rpm 6000 >"$work/sim.log" 2>&1 &
simulator=$!
trap 'kill $simulator 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
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
