#!/usr/bin/env bash
# Syscalls per echoed message of each TCP echo server (gort, tokio, smol,
# Go): the tcp_echo_throughput run (100 connections, 64-byte messages back
# to back, 2 workers) with the server process under
# `perf stat -e 'syscalls:sys_enter_*'` (every thread, from its start to
# its exit), divided by every echo the client got back (its `all_msgs`).
#
#   bash benches/syscalls.sh [millis]     (default 1000)
#
# Needs perf with the syscalls tracepoints (perf_event_paranoid <= 1 or
# root) and the release build of gort-bench-net (cargo bench builds it);
# Go's server when `go` is installed. Prints one table, Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
millis=${1:-1000}
target=${CARGO_TARGET_DIR:-target}
net="$target/release/gort-bench-net"
[ -x "$net" ] || { echo "build it first: cargo build --release -p gort-bench --bin gort-bench-net" >&2; exit 1; }
perf stat -e syscalls:sys_enter_epoll_wait true >/dev/null 2>&1 ||
    { echo "perf cannot count syscalls tracepoints here" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
servers=(gort tokio smol)
if command -v go >/dev/null; then
    (cd benches/go && go test -c -o "$tmp/go.test" >/dev/null) && servers+=(Go)
fi

for s in "${servers[@]}"; do
    if [ "$s" = Go ]; then
        cmd=(env GORT_BENCH_ECHO_SERVER=1 GOMAXPROCS=2 "$tmp/go.test" -test.run '^TestEchoServer$')
    else
        cmd=("$net" server "$s" 2)
    fi
    coproc SERVER { perf stat -e 'syscalls:sys_enter_*' -x, -o "$tmp/$s.perf" -- "${cmd[@]}"; }
    read -r line <&"${SERVER[0]}"
    port=${line#port=}
    "$net" client "127.0.0.1:$port" 100 "$millis" >"$tmp/$s.client" 2>"$tmp/$s.all"
    exec {SERVER[1]}>&-
    wait "$SERVER_PID" || true
done

# perf's CSV: count,,event,...; keep the non-zero counts.
awk -v servers="${servers[*]}" -v dir="$tmp" '
BEGIN {
    n = split(servers, s, " ")
    for (i = 1; i <= n; i++) {
        getline line < (dir "/" s[i] ".all")
        sub(/all_msgs=/, "", line); msgs[i] = line
        while ((getline line < (dir "/" s[i] ".perf")) > 0) {
            split(line, f, ",")
            if (f[3] !~ /^syscalls:sys_enter_/ || f[1] + 0 == 0) continue
            name = f[3]; sub(/syscalls:sys_enter_/, "", name)
            count[name, i] = f[1]; total[i] += f[1]; seen[name] = 1
        }
    }
    printf "| syscalls per echoed message |"
    for (i = 1; i <= n; i++) printf " %s |", s[i]
    printf "\n|---|"
    for (i = 1; i <= n; i++) printf "---|"
    printf "\n| echoes (all of the run) |"
    for (i = 1; i <= n; i++) printf " %d |", msgs[i]
    printf "\n"
    for (name in seen) {
        big = 0
        for (i = 1; i <= n; i++) if (count[name, i] / msgs[i] >= 0.001) big = 1
        if (!big) continue
        printf "| %s |", name
        for (i = 1; i <= n; i++) printf " %.3f |", count[name, i] / msgs[i]
        printf "\n"
    }
    printf "| **all** |"
    for (i = 1; i <= n; i++) printf " **%.3f** |", total[i] / msgs[i]
    printf "\n"
}' </dev/null
