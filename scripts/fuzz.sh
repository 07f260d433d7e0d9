#!/usr/bin/env bash
# Runs one cargo-fuzz target on the stable toolchain (no sanitizer), from a fresh clone:
# installs cargo-fuzz if it is missing, makes the target's corpus directory, seeds it from
# fuzz/seeds/TARGET, and retries the build once after removing a stale toolchain probe.
#
#   scripts/fuzz.sh wire_decode          # until stopped
#   scripts/fuzz.sh wire_decode 30       # for 30 seconds
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}
seconds=${2:-}
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
mkdir -p "corpus/$target"
if ! cargo fuzz build -s none "$target"; then
    # A stale toolchain probe from an earlier failed build breaks the next one.
    rm -f target/.rustc_info.json
    cargo fuzz build -s none "$target"
fi
seeds=()
if [[ -d "seeds/$target" ]]; then
    seeds=("seeds/$target")
fi
args=()
if [[ -n $seconds ]]; then
    args=(-- "-max_total_time=$seconds")
fi
cargo fuzz run -s none "$target" "corpus/$target" "${seeds[@]}" "${args[@]}"
