#!/usr/bin/env bash
# Every library product's documentation builds with DocC (swift-docc-plugin), warnings as
# errors: a symbol link that resolves to nothing, a doc comment that names a parameter the
# function does not have, or a catalog that curates a symbol that is gone fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."
# The build settings of .ci/run's build, so that the symbol graphs reuse what it compiled.
build=(-Xswiftc -warnings-as-errors)
targets=()
for target in PacerCore PacerHTTP PacerJSON PacerOpenAI PacerMetrics PacerSimulator PacerTesting PacerPostgres; do
    targets+=(--target "$target")
done
swift package "${build[@]}" generate-documentation "${targets[@]}" --warnings-as-errors
# PacerJobs' API is package-visible for now: its documentation is of that level.
swift package "${build[@]}" generate-documentation --target PacerJobs \
    --symbol-graph-minimum-access-level package --warnings-as-errors
