#!/usr/bin/env bash
# Issue 21: pacer serve's status page in a real browser (Debian's chromium, headless). The page
# renders, a running batch's counts move between two loads, and a finished batch has its
# files' download links.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
pacer=.build/debug/pacer
venv="${PACER_OPENAI_VENV:-/tmp/pacer-openai-venv}"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "status-page: chromium is not installed (apt-get install chromium)"; exit 1; }
work=$(mktemp -d)
simulator_port=$(random_port)
serve_port=$((simulator_port + 1))
"$pacer" simulate --port "$simulator_port" --latency-ms 50 >"$work/sim.log" 2>&1 &
simulator=$!
"$pacer" serve --port "$serve_port" --data "$work/data" --base-url "http://127.0.0.1:$simulator_port/v1" \
    --concurrency 2 >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $simulator $server 2>/dev/null; rm -rf "$work"' EXIT
wait_for_port "$simulator_port" "$serve_port"
base="http://127.0.0.1:$serve_port"
# A batch of 300 lines, two at a time at 50 ms: about 8 s.
batch=$("$venv/bin/python" - "$base/v1" "$work" <<'PY'
import json, sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1], api_key="sk-page", max_retries=0)
path = sys.argv[2] + "/in.jsonl"
with open(path, "w") as file:
    for index in range(300):
        file.write(json.dumps({"custom_id": f"r{index}", "method": "POST", "url": "/v1/chat/completions",
                               "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hi {index}"}]}}) + "\n")
uploaded = client.files.create(file=open(path, "rb"), purpose="batch")
print(client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h").id)
PY
)
page() {
    "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=3000 \
        --dump-dom "$base/#key=sk-page" 2>/dev/null
}
completed() { grep -o "id=\"batch-$batch\"[^>]*" | grep -o 'data-completed="[0-9]*"' | grep -o '[0-9]*'; }
status() {
    "$venv/bin/python" -c 'import json, sys, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer sk-page"})
batch = json.load(urllib.request.urlopen(request))
print(batch["status"], batch["request_counts"]["completed"])' "$base/v1/batches/$batch"
}
until [ "$(status | cut -d' ' -f2)" -gt 0 ]; do sleep 0.2; done
first=$(page)
echo "$first" | grep -q '<table id="batches"' || { echo "status-page: the page did not render"; exit 1; }
one=$(echo "$first" | completed)
sleep 1.5
two=$(page | completed)
[ -n "$one" ] && [ -n "$two" ] && [ "$two" -gt "$one" ] || {
    echo "status-page: a running batch's count did not move ($one, then $two)"
    exit 1
}
until [ "$(status | cut -d' ' -f1)" = completed ]; do sleep 0.2; done
finished=$(page)
echo "$finished" | grep -q "id=\"batch-$batch\"[^>]*data-status=\"completed\"" || {
    echo "status-page: the finished batch is not shown completed"
    exit 1
}
echo "$finished" | grep -q 'class="download output" data-file="file-' || {
    echo "status-page: the finished batch has no output link"
    exit 1
}
echo "status-page: rendered; counts moved from $one to $two; the finished batch links its output"
