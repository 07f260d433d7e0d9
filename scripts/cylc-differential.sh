#!/usr/bin/env bash
# Differential test of threatcheck's `--semantics cylc` against real Cylc
# (cylc-uiserver 1.7.1 / cylc-flow 8.5.4, cylc.uiserver.authorise.Authorization):
#
#   1. install: a venv at target/cylc-venv with exactly the pinned packages from PyPI
#      (reused when it already has them); an unreachable index fails the run, never skips it;
#   2. oracle:  scripts/cylc_differential/oracle.py runs Cylc in-process and writes
#      target/cylc-differential/cases.jsonl (Cylc's tests, docs, known clobbers, 2,000 random
#      configurations, a 10,000-query bench);
#   3. compare: the protocol-people example `cylc_differential` decides every query with the
#      Rust code and counts disagreements; its exit status is this script's.
#
#   scripts/cylc-differential.sh                          # all three steps (release build)
#   CYLC_DIFF_PROFILE=dev scripts/cylc-differential.sh    # compare with the dev build (what
#                                                         # .ci/run does: no second build; the
#                                                         # bench line then says "debug build")
#   CYLC_DIFF_ORACLE_ONLY=1 scripts/cylc-differential.sh  # stop after the oracle
#
# Each step's wall time is printed so CI logs show the budget (whole script: under 3 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/cylc-venv
out=target/cylc-differential/cases.jsonl
pins=(cylc-uiserver==1.7.1 cylc-flow==8.5.4)

now() { echo "${EPOCHREALTIME/,/.}"; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
fail() {
    echo "cylc-differential: $*: failing, not skipping" >&2
    exit 1
}

# True when the venv's python runs and has exactly the pinned versions.
has_pins() {
    [[ -x $venv/bin/python ]] && "$venv/bin/python" - <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("cylc-uiserver"), version("cylc-flow")) == ("1.7.1", "8.5.4") else 1)
EOF
}

# 1. install
t0=$(now)
if has_pins; then
    echo "cylc-differential: install: reusing $venv (${pins[*]})"
else
    # A half-made or stale venv is rebuilt from scratch rather than patched.
    python3 -m venv --clear "$venv" ||
        fail "cannot create a virtual environment at $venv with python3 -m venv"
    log=$(mktemp)
    if ! "$venv/bin/pip" install --disable-pip-version-check -q "${pins[@]}" >"$log" 2>&1; then
        cat "$log" >&2
        reason=$( (grep -m1 '^ERROR' "$log" || tail -n 1 "$log") | cut -c1-200)
        rm -f "$log"
        fail "cannot install cylc-uiserver 1.7.1 from PyPI (${reason:-pip failed})"
    fi
    rm -f "$log"
    has_pins || fail "installed $venv but it does not report ${pins[*]}"
fi
echo "cylc-differential: install took $(took "$t0") s"

# 2. oracle
t0=$(now)
mkdir -p "$(dirname "$out")"
"$venv/bin/python" scripts/cylc_differential/oracle.py \
    --seed 20261202 --random 2000 --out "$out"
echo "cylc-differential: oracle took $(took "$t0") s"

if [[ ${CYLC_DIFF_ORACLE_ONLY:-} == 1 ]]; then
    echo "cylc-differential: CYLC_DIFF_ORACLE_ONLY=1, stopping before the Rust comparison"
    exit 0
fi

# 3. compare
t0=$(now)
status=0
profile=()
case ${CYLC_DIFF_PROFILE:-release} in
    release) profile=(--release) ;;
    dev) ;;
    *) fail "CYLC_DIFF_PROFILE must be dev or release, not ${CYLC_DIFF_PROFILE}" ;;
esac
cargo run -q "${profile[@]}" -p protocol-people --example cylc_differential -- "$out" || status=$?
echo "cylc-differential: compare took $(took "$t0") s (exit status $status)"
exit "$status"
