#!/usr/bin/env bash
# Issue 13's queue benchmarks: a batch in PostgreSQL drained by `pacer worker`s against
# `pacer simulate`.
#
#   swift build -c release && Scripts/queue-bench.sh [.build/release/pacer] [SECTION…]
#
# Sections (all by default):
#   kills       3 workers drain 20,000 prompts against --fail-rate 0.1 --latency-ms 100; one
#               worker is SIGKILLed twice mid-run and restarted. Checks the export (20,000
#               lines, each id once, every line JSON) and compares the simulator's requests
#               per item with the attempts stored for it.
#   outage      3 workers drain 20,000 prompts; PostgreSQL is stopped for 10 s mid-run.
#   throughput  1, 2 and 4 workers drain 20,000 prompts each time, no latency, no limit:
#               items/s and database round trips per item.
#   rss         one worker drains 10^6 prompts (no latency, no limit): peak RSS, items/s.
#
# Starts a throwaway PostgreSQL (Scripts/lib/throwaway-postgres.sh) unless PACER_BENCH_DB
# names one; the outage section needs the throwaway one.
set -euo pipefail
PACER=$(realpath "${1:-.build/release/pacer}")
shift || true
SECTIONS=${*:-kills outage throughput rss}
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/pacer-queue-bench.XXXXXX)
chmod 777 "$WORK"
cd "$WORK"
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    cleanup_postgres
    rm -rf "$WORK"
}
trap cleanup EXIT
. "$SCRIPTS/lib/throwaway-postgres.sh"
export OPENAI_API_KEY=sk-bench
psql_db() { "$PG_BIN/psql" -X -q -A -t "$DB" "$@"; }

batch_file() { # batch_file N FILE: N chat lines in the Batch API format
    python3 - "$1" "$2" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"custom_id": f"item-{i}", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"prompt {i}"}]}}) + "\n")
PY
}

simulator() { # simulator NAME ARGS…: starts one, sets SIM_PORT and SIM
    local name=$1; shift
    SIM_PORT=$(free_port)
    "$PACER" simulate --port "$SIM_PORT" "$@" > "sim-$name.log" 2>&1 &
    SIM=$!
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SIM_PORT/stats" >/dev/null && return; sleep 0.1; done
}

worker() { # worker BATCH NAME ARGS…: one worker in the background, its pid in WORKER_PID
    local batch=$1 name=$2; shift 2
    /usr/bin/time -f "%M %e %U %S" -o "time-$name.txt" \
        "$PACER" worker --db "$DB" --batch "$batch" --base-url "http://127.0.0.1:$SIM_PORT/v1" \
        --summary-json "sum-$name.json" ${WORKER_ARGS:-} "$@" > "out-$name.txt" 2> "err-$name.txt" &
    WORKER_PID=$!
}

# The pid of the worker itself (time's child).
worker_child() { pgrep -P "$1" -f "pacer worker" | head -1; }

export_and_check() { # export_and_check BATCH EXPECTED
    local batch=$1 expected=$2
    "$PACER" queue export --db "$DB" --batch "$batch" -o "export-$batch.jsonl" -q
    psql_db -c "SELECT i.custom_id || ' ' || r.attempts FROM pacer_results r JOIN pacer_items i USING (batch, seq) WHERE r.batch = '$batch'" > "attempts-$batch.txt"
    curl -s "http://127.0.0.1:$SIM_PORT/stats" > "stats-$batch.json"
    python3 - "$batch" "$expected" <<'PY'
import json, sys, collections
batch, expected = sys.argv[1], int(sys.argv[2])
ids, bad = collections.Counter(), 0
for path in (f"export-{batch}.jsonl", f"export-{batch}.errors.jsonl"):
    try:
        for line in open(path):
            try:
                ids[json.loads(line)["custom_id"]] += 1
            except Exception:
                bad += 1
    except FileNotFoundError:
        pass
ok = sum(1 for _ in open(f"export-{batch}.jsonl"))
twice = sum(1 for c in ids.values() if c > 1)
print(f"  export: {sum(ids.values())} lines ({ok} answers), {len(ids)} distinct ids of {expected},"
      f" {twice} ids more than once, {bad} lines not JSON")
attempts = {}
for line in open(f"attempts-{batch}.txt"):
    if line.strip():
        cid, n = line.split()
        attempts[cid] = int(n)
stats = json.load(open(f"stats-{batch}.json"))
sent = {int(k.split()[-1]): v for k, v in stats["by_item"].items() if k.startswith("chat:prompt ")}
extra = {i: sent.get(i, 0) - attempts.get(f"item-{i}", 0) for i in range(expected)}
over = {i: e for i, e in extra.items() if e > 0}
print(f"  requests: {stats['requests']} sent, {sum(attempts.values())} attempts stored;"
      f" {len(over)} items sent more often than their attempts say, {sum(over.values())} requests in all"
      f" (most for one item: {max(over.values(), default=0)})")
PY
}

