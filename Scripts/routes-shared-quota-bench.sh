#!/usr/bin/env bash
# Issue 22's shared routes benchmark: 3 `pacer batch --routes` processes at once, 300 requests
# each, over three `pacer simulate --rpm 600 --latency-ms 50` deployments (limits learned from
# their headers), first with one --quota in PostgreSQL (a row per deployment), then each on
# its own (--quota off); prints the wall time against the 30 s the three limits allow, the
# 429s and the items done, per deployment.
#
#   swift build -c release && Scripts/routes-shared-quota-bench.sh [.build/release/pacer]
#
# Starts a throwaway PostgreSQL (see lib/throwaway-postgres.sh) unless PACER_BENCH_DB names one.
set -euo pipefail
PACER=$(realpath "${1:-.build/release/pacer}")
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/pacer-routes-bench.XXXXXX)
chmod 777 "$WORK"
cd "$WORK"
SIMS=()
cleanup() {
    [ ${#SIMS[@]} -gt 0 ] && kill "${SIMS[@]}" 2>/dev/null || true
    cleanup_postgres
    rm -rf "$WORK"
}
trap cleanup EXIT
. "$SCRIPTS/lib/throwaway-postgres.sh"
for r in 0 1 2; do
    python3 - "$r" > "in$r.jsonl" <<'PY'
import json, sys
run = sys.argv[1]
for i in range(300):
    body = {"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": f"run {run} item {i}"}]}
    print(json.dumps({"custom_id": f"r{run}-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}))
PY
done
export K=sk-bench

run() { # run MODE: shared or own
    local mode=$1 ports=() deployments=() pids=()
    SIMS=()
    for name in a b c; do
        local port
        port=$(free_port)
        "$PACER" simulate --port "$port" --rpm 600 --latency-ms 50 > "sim-$mode-$name.log" 2>&1 &
        SIMS+=($!)
        ports+=("$port")
        deployments+=("{\"name\": \"$name\", \"base_url\": \"http://127.0.0.1:$port/v1\", \"api_key_env\": \"K\", \"concurrency\": 16, \"models\": [\"gpt-4o-mini\"]}")
    done
    (IFS=,; echo "{\"deployments\": [${deployments[*]}]}") > "routes-$mode.json"
    sleep 2
    local quota=off
    [ "$mode" = shared ] && quota="$DB?quota=bench"
    local start end
    start=$(date +%s.%N)
    for r in 0 1 2; do
        "$PACER" batch "in$r.jsonl" -o "out-$mode-$r.jsonl" -q --routes "routes-$mode.json" --quota "$quota" \
            --max-retries 10 &
        pids+=($!)
    done
    wait "${pids[@]}" || true
    end=$(date +%s.%N)
    for i in 0 1 2; do curl -s "http://127.0.0.1:${ports[$i]}/stats" > "stats-$mode-$i.json"; done
    kill "${SIMS[@]}"; wait "${SIMS[@]}" 2>/dev/null || true; SIMS=()
    python3 - "$WORK" "$mode" "$start" "$end" <<'PY'
import glob, json, sys
work, mode, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
stats = [json.load(open(f"{work}/stats-{mode}-{i}.json")) for i in range(3)]
done = sum(sum(1 for _ in open(f)) for f in glob.glob(f"{work}/out-{mode}-*.jsonl") if not f.endswith(".errors.jsonl"))
refused = sum(s["by_status"].get("429", 0) for s in stats)
attempts = sum(s["requests"] for s in stats)
per = " / ".join(f"{s['by_status'].get('200', 0)} ok, {s['by_status'].get('429', 0)} 429" for s in stats)
print(f"{mode:6}  wall {end - start:.1f} s (bound 30 s: {(end - start) / 30:.3f})  ok {done}/900"
      f"  attempts {attempts}  429 {refused}  per deployment: {per}")
PY
}
run shared
run own
