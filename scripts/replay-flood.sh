#!/usr/bin/env bash
# A bounded load run against the real scheduler: honest jobs' delivery time (connect + every
# message acknowledged) while an attacker floods it with 2,000 replayed first handshake messages
# (captured from honest jobs' connections: a running job's, a finished one's, a revoked one's)
# and 2,000 idle connections, against a quiet run in the same invocation. The scheduler runs at
# its production defaults with an open-file soft limit of 1,024; the attacker is a child process
# with its own limit of 8,192. See protocol/examples/replay_flood/.
#
#   scripts/replay-flood.sh               # the attacker opens its 4,000 connections once (a wave)
#   scripts/replay-flood.sh --sustained   # it reopens each one the scheduler closes, throughout
#   REPLAY_FLOOD_DIR=/some/disk scripts/replay-flood.sh   # where the fsynced event log goes
#                                                         # (default target/)
#
# Stops by itself: the program has a hard timeout of 120 s, and this script kills it at 150 s.
# Exits 0 when the run completed whatever the figures (PASS/MISSED against the <= 2x target are
# informative), 1 when an honest job did not finish or an event-log write failed (FAILED), 2 for
# a setup error. Needs an open-file hard limit of at least 8,192 for the attacker (less is used
# if the hard limit is lower, and reported).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p protocol --example replay_flood

start=$(date +%s)
rc=0
timeout --kill-after=5 150 target/release/examples/replay_flood "$@" || rc=$?
if ((rc == 124 || rc == 137)); then
    echo "replay-flood: FAILED: killed after 150 s" >&2
    rc=1
fi
echo "replay-flood: wall time $(($(date +%s) - start)) s after the build (exit $rc)"
exit "$rc"
