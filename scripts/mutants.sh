#!/usr/bin/env bash
# Mutation testing of the security modules, with the tests that should catch their mutants.
#
#   scripts/mutants.sh                 # every security module (slow: tens of minutes)
#   scripts/mutants.sh --re 'NotHex'   # only mutants whose name matches (extra args go to cargo mutants)
#
# Prints cargo-mutants' summary (caught / missed / unviable / timeouts) per package. Too slow
# for .ci/run; the outcome of a run is recorded in the note that goes with the change.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
    cargo install cargo-mutants --locked
fi

# protocol-core's checks, keys, Noise, bootstrap, wire and cores (the UI server's command core
# among them), against its own tests (with the weakened-core tests, which assert which check
# fired). The mutants no input can tell from the original are left out by name; each is listed
# with the reason in scripts/mutants-equivalent.md.
cargo mutants --no-shuffle -p protocol-core --features weaken \
    -f protocol/core/src/checks.rs -f protocol/core/src/keys.rs -f protocol/core/src/noise.rs \
    -f protocol/core/src/bootstrap.rs -f 'protocol/core/src/wire/*.rs' \
    -f 'protocol/core/src/scheduler/*.rs' -f protocol/core/src/job.rs -f protocol/core/src/command.rs \
    -f protocol/core/src/commit.rs \
    --exclude-re 'replace < with <= in is_canonical' \
    --exclude-re 'replace \| with \^ in validate_public_key' \
    --exclude-re 'SchedulerCore::is_launching' \
    --exclude-re 'replace Defences::all -> Self with Default::default' \
    --exclude-re 'replace - with \+ in Transport::decrypt' \
    --exclude-re 'replace < with <= in SchedulerCore::handle_client_message' \
    --output target/mutants-core "$@" || true

# protocol-people's authorisation (both readings of a Cylc configuration), names, operations,
# policy, sessions, audit and gate, against its own tests.
cargo mutants --no-shuffle -p protocol-people --features weaken \
    -f 'protocol/people/src/authz/*.rs' -f 'protocol/people/src/policy/*.rs' \
    -f 'protocol/people/src/cylc/*.rs' -f protocol/people/src/names.rs -f protocol/people/src/ops.rs \
    -f 'protocol/people/src/session/*.rs' -f 'protocol/people/src/audit/*.rs' \
    -f protocol/people/src/gate.rs \
    --output target/mutants-people "$@" || true

# protocol-gateway's sans-IO limits (back-off, the connection table, rate limits, the
# defender), the hub's assertion and its replay guard, credentials and the token-in-URL rule,
# and the hub's guard with the audit records of refusals (gateway::refusals), against its own tests.
cargo mutants --no-shuffle -p protocol-gateway --features weaken \
    -f protocol/gateway/src/backoff.rs -f protocol/gateway/src/conns.rs \
    -f protocol/gateway/src/limits.rs -f protocol/gateway/src/defender.rs \
    -f protocol/gateway/src/assertion.rs -f protocol/gateway/src/http/credentials.rs \
    -f protocol/gateway/src/http/audited.rs -f protocol/gateway/src/hub/guard.rs \
    -f protocol/gateway/src/refusals.rs \
    --output target/mutants-gateway "$@" || true

# protocol-net's handshake slots, the contact file a job believes, and the event log (restore,
# torn tails, its lock), against its own tests.
cargo mutants --no-shuffle -p protocol-net --features weaken \
    -f protocol/net/src/server/slots.rs -f protocol/net/src/contact.rs -f protocol/net/src/eventlog.rs \
    --output target/mutants-net "$@" || true

for dir in target/mutants-core target/mutants-people target/mutants-gateway target/mutants-net; do
    if [ -f "$dir/mutants.out/outcomes.json" ]; then
        echo "== $dir"
        for kind in caught missed unviable timeout; do
            printf '%-9s %s\n' "$kind" "$(wc -l < "$dir/mutants.out/$kind.txt" 2>/dev/null || echo 0)"
        done
        n() { wc -l < "$dir/mutants.out/$1.txt" 2>/dev/null || echo 0; }
        killed=$(( $(n caught) + $(n timeout) ))
        viable=$(( killed + $(n missed) ))
        if [ "$viable" -gt 0 ]; then
            echo "score     $killed of $viable viable mutants killed ($(( 100 * killed / viable )) %)"
        fi
        echo "missed:"
        cat "$dir/mutants.out/missed.txt" 2>/dev/null || true
    fi
done
