#!/usr/bin/env bash
# Issue 10: every line `pacer batch` writes parses with openai-python's own types for its
# endpoint. Runs a small mixed Batch API file (every endpoint, a few bodies the server refuses)
# against `pacer simulate`, then validates the output with Tests/openai-shapes/check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
pacer=.build/debug/pacer
venv="${PACER_OPENAI_VENV:-/tmp/pacer-openai-venv}"
if ! "$venv/bin/python" -c 'import openai' 2>/dev/null; then
    python3 -m venv "$venv" 2>/dev/null || {
        apt-get install -y -q python3-venv >/dev/null
        python3 -m venv "$venv"
    }
    # Pinned: newer releases may require fields the simulator does not send yet.
    "$venv/bin/pip" install -q 'openai==3.57.0'
fi
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$pacer" simulate --port "$port" --fail-rate 0.1 --seed 7 >"$work/sim.log" 2>&1 &
simulator=$!
trap 'kill $simulator 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
python3 Scripts/mixed-batch.py 25 4 10 >"$work/in.jsonl"
status=0
"$pacer" batch "$work/in.jsonl" -o "$work/out.jsonl" --base-url "http://127.0.0.1:$port/v1" -q \
    --backoff-base 0.01 --backoff-cap 0.1 --max-retries 10 || status=$?
[ "$status" -eq 1 ] || { echo "pacer batch exited $status, expected 1 (the refused bodies)"; exit 1; }
"$venv/bin/python" Tests/openai-shapes/check.py "$work/out.jsonl"
[ "$(wc -l <"$work/out.jsonl")" -eq 106 ] || { echo "expected 106 answers"; exit 1; }
[ "$(wc -l <"$work/out.errors.jsonl")" -eq 4 ] || { echo "expected 4 refusals"; exit 1; }
