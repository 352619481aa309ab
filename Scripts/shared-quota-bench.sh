#!/usr/bin/env bash
# Issue 13's shared-quota benchmark: 4 `pacer chat` processes, 300 prompts each, against one
# `pacer simulate --rpm 600 --latency-ms 100`, first each with one --quota in PostgreSQL, then
# each on its own; prints the steady rate, the 429s, the items done and the database round
# trips (leases) per request.
#
#   swift build -c release && Scripts/shared-quota-bench.sh [.build/release/pacer]
#
# Starts a throwaway PostgreSQL (initdb and pg_ctl as the postgres user when root, on a free
# port, in a temporary folder) unless PACER_BENCH_DB names one (postgres://…, no query).
set -euo pipefail
PACER=$(realpath "${1:-.build/release/pacer}")
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/pacer-quota-bench.XXXXXX)
chmod 777 "$WORK"
cd "$WORK"
cleanup() {
    [ -n "${SIM:-}" ] && kill "$SIM" 2>/dev/null || true
    cleanup_postgres
    rm -rf "$WORK"
}
trap cleanup EXIT
. "$SCRIPTS/lib/throwaway-postgres.sh"
for i in 1 2 3 4; do seq 1 300 | sed "s/^/process $i prompt /" > "p$i.txt"; done
export OPENAI_API_KEY=sk-bench

run() { # run MODE: shared or own
    local mode=$1 port
    port=$(free_port)
    "$PACER" simulate --port "$port" --rpm 600 --latency-ms 100 > "sim-$mode.log" 2>&1 &
    SIM=$!
    sleep 2
    local pids=()
    for i in 1 2 3 4; do
        local quota=()
        [ "$mode" = shared ] && quota=(--quota "$DB?quota=bench")
        "$PACER" chat "p$i.txt" -o "out-$mode-$i.jsonl" --base-url "http://127.0.0.1:$port/v1" --concurrency 16 \
            --summary-json "sum-$mode-$i.json" "${quota[@]}" 2> "err-$mode-$i.txt" &
        pids+=($!)
    done
    wait "${pids[@]}" || true
    curl -s "http://127.0.0.1:$port/stats" > "stats-$mode.json"
    kill "$SIM"; wait "$SIM" 2>/dev/null || true; SIM=
}
run shared
run own
python3 - "$WORK" <<'PY'
import json, re, sys, glob
work = sys.argv[1]
for mode in ("shared", "own"):
    stats = json.load(open(f"{work}/stats-{mode}.json"))
    seconds = stats["per_second"]
    while seconds and seconds[0]["requests"] == 0: seconds = seconds[1:]
    while seconds and seconds[-1]["requests"] == 0: seconds = seconds[:-1]
    steady = seconds[2:-2]  # without the first and last two seconds
    accepted = sum(s["requests"] - s["rate_limited"] for s in steady)
    attempts, refused = stats["requests"], stats["by_status"].get("429", 0)
    done = sum(json.load(open(f))["succeeded"] for f in glob.glob(f"{work}/sum-{mode}-*.json"))
    leases = [int(m.group(1)) for f in glob.glob(f"{work}/err-{mode}-*.txt")
              for m in re.finditer(r"(\d+) leases", open(f).read())]
    line = (f"{mode:6}  steady {60 * accepted / max(1, len(steady)):.0f} accepted/min over {len(steady)} s"
            f" ({100 * accepted / max(1, len(steady)) / 10:.1f}% of 600)  attempts {attempts}"
            f"  429 {refused} ({100 * refused / max(1, attempts):.2f}%)  ok {done}/1200")
    if leases: line += f"  leases {sum(leases)} ({sum(leases) / 1200:.3f} per request)"
    print(line)
    clients = stats.get("by_client", {})
    print("        429s per process: " + ", ".join(
        f"{c.get('by_status', {}).get('429', 0)}/{c['requests']}" for _, c in sorted(clients.items())))
PY
