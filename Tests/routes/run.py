"""Issue 22's routes checks, against three real `pacer simulate` servers of 600 RPM each
(quantised, as OpenAI enforces limits):

1. one `pacer batch --routes` run of 1,800 prompts finishes within 1.1 x the 60 s bound, with
   at most 1% of requests answered 429;
2. the same with one simulator stopped (SIGKILL) 20 s in: every item still finishes, on the
   other two, and no item is sent twice to a live deployment.

usage: run.py PACER_BINARY
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

PACER = sys.argv[1]
ITEMS = 1800
RPM = 600


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulators(work, count=3):
    simulators = []
    for index in range(count):
        port = free_port()
        log = open(os.path.join(work, f"sim{index}.log"), "w")
        process = subprocess.Popen(
            [PACER, "simulate", "--port", str(port), "--rpm", str(RPM), "--latency-ms", "50"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        simulators.append((port, process))
    for port, _ in simulators:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
    return simulators


def stats(port):
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats") as answer:
        return json.load(answer)


def write_inputs(work, ports):
    routes = {
        "deployments": [
            {
                "name": f"sim{index}",
                "base_url": f"http://127.0.0.1:{port}/v1",
                "api_key_env": "ROUTES_KEY",
                "concurrency": 16,
                "models": ["gpt-4o-mini"],
            }
            for index, port in enumerate(ports)
        ],
        "cooldown_seconds": 30,
    }
    with open(os.path.join(work, "routes.json"), "w") as f:
        json.dump(routes, f, indent=1)
    with open(os.path.join(work, "in.jsonl"), "w") as f:
        for i in range(ITEMS):
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"item {i}"}], "max_tokens": 16}
            f.write(json.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}) + "\n")


def run_batch(work, name, kill=None):
    output = os.path.join(work, f"{name}.jsonl")
    summary = os.path.join(work, f"{name}.summary.json")
    started = time.monotonic()
    process = subprocess.Popen(
        [PACER, "batch", os.path.join(work, "in.jsonl"), "--routes", os.path.join(work, "routes.json"), "-o", output,
         "-q", "--summary-json", summary, "--backoff-base", "0.2", "--backoff-cap", "2"],
        env={**os.environ, "ROUTES_KEY": "sk-routes"},
    )
    if kill:
        time.sleep(kill[0])
        kill[1].send_signal(signal.SIGKILL)
        kill[1].wait()
    status = process.wait(timeout=600)
    wall = time.monotonic() - started
    with open(output) as f:
        ids = [json.loads(line)["custom_id"] for line in f]
    with open(summary) as f:
        report = json.load(f)
    return status, wall, ids, report


def check_no_duplicates(ids):
    assert len(ids) == ITEMS and len(set(ids)) == ITEMS, f"{len(ids)} lines, {len(set(ids))} ids; expected {ITEMS} once each"


def main():
    work = tempfile.mkdtemp(prefix="pacer-routes-")
    simulators = start_simulators(work)
    try:
        write_inputs(work, [port for port, _ in simulators])
        status, wall, ids, report = run_batch(work, "full")
        assert status == 0, f"pacer batch exited {status}"
        check_no_duplicates(ids)
        rate_limited = report["rateLimitedResponses"]
        bound = ITEMS / (len(simulators) * RPM) * 60
        print(
            f"routes: {ITEMS} items over {len(simulators)} x {RPM} RPM in {wall:.1f} s (bound {bound:.0f} s, "
            f"{wall / bound:.3f} of it), {report['requests']} requests, {rate_limited} answered 429"
        )
        for deployment in report["deployments"]:
            print(f"  {deployment['name']}: {deployment['requests']} requests, {deployment['rateLimited']} answered 429")
        assert wall <= 1.1 * bound, f"{wall:.1f} s is over 1.1 x {bound:.0f} s"
        assert rate_limited <= 0.01 * report["requests"], f"{rate_limited} 429s is over 1% of {report['requests']}"
    finally:
        for _, process in simulators:
            process.kill()
            process.wait()

    # Failover: one deployment dies 20 s in.
    simulators = start_simulators(work)
    try:
        write_inputs(work, [port for port, _ in simulators])
        victim = simulators[0]
        status, wall, ids, report = run_batch(work, "failover", kill=(20, victim[1]))
        assert status == 0, f"pacer batch exited {status}"
        check_no_duplicates(ids)
        sent = {}
        for port, _ in simulators[1:]:
            for item, count in stats(port)["by_item"].items():
                sent[item] = sent.get(item, 0) + count
        twice = {item: count for item, count in sent.items() if count > 1}
        print(
            f"failover: {ITEMS} items in {wall:.1f} s with sim0 killed at 20 s; "
            f"{sum(sent.values())} requests to the live two, {len(twice)} items sent twice to them"
        )
        for deployment in report["deployments"]:
            print(
                f"  {deployment['name']}: {deployment['requests']} requests, {deployment['failed']} failed, "
                f"{deployment['rateLimited']} answered 429"
            )
        assert not twice, f"sent twice to live deployments: {list(twice.items())[:5]}"
    finally:
        for _, process in simulators:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
