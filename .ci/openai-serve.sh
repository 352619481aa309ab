#!/usr/bin/env bash
# Issue 21: openai-python's own client runs against `pacer serve` — a chat and an embeddings
# batch through faults, a cancel, a broken line, paging, another key — with
# Tests/openai-serve/run.py; then the server SIGKILLed twice during a 2,000-line batch
# (Tests/openai-serve/kill.py). The venv is the one .ci/openai-shapes.sh makes (openai pinned).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
pacer=.build/debug/pacer
venv="${PACER_OPENAI_VENV:-/tmp/pacer-openai-venv}"
pinned_venv "$venv" openai 'openai==3.57.0'
work=$(mktemp -d)
simulator_port=$(random_port)
serve_port=$((simulator_port + 1))
"$pacer" simulate --port "$simulator_port" --fail-rate 0.1 --seed 7 --latency-ms 20 \
    --reject-input-containing REJECT >"$work/sim.log" 2>&1 &
simulator=$!
"$pacer" serve --port "$serve_port" --data "$work/data" --base-url "http://127.0.0.1:$simulator_port/v1" \
    --concurrency 4 --backoff-base 0.01 --backoff-cap 0.1 --max-retries 10 >"$work/serve.log" 2>&1 &
server=$!
fresh_simulator=""
trap 'kill $simulator $server $fresh_simulator 2>/dev/null; rm -rf "$work"' EXIT
wait_for_port "$simulator_port" "$serve_port"
"$venv/bin/python" Tests/openai-serve/run.py "http://127.0.0.1:$serve_port/v1" "http://127.0.0.1:$simulator_port" || {
    echo "--- pacer serve's log:"
    cat "$work/serve.log"
    exit 1
}
# A fresh simulator, so that its request count is the killed batch's alone.
kill_port=$((serve_port + 1))
"$pacer" simulate --port "$kill_port" --latency-ms 20 >"$work/sim-kill.log" 2>&1 &
fresh_simulator=$!
wait_for_port "$kill_port"
mkdir -p "$work/kill/data"
"$venv/bin/python" Tests/openai-serve/kill.py "$pacer" "http://127.0.0.1:$kill_port" "$work/kill/data" || {
    echo "--- pacer serve's log:"
    cat "$work/kill/serve.log"
    exit 1
}
