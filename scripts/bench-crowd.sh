#!/usr/bin/env bash
# 100,000 people on one node: that many connections over loopback to one chat-server (history
# on, a fresh chat.db), the server's memory per client, the time one message takes to reach all
# of them, and a reconnect storm: the server is stopped and started again on the same chat.db,
# and every client comes back and catches up from its last seq while a publisher keeps sending.
#
#   scripts/bench-crowd.sh [CLIENTS]
#
# CLIENTS       connections [default: 100000]
# ROOMS         rooms they are spread over [default: 1, everyone in lobby]
# STORM_RATE    messages a second the publisher sends to each room during the storm [default: 5]
# STOP_SIGNAL   how the server is stopped for the storm: TERM (a restart: it says goodbye to
#               everyone) or KILL (a crash) [default: TERM]
# CONCURRENCY   handshakes in progress at once, at the start and in the storm [default: 256]
# CHAT_PORT     port for chat-server [default: 16969]
# LOG_LEVEL     the server's log level [default: error]
#
# What it runs, after building release binaries (in $CARGO_TARGET_DIR or target/):
#
#   chat-server --config DIR/config.ini   (limits off as in servers.sh's chat_config, [store]
#                                          path = chat.db in DIR, a fresh temporary directory)
#   chat-client --host 127.0.0.1 --port $CHAT_PORT --name crowd --timeout 30 \
#       bench --crowd --clients $CLIENTS --rooms $ROOMS --storm restart --storm-rate $STORM_RATE \
#       --connect-concurrency $CONCURRENCY --server-pid PID --json
#
# and when the benchmark says `storm: ready` on stderr, stops the server with STOP_SIGNAL and
# starts it again on the same config and chat.db. The benchmark spreads its connections over
# 127.0.0.1 to 127.0.0.K (enough addresses for half their ephemeral ports each) and raises its
# own open-file limit; this script raises the server's (ulimit -n, hard limit too), and the
# kernel's fs.file-max and fs.nr_open when they are too low for that, saying what it changed.
# It needs nothing on CHAT_PORT, root for limits beyond the hard ones, and about 2 GB of memory
# per 100,000 clients (server, benchmark and the kernel's sockets together).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CLIENTS=${1:-100000}
ROOMS=${ROOMS:-1}
STORM_RATE=${STORM_RATE:-5}
STOP_SIGNAL=${STOP_SIGNAL:-TERM}
CONCURRENCY=${CONCURRENCY:-256}
CHAT_PORT=${CHAT_PORT:-16969}

source scripts/servers.sh
need_ports "$CHAT_PORT"

# at_least KEY VALUE: raises the sysctl KEY to VALUE if it is lower, saying so.
at_least() {
    local now
    now=$(sysctl -n "$1")
    if [ "$now" -ge "$2" ]; then
        echo "kernel: $1 = $now (enough)" >&2
    elif sysctl -qw "$1=$2" 2>/dev/null; then
        echo "kernel: $1 raised from $now to $2" >&2
    else
        echo "kernel: $1 = $now, below $2, and cannot be raised here" >&2
    fi
}

# Each side of a connection is one open file in its own process (the server's, the
# benchmark's), and each process needs a few more (listener, chat.db, the runtime).
FILES=$((CLIENTS + 256))
at_least fs.nr_open "$FILES"
at_least fs.file-max $((2 * FILES + 65536))
for key in net.ipv4.ip_local_port_range net.core.somaxconn net.ipv4.tcp_max_tw_buckets; do
    echo "kernel: $key = $(sysctl -n "$key" | tr '\t' ' ') (unchanged)" >&2
done
if [ "$(ulimit -Hn)" -lt "$FILES" ]; then
    hard=$(ulimit -Hn)
    if ! ulimit -Hn "$FILES" 2>/dev/null; then
        echo "server: the hard open-file limit is $hard and cannot be raised here (it takes root" \
            "with CAP_SYS_RESOURCE): at most $((hard - 256)) clients" >&2
        exit 1
    fi
    echo "server: hard open-file limit raised from $hard to $FILES" >&2
