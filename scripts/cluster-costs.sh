#!/usr/bin/env bash
# The per-unit costs behind the README's cluster capacity model, measured on this machine:
#
#   - memory on a node per person connected to it (cluster mode: a name claimed in NATS,
#     presence published), and per person connected to ANOTHER node (listed in its roster
#     and its rooms);
#   - memory in nats-server per person (a key in the names bucket) and per room (its records
#     in the rooms' one stream; each node reads it with one consumer);
#   - the size of a heartbeat and of a presence change on the wire.
#
#   scripts/cluster-costs.sh [PEOPLE] [ROOMS]     # defaults: 10000 people, 1000 rooms
#
# NATS_SERVER   nats-server binary [default: nats-server on PATH]
# PORT_A, PORT_B, NATS_PORT, MONITOR_PORT  [defaults: 16971, 16972, 14224, 18224]
#
# Starts nats-server -js (fresh store) and two chat-server nodes a and b (release builds),
# connects PEOPLE idle clients to node b (chat-client bench --idle, in lobby) and reads the
# resident memory of b, of a and of nats-server before and after; then, on fresh processes,
# PEOPLE/10 clients over ROOMS rooms, one room each in turn, to measure what a room costs.
# Prints one Markdown table. Loopback only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PEOPLE=${1:-10000}
ROOMS=${2:-1000}
NATS_SERVER=${NATS_SERVER:-nats-server}
PORT_A=${PORT_A:-16971}
PORT_B=${PORT_B:-16972}
NATS_PORT=${NATS_PORT:-14224}
MONITOR_PORT=${MONITOR_PORT:-18224}

source scripts/servers.sh # build_for_processes, wait_port
build_for_processes

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# start_cluster: fresh nats-server and nodes a, b; sets NATS_PID, A_PID, B_PID.
start_cluster() {
    rm -rf "$WORK/js" && mkdir -p "$WORK/js" "$WORK/a" "$WORK/b"
    "$NATS_SERVER" -js -sd "$WORK/js" -a 127.0.0.1 -p "$NATS_PORT" -m "$MONITOR_PORT" \
        >/dev/null 2>&1 &
    NATS_PID=$!
    PIDS+=("$NATS_PID")
    wait_port "$NATS_PORT"
    for node in a b; do
        local port=$PORT_A
        if [ "$node" = b ]; then port=$PORT_B; fi
        cat >"$WORK/$node/config.ini" <<INI
[server]
host = 127.0.0.1
port = $port
[limits]
messages_per_second = 0
max_clients = 0
max_per_ip = 0
rooms_per_user = 0
max_rooms = 0
[cluster]
nats = nats://127.0.0.1:$NATS_PORT
node = $node
INI
        "$BIN/chat-server" --config "$WORK/$node/config.ini" --http-port off --log-level error >/dev/null 2>&1 &
        PIDS+=("$!")
        if [ "$node" = a ]; then A_PID=$!; else B_PID=$!; fi
        wait_port "$port"
    done
    sleep 1 # the nodes' first heartbeats and snapshots
}
stop_cluster() {
    kill "$A_PID" "$B_PID" "$NATS_PID" 2>/dev/null || true
    wait "$A_PID" "$B_PID" "$NATS_PID" 2>/dev/null || true
    PIDS=()
}

# idle CLIENTS ROOMS: CLIENTS idle clients on node b over ROOMS rooms; prints the memory
# growth (kB) of b, a and nats-server.
idle() {
    local before_a before_b before_n
    before_a=$(rss_kb "$A_PID") before_b=$(rss_kb "$B_PID") before_n=$(rss_kb "$NATS_PID")
    "$BIN/chat-client" --host 127.0.0.1 --port "$PORT_B" --name idle --timeout 60 \
        bench --idle --clients "$1" --rooms "$2" --json >"$WORK/idle.json"
    echo "$(($(rss_kb "$B_PID") - before_b)) $(($(rss_kb "$A_PID") - before_a)) $(($(rss_kb "$NATS_PID") - before_n))"
}

echo "load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
start_cluster
read -r people_b people_a people_n < <(idle "$PEOPLE" 1)
stop_cluster

CLIENTS=$((PEOPLE / 10))
start_cluster
read -r rooms_b rooms_a rooms_n < <(idle "$CLIENTS" "$ROOMS")
stop_cluster
# The rooms run's people cost what the first run measured per person; the rest is rooms.
python3 - "$PEOPLE" "$CLIENTS" "$ROOMS" "$people_b" "$people_a" "$people_n" \
    "$rooms_b" "$rooms_a" "$rooms_n" <<'PY'
import sys
people, clients, rooms = map(int, sys.argv[1:4])
pb, pa, pn, rb, ra, rn = map(int, sys.argv[4:10])
per = lambda kb, n: kb * 1024 / n
def room_cost(total, per_person):
    return (total * 1024 - per_person * clients) / rooms
node_b, node_a, nats = per(pb, people), per(pa, people), per(pn, people)
print(f"{people} idle people on node b (lobby); then {clients} people over {rooms} rooms, one room each")
print()
print("| unit | where | measured |")
print("|---|---|---|")
print(f"| a person connected to the node | that node | {node_b:,.0f} B |")
print(f"| a person connected to another node | every other node | {node_a:,.0f} B |")
print(f"| a person (name key, presence) | nats-server | {nats:,.0f} B |")
print(f"| a room with members on one node (its task) | that node | {room_cost(rb, node_b):,.0f} B |")
print(f"| a room with members on another node | every other node | {room_cost(ra, node_a):,.0f} B |")
print(f"| a room (its records in the one stream) | nats-server | {room_cost(rn, nats):,.0f} B |")
PY
# Wire sizes of presence events, as bincode writes them (see cluster/presence.rs).
node_len=1
echo
echo "heartbeat payload: $((4 + 8 + node_len + 8 + 8)) B for a one-letter node name (+ the node name's length)"
echo "presence change (joined, 8-letter name, 8-letter room): $((4 + 8 + node_len + 8 + 8 + 4 + 8 + 8 + 8 + 8)) B"