summaries() { # summaries NAME…: round trips per item and items of each worker
    python3 - "$@" <<'PY'
import json, sys
for name in sys.argv[1:]:
    try:
        s = json.load(open(f"sum-{name}.json"))
    except Exception:
        print(f"  {name}: no summary (killed)"); continue
    peak, wall, user, system = open(f"time-{name}.txt").read().split()[-4:]
    items = s["results_stored"] + s["results_already_stored"] + s["results_not_stored"]
    print(f"  {name}: {items} items, {s['chunks_claimed']} chunks, {s['database_round_trips']} round trips"
          f" ({s['database_round_trips_per_item']:.3f} per item), peak RSS {int(peak) / 1024:.1f} MiB,"
          f" CPU {float(user) + float(system):.1f} s, wall {wall} s")
PY
}

section_kills() {
    echo "== kills: 3 workers, 20,000 prompts, --fail-rate 0.1 --latency-ms 100; worker w1 SIGKILLed at 10 s and 25 s"
    batch_file 20000 kills.jsonl
    "$PACER" queue push kills.jsonl --db "$DB" --batch kills -q
    simulator kills --fail-rate 0.1 --latency-ms 100 --seed 13
    local flags=(--concurrency 32 --heartbeat 1 --reap-after 5)
    local start=$SECONDS
    worker kills w2 "${flags[@]}"; local w2=$WORKER_PID
    worker kills w3 "${flags[@]}"; local w3=$WORKER_PID
    worker kills w1a "${flags[@]}"; local w1=$WORKER_PID
    sleep 10
    kill -9 "$(worker_child "$w1")"; wait "$w1" 2>/dev/null || true
    echo "  $((SECONDS - start)) s: killed w1a; restarted as w1b"
    worker kills w1b "${flags[@]}"; w1=$WORKER_PID
    sleep 15
    kill -9 "$(worker_child "$w1")"; wait "$w1" 2>/dev/null || true
    echo "  $((SECONDS - start)) s: killed w1b; restarted as w1c"
    worker kills w1c "${flags[@]}"; w1=$WORKER_PID
    wait "$w2" "$w3" "$w1"
    echo "  drained in $((SECONDS - start)) s"
    summaries w2 w3 w1a w1b w1c
    export_and_check kills 20000
    kill "$SIM"; wait "$SIM" 2>/dev/null || true
}

section_outage() {
    if [ -z "${PG_STARTED:-}" ]; then echo "== outage: skipped (needs the throwaway PostgreSQL)"; return; fi
    echo "== outage: 3 workers, 20,000 prompts, --latency-ms 100; PostgreSQL stopped at 10 s for 10 s"
    batch_file 20000 outage.jsonl
    "$PACER" queue push outage.jsonl --db "$DB" --batch outage -q
    simulator outage --latency-ms 100
    local pids=() start=$SECONDS
    for w in o1 o2 o3; do worker outage "$w" --concurrency 32; pids+=("$WORKER_PID"); done
    sleep 10
    stop_postgres
    echo "  $((SECONDS - start)) s: PostgreSQL stopped"
    sleep 10
    start_postgres
    echo "  $((SECONDS - start)) s: PostgreSQL started again"
    wait "${pids[@]}"
    echo "  drained in $((SECONDS - start)) s; what the workers said of it:"
    grep -h -i "database" err-o1.txt err-o2.txt err-o3.txt | sort | uniq -c | sed 's/^/    /' | head -8
    summaries o1 o2 o3
    export_and_check outage 20000
    kill "$SIM"; wait "$SIM" 2>/dev/null || true
}

section_throughput() {
    echo "== throughput: 20,000 prompts, no latency, no limit, --concurrency 64 per worker"
    batch_file 20000 tp.jsonl
    simulator tp
    for n in 1 2 4; do
        "$PACER" queue push tp.jsonl --db "$DB" --batch "tp$n" -q
        local pids=() names=() start
        start=$(date +%s.%N)
        for i in $(seq "$n"); do worker "tp$n" "tp$n-$i" --concurrency 64; pids+=("$WORKER_PID"); names+=("tp$n-$i"); done
        wait "${pids[@]}"
        python3 -c "import sys,time; s=time.time()-float(sys.argv[1]); print(f'  {sys.argv[2]} worker(s): {20000/s:.0f} items/s ({s:.1f} s)')" "$start" "$n"
        summaries "${names[@]}"
    done
    kill "$SIM"; wait "$SIM" 2>/dev/null || true
}

section_rss() {
    echo "== rss: one worker, 10^6 prompts, no latency, no limit, --concurrency 64"
    batch_file 1000000 big.jsonl
    local start
    start=$(date +%s.%N)
    /usr/bin/time -f "%M %e" -o time-push.txt "$PACER" queue push big.jsonl --db "$DB" --batch big -q
    read -r peak wall < time-push.txt
    echo "  push: $wall s, peak RSS $((peak / 1024)) MiB"
    simulator big
    start=$(date +%s.%N)
    worker big big --concurrency 64
    wait "$WORKER_PID"
    python3 -c "import sys,time; s=time.time()-float(sys.argv[1]); print(f'  drained: {1e6/s:.0f} items/s ({s:.0f} s)')" "$start"
    summaries big
    kill "$SIM"; wait "$SIM" 2>/dev/null || true
}

for section in $SECTIONS; do "section_$section"; done
