#!/usr/bin/env bash
# Regenerates the committed reports/: the release gate's output without its timing fields, so
# two runs write byte-identical files (a test fails when reports/ falls behind the threat model
# or the evidence). `threatcheck verify` itself writes to target/threatcheck/reports.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -p threats -- verify --no-timings --out reports "$@"
