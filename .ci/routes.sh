#!/usr/bin/env bash
# Issue 22: one batch over three real simulators of 600 RPM each finishes within 1.1 x the
# 60 s bound with at most 1% 429s; with one killed 20 s in, every item still finishes on the
# other two and none is sent twice to a live one (Tests/routes/run.py).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 Tests/routes/run.py .build/debug/pacer
