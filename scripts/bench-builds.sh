#!/usr/bin/env bash
# Two builds of chat-server side by side in one run: for a change that must not change speed
# (a refactor), the figures before and after, measured alternately on the same machine.
#
#   scripts/bench-builds.sh OLD_BIN_DIR NEW_BIN_DIR [ROUNDS]
#
# Each BIN_DIR holds a release chat-server (e.g. a worktree of the old commit built with
# `cargo build --release -p chat-server`); the client is this checkout's release
# chat-client, built if missing. Per round and per build, in alternation: one room with 100
# receivers and with 1,000 (one publisher, messages of 64 B, two million deliveries, history
# off), and the idle memory of 1,000 registered clients; a fresh server for every case. Prints each run and the
# medians of ROUNDS (default 3) rounds: deliveries/s, the server's CPU time per delivery (ns),
# and its resident bytes per idle client.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ $# -lt 2 ]; then
    echo "usage: $0 OLD_BIN_DIR NEW_BIN_DIR [ROUNDS]" >&2
    exit 2
fi
OLD=$(cd "$1" && pwd)
NEW=$(cd "$2" && pwd)
ROUNDS=${3:-3}
CHAT_PORT=${CHAT_PORT:-17400}
NATS_SERVER=nats-server
NATS_CONF=/dev/null
NATS_PORT=0
# shellcheck source=servers.sh
source scripts/servers.sh

for build in "$OLD" "$NEW"; do
    [ -x "$build/chat-server" ] || { echo "no chat-server in $build" >&2; exit 1; }
done
cargo build --release -q -p chat-client
CLIENT=target/release/chat-client
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true' EXIT
chat_config "$WORK" off

# field JSON NAME: a number field of the bench's one JSON object.
field() {
    python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(v if v is not None else "nan")' "$1" "$2"
}

# run BUILD CASE: one measurement; prints "CASE BUILD VALUE..." to the results file.
run() {
    local label=$1 build=$2 case=$3 out
    BIN=$build start_chat "$WORK"
    case $case in
        fanout100 | fanout1000)
            # Two million deliveries either way: enough CPU time that the kernel's 10 ms
            # ticks of it are a few per cent at most.
            local clients=${case#fanout}
            out=$("$CLIENT" --port "$CHAT_PORT" --name bench bench --json \
                --clients "$clients" --messages $((2000000 / clients)) --server-pid "$SERVER_PID")
            echo "$case $label $(field "$out" deliveries_per_s) $(field "$out" server_cpu_ns_per_delivery)"
            ;;
        idle)
            out=$("$CLIENT" --port "$CHAT_PORT" --name bench bench --json --idle \
                --clients 1000 --server-pid "$SERVER_PID")
            echo "$case $label $(field "$out" bytes_per_client)"
            ;;
    esac
    stop_server
}

RESULTS="$WORK/results"
for round in $(seq "$ROUNDS"); do
    for case in fanout100 fanout1000 idle; do
        for pair in "old:$OLD" "new:$NEW"; do
            line=$(run "${pair%%:*}" "${pair#*:}" "$case")
            echo "round $round: $line"
            echo "$line" >>"$RESULTS"
        done
    done
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print()
print(f"{'case':<12}{'build':<6}{'deliveries/s':>16}{'CPU ns/delivery':>18}{'idle B/client':>16}")
for case in ["fanout100", "fanout1000", "idle"]:
    for build in ["old", "new"]:
        values = [r[2:] for r in rows if r[0] == case and r[1] == build]
        med = [statistics.median(float(v[i]) for v in values) for i in range(len(values[0]))]
        if case == "idle":
            print(f"{case:<12}{build:<6}{'':>16}{'':>18}{med[0]:>16,.0f}")
        else:
            print(f"{case:<12}{build:<6}{med[0]:>16,.0f}{med[1]:>18.1f}{'':>16}")
PY