fi
if [ "$(ulimit -n)" -lt "$(ulimit -Hn)" ]; then
    echo "server: open-file limit raised from $(ulimit -n) to $(ulimit -Hn)" >&2
    ulimit -n "$(ulimit -Hn)"
fi
echo "server: open-file limit $(ulimit -n)" >&2

cargo build --release --quiet -p chat-server -p chat-client
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d)
BENCH_PID=
cleanup() {
    if [ -n "$BENCH_PID" ]; then kill "$BENCH_PID" 2>/dev/null || true; fi
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

chat_config "$WORK" chat.db
start_chat "$WORK"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) before the run (2 cores)" >&2
"$BIN/chat-client" --host 127.0.0.1 --port "$CHAT_PORT" --name crowd --timeout 30 \
    bench --crowd --clients "$CLIENTS" --rooms "$ROOMS" --storm restart \
    --storm-rate "$STORM_RATE" --connect-concurrency "$CONCURRENCY" \
    --server-pid "$SERVER_PID" --json >"$WORK/report.json" 2>"$WORK/bench.err" &
BENCH_PID=$!

# Until the benchmark is ready for the storm (or gone).
until grep -qs '^storm: ready' "$WORK/bench.err"; do
    if ! kill -0 "$BENCH_PID" 2>/dev/null; then break; fi
    sleep 0.2
done
if kill -0 "$BENCH_PID" 2>/dev/null; then
    down=$(date +%s%N)
    stop_server "$STOP_SIGNAL"
    stopped=$(date +%s%N)
    start_chat "$WORK"
    up=$(date +%s%N)
    echo "server stopped (SIG$STOP_SIGNAL) in $(((stopped - down) / 1000000)) ms, listening again \
$(((up - down) / 1000000)) ms after the stop began" >&2
fi
status=0
wait "$BENCH_PID" || status=$?
BENCH_PID=
cat "$WORK/bench.err" >&2
stop_server

if [ ! -s "$WORK/report.json" ]; then
    echo "no report (exit status $status)" >&2
    exit 1
fi
python3 - "$WORK/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d, c = r["delivery"], r["check"]
print(f"{r['clients']:,} clients in {'lobby' if r['rooms'] == 1 else str(r['rooms']) + ' rooms'}, "
      f"from {r['source_addrs']} source addresses; connected in {r['setup_s']:.1f} s ({r['open_files']})")
if r["bytes_per_client"] is not None:
    print(f"server memory: {r['server_rss_kb_before']:,} kB -> {r['server_rss_kb_connected']:,} kB, "
          f"{r['bytes_per_client'] / 1024:.2f} kB per client")
print(f"one message to {d['reached']:,}: all had it after {d['all_ms']:.0f} ms "
      f"(p50 {d['p50_ms']:.0f} ms, p99 {d['p99_ms']:.0f} ms)")
s = r["storm"]
if s:
    b = s["back"]
    print(f"reconnect storm ({s['how']}): {s['dropped']:,} dropped, {b['reached']:,} back and caught up, "
          f"all after {b['all_ms'] / 1e3:.1f} s (p50 {b['p50_ms'] / 1e3:.1f} s, p99 {b['p99_ms'] / 1e3:.1f} s; "
          f"target 60 s: {'met' if b['reached'] == r['clients'] and b['all_ms'] <= 60e3 else 'missed'}); "
          f"{s['rounds']} messages per room sent meanwhile, {s['failed_attempts']:,} failed connection attempts")
print(f"check: seq {c['first_seqs']}..{c['last_seqs']} in every client, {c['received']:,} of {c['expected']:,} "
      f"received; missed {c['missed']}, twice {c['twice']}, behind {c['behind']}, gone {c['gone']}")
PY
exit "$status"
