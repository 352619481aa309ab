#!/usr/bin/env bash
# Issue 10: every line `pacer batch` writes parses with openai-python's own types for its
# endpoint. Runs a small mixed Batch API file (every endpoint, a few bodies the server refuses)
# against `pacer simulate`, then validates the output with Tests/openai-shapes/check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
pacer=.build/debug/pacer
venv="${PACER_OPENAI_VENV:-/tmp/pacer-openai-venv}"
pinned_venv "$venv" openai 'openai==3.57.0'
work=$(mktemp -d)
port=$(random_port)
"$pacer" simulate --port "$port" --fail-rate 0.1 --seed 7 >"$work/sim.log" 2>&1 &
simulator=$!
trap 'kill $simulator 2>/dev/null; rm -rf "$work"' EXIT
wait_for_port "$port"
python3 Scripts/mixed-batch.py 25 4 10 >"$work/in.jsonl"
status=0
"$pacer" batch "$work/in.jsonl" -o "$work/out.jsonl" --base-url "http://127.0.0.1:$port/v1" -q \
    --backoff-base 0.01 --backoff-cap 0.1 --max-retries 10 || status=$?
[ "$status" -eq 1 ] || { echo "pacer batch exited $status, expected 1 (the refused bodies)"; exit 1; }
"$venv/bin/python" Tests/openai-shapes/check.py "$work/out.jsonl"
[ "$(wc -l <"$work/out.jsonl")" -eq 106 ] || { echo "expected 106 answers"; exit 1; }
[ "$(wc -l <"$work/out.errors.jsonl")" -eq 4 ] || { echo "expected 4 refusals"; exit 1; }
