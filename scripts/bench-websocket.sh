#!/usr/bin/env bash
# What a WebSocket receiver costs beside a TCP one, side by side in one run on this machine,
# with one load generator for both (server/examples/ws_load.rs), so that the runs differ only
# in the receivers' transport:
#   - idle: server resident memory per receiver, 1,000 receivers registered in lobby;
#   - fan-out: deliveries/s to 100 receivers, one TCP publisher, MESSAGES messages.
# Each measure runs RUNS times per transport, alternating which goes first, each against a
# fresh chat-server (history off, limits off); it prints medians and the WebSocket ÷ TCP ratio
# (the target: at most 1.5 in both).
#
# CHAT_PORT     chat port [default: 16969]
# WEB_PORT      web port [default: 18080]
# RUNS          runs per transport and measure [default: 3]
# MESSAGES      messages in each fan-out run [default: 20000]
#
# Builds chat-server and the example in release mode (in $CARGO_TARGET_DIR or target/).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CHAT_PORT=${CHAT_PORT:-16969}
WEB_PORT=${WEB_PORT:-18080}
RUNS=${RUNS:-3}
MESSAGES=${MESSAGES:-20000}
BIN=${CARGO_TARGET_DIR:-target}/release
NATS_SERVER=nats-server NATS_CONF=/dev/null NATS_PORT=0
# shellcheck source=scripts/servers.sh
. scripts/servers.sh

for port in "$CHAT_PORT" "$WEB_PORT"; do
    if ss -ltnH "sport = :$port" | grep -q LISTEN; then
        echo "something already listens on port $port" >&2
        exit 1
    fi
done
cargo build --release --quiet -p chat-server --bin chat-server --example ws_load
LOAD="$BIN/examples/ws_load"
WORK=$(mktemp -d)
trap '[ -n "$SERVER_PID" ] && stop_server; rm -rf "$WORK"' EXIT
chat_config "$WORK" off
OUT="$WORK/results"

# one MEASURE TRANSPORT: one run against a fresh server; appends its RESULT line to $OUT.
one() {
    start_chat "$WORK" "$WEB_PORT"
    wait_port "$WEB_PORT"
    local args=(--chat "127.0.0.1:$CHAT_PORT" --web "127.0.0.1:$WEB_PORT" --transport "$2")
    if [ "$1" = idle ]; then
        args+=(--idle --clients 1000 --server-pid "$SERVER_PID")
    else
        args+=(--clients 100 --messages "$MESSAGES")
    fi
    "$LOAD" "${args[@]}" | grep '^RESULT ' | sed "s/^RESULT /$1 /" >>"$OUT"
    stop_server
}

for run in $(seq "$RUNS"); do
    for measure in idle fanout; do
        if [ $((run % 2)) -eq 1 ]; then order=(tcp websocket); else order=(websocket tcp); fi
        for transport in "${order[@]}"; do
            one "$measure" "$transport"
        done
    done
done

python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys
rows = [line.split(" ", 1) for line in open(sys.argv[1])]
def median(measure, transport, key):
    values = [json.loads(r)[key] for m, r in rows
              if m == measure and json.loads(r)["transport"].lower() == transport]
    return statistics.median(values), values
print(f"runs per transport and measure: {sys.argv[2]}")
print("| measure | TCP | WebSocket | WebSocket ÷ TCP |")
print("|---|---|---|---|")
tcp, tv = median("idle", "tcp", "bytes_per_client")
ws, wv = median("idle", "websocket", "bytes_per_client")
print(f"| server memory per idle receiver, 1,000 receivers | {tcp/1000:.1f} kB | {ws/1000:.1f} kB | {ws/tcp:.2f} |")
tcp_r, trv = median("fanout", "tcp", "deliveries_per_sec")
ws_r, wrv = median("fanout", "websocket", "deliveries_per_sec")
# Cost per delivery is the inverse of the rate.
print(f"| deliveries/s, 100 receivers | {tcp_r/1e6:.2f} M | {ws_r/1e6:.2f} M | {tcp_r/ws_r:.2f} (cost) |")
lost = sum(json.loads(r)["lost"] for m, r in rows if m == "fanout")
print(f"lost deliveries in all fan-out runs: {lost}")
print(f"all runs: idle tcp {tv}, ws {wv}; fan-out tcp {trv}, ws {wrv}")
PY
