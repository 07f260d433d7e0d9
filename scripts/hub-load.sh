#!/usr/bin/env bash
# A bounded load run against the real hub: how a legitimate user's GET /me is served while
# floods run (quiet; 64 parallel wrong-password logins; 1,500 slow connections; 1,100 silent
# sockets against a hub limited to 1,024 open files), with the hub at its default limits and
# its own /operator/status counters. See server/examples/hub_load/main.rs.
#
#   scripts/hub-load.sh                # about a minute after the build; stops by itself
#   scripts/hub-load.sh --seconds 5    # shorter phases (1..=30 s each; the slow-connection
#                                      # phase measures at least 15 s, past the 10 s header timeout)
#   HUB_LOAD_HUB=/path/threatcheck-server scripts/hub-load.sh   # measure another hub binary
#
# Builds the deployable hub (`-p threatcheck-server`, production build) and the load generator,
# raises this shell's open-file soft limit for the generator (it holds up to 1,500 sockets at
# once; the hub of phases 1-3 inherits the same limit), and runs the fourth phase's hub under
# `prlimit --nofile=1024:1024` (or a `ulimit -n 1024` wrapper that execs it). Traffic stays on
# 127.0.0.0/8. Exits 0 when the run completed whatever the figures (PASS/MISS are informative),
# 1 when the hub could not start, the legitimate user could not log in or be served in the quiet
# phase, or a hub died.
set -euo pipefail
cd "$(dirname "$0")/.."

need_fds=2700
want_fds=8192

cargo build --release -p threatcheck-server --bin threatcheck-server --example hub_load

hard=$(ulimit -Hn)
if [[ $hard == unlimited ]] || ((hard >= want_fds)); then
    target=$want_fds
else
    target=$hard
fi
soft=$(ulimit -Sn)
if [[ $soft != unlimited ]] && ((soft < target)); then
    ulimit -Sn "$target" || echo "hub-load: ERROR: cannot raise the open-file soft limit to $target" >&2
fi
soft=$(ulimit -Sn)
if [[ $soft != unlimited ]] && ((soft < need_fds)); then
    echo "hub-load: ERROR: the load generator needs at least $need_fds open files; the soft limit is $soft" \
        "and the hard limit $hard (raise the hard limit, e.g. in limits.conf, and retry)" >&2
    exit 1
fi

# The fourth phase's hub: exactly 1,024 open files, and the wrapper must exec the hub so that
# the child's pid is the hub's (the generator reads its /proc entries).
if command -v prlimit >/dev/null 2>&1; then
    wrapper=(prlimit --nofile=1024:1024 --)
else
    wrapper=(bash -c 'ulimit -n 1024 && exec "$@"' nofile-1024)
fi

hub=${HUB_LOAD_HUB:-target/release/threatcheck-server}
start=$(date +%s)
rc=0
target/release/examples/hub_load --hub "$hub" "$@" -- "${wrapper[@]}" || rc=$?
echo "hub-load: wall time $(($(date +%s) - start)) s (exit $rc)"
exit "$rc"
