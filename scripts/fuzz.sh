#!/usr/bin/env bash
# Runs cargo-fuzz targets on the stable toolchain (no sanitizer), from a fresh clone: installs
# cargo-fuzz if it is missing, makes each target's corpus directory, seeds it from
# fuzz/seeds/TARGET, and retries a build once after removing a stale toolchain probe.
#
#   scripts/fuzz.sh wire_decode                  # one target, until stopped
#   scripts/fuzz.sh wire_decode 30               # one target for 30 seconds
#   scripts/fuzz.sh wire_decode 30 -jobs=1 ...   # extra arguments go to libFuzzer
#   scripts/fuzz.sh all 20                       # build every target once, run each 20 seconds
#   scripts/fuzz.sh build                        # build every target
#   scripts/fuzz.sh list                         # the targets
#
# threat_model needs the `threat-model` feature of fuzz/Cargo.toml (the threats crate brings
# the protocol crates' `weaken` feature with it, which the other targets must not be built
# with); this script passes it for that target only. fuzz/README.md describes the targets.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
what=${1:?usage: scripts/fuzz.sh TARGET|all|build|list [SECONDS] [LIBFUZZER-ARGS...]}
seconds=${2:-}
shift $(($# < 2 ? $# : 2))

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

features_of() {
    if [[ $1 == threat_model ]]; then
        echo "--features=threat-model"
    fi
}

targets() {
    cargo fuzz list
}

retrying() {
    if ! "$@"; then
        # A stale toolchain probe from an earlier failed build breaks the next one.
        rm -f target/.rustc_info.json
        "$@"
    fi
}

build_all() {
    # Every target but threat_model in one build, then threat_model with its feature.
    retrying cargo fuzz build -s none
    retrying cargo fuzz build -s none --features=threat-model threat_model
}

run() {
    local target=$1
    shift
    mkdir -p "corpus/$target"
    local seeds=()
    if [[ -d "seeds/$target" ]]; then
        seeds=("seeds/$target")
    fi
    local args=(-print_final_stats=1 -timeout=30)
    if [[ -n $seconds ]]; then
        args+=("-max_total_time=$seconds")
    fi
    # shellcheck disable=SC2046 # features_of prints one word or nothing
    cargo fuzz run -s none $(features_of "$target") "$target" "corpus/$target" "${seeds[@]}" -- "${args[@]}" "$@"
}

case $what in
    list)
        targets
        ;;
    build)
        build_all
        ;;
    all)
        : "${seconds:?usage: scripts/fuzz.sh all SECONDS}"
        build_all
        for target in $(targets); do
            echo "== fuzz $target (${seconds}s)"
            run "$target" "$@"
        done
        ;;
    *)
        # shellcheck disable=SC2046
        retrying cargo fuzz build -s none $(features_of "$what") "$what"
        run "$what" "$@"
        ;;
esac
