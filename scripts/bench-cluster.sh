#!/usr/bin/env bash
# A two-node cluster on one nats-server and on a cluster of three nats-servers (every stream
# kept three times), beside one chat-server and beside nats-server alone, on this machine,
# back to back: fan-out throughput at saturation and p99 latency at a fixed offered rate,
# to 100 and to 1,000 receivers; the room messages stored per second at saturation; and what
# the cluster costs NATS per room message.
#
#   FANOUT_BENCH=/path/to/fanout-bench NATS_CONF=/path/to/peers/nats.conf \
#       scripts/bench-cluster.sh [RESULTS.jsonl]
#
# FANOUT_BENCH  the fanout-bench load generator (built from the shared tools, release mode)
# NATS_CONF     its nats-server config (peers/nats.conf there: 127.0.0.1:14222), for the
#               nats-server-alone runs
# NATS_SERVER   nats-server binary [default: nats-server on PATH; Debian: apt-get install nats-server]
# NATS_PORT     the port NATS_CONF listens on [default: 14222]
# RUNS          runs per scenario, medians reported [default: 3]
# CHAT_PORT     port for the single chat-server and the clusters' node a [default: 16969]
# CHAT_PORT_B   port for the clusters' node b [default: 16970]
# CLUSTER_PORT  port of the R1 cluster's nats-server (JetStream) [default: 14223]
# MONITOR_PORT  its monitoring port, for /varz and /jsz [default: 18223]
# R3_PORT       client ports of the R3 cluster's three nats-servers: R3_PORT, +1, +2
#               [default: 14251]
# R3_ROUTE_PORT their cluster (route) ports, the same way [default: 16251]
# R3_MONITOR_PORT  their monitoring ports, the same way [default: 18251]
#
# Each run, every scenario in turn for the four setups (cluster R1, cluster R3, single node,
# nats-server alone, in that order), each run on fresh processes:
#
#   cluster R1: nats-server -js -sd DIR -a 127.0.0.1 -p $CLUSTER_PORT -m $MONITOR_PORT (a
#   fresh store directory), then chat-server nodes a ($CHAT_PORT) and b ($CHAT_PORT_B), each
#   with its own config.ini (limits off as in scripts/servers.sh, [cluster] nats = that
#   server, node = a or b), --log-level error.
#   cluster R3: three nats-servers n1, n2, n3, each
#     nats-server -js -sd DIR_i -n n$i -a 127.0.0.1 -p $R3_PORT+i -m $R3_MONITOR_PORT+i \
#         --cluster_name chatbench --cluster nats://127.0.0.1:$R3_ROUTE_PORT+i \
#         --routes nats://127.0.0.1:$R3_ROUTE_PORT,...+1,...+2
#   (i = 0, 1, 2; a fresh store directory each; routes to all three), then, once all three
#   report the same JetStream meta leader on /jsz (30 s at most), nodes a and b as for R1 but
#   with [cluster] nats = the three servers' URLs (comma-separated) and replicas = 3.
#   In both clusters, once the nodes listen, `chat-client send --room bench-ready` to each
#   node is repeated (every 0.2 s, 60 s at most) until the node confirms it: a node that
#   answers before JetStream has leaders for its streams refuses with ClusterUnavailable, and
#   the bench's clients would be refused the same way. The refusals are counted
#   ("ready_refused"), and the seconds from starting the nodes until both confirmed
#   ("ready_s"). Then receivers spread over both nodes, publisher on a:
#     chat-client --host 127.0.0.1 --port $CHAT_PORT --name bench --timeout 30 \
#         bench --json --server-pid PID_A --also 127.0.0.1:$CHAT_PORT_B ARGS
#   /varz in_msgs and out_msgs are read before the bench starts and after it ends (for R3,
#   summed over the three servers, so a message that crosses a route counts on both ends):
#   NATS messages carried per room message = (in + out) ÷ messages sent. Connecting the
#   receivers costs NATS messages too (names, presence, joins), so each run also measures
#   that alone (an idle run with the same receivers, "setup-n100" and "setup-n1000") and the
#   table shows both the whole count and the count net of that setup (marked as noise where
#   it is within the run-to-run spread of those idle runs' and the scenario's own counts:
#   R3's cost of connecting varies by thousands of messages). /jsz gives the records
#   of the rooms' stream (CHAT_ROOMS, the most any server holds) and its leader before and
#   after: records kept per room message, and whether the leader changed during the run.
#   single node: one chat-server on $CHAT_PORT, history off ([store] path = off), no
#   cluster; the same chat-client bench without --also.
#   nats-server alone: nats-server -c $NATS_CONF (core NATS, nothing kept), then
#     fanout-bench --proto nats --addr 127.0.0.1:$NATS_PORT --server-pid PID ARGS
#
#   scenarios (ARGS, chat-client bench / fanout-bench):
#     sat-n100    --clients 100 --messages 50000 --size 64 / -n 100 -p 1 -m 50000 --payload 64
#     sat-n1000   --clients 1000 --messages 5000 --size 64 / -n 1000 -p 1 -m 5000 --payload 64
#     rate-n100   the same to 100 with --rate 1000 and 5000 messages
#     rate-n1000  the same to 1,000 with --rate 1000 and 5000 messages
#
# Room messages stored per second at saturation = messages sent ÷ the bench's elapsed_s (first
# send to last receive) of the sat runs: a cluster node delivers nothing before JetStream has
# stored it (acknowledged by one server in R1, by two of three in R3), so with nothing lost
# every message sent was stored within that time.
#
# A cluster node keeps no history of its own (a room's log is its JetStream stream, file
# storage), so the cluster pays for persistence and the single node, history off, does not:
# scripts/bench-history.sh measures that cost alone.
#
# Builds chat-server and chat-client in release mode (in $CARGO_TARGET_DIR or target/). Each
# result is a JSON line in RESULTS.jsonl [default: bench-cluster.jsonl] with the load average
# at its start (and, for the clusters, the NATS message counts, the stream's records and
# leader, and the CPU seconds of each process over the whole run); the medians are printed
# as a Markdown table at the end (python3, which also reads /varz and /jsz). Needs nothing
# on the ports above; loopback only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${FANOUT_BENCH:?set FANOUT_BENCH to the fanout-bench binary}"
: "${NATS_CONF:?set NATS_CONF to the nats.conf of fanout-bench (peers/nats.conf)}"
NATS_SERVER=${NATS_SERVER:-nats-server}
NATS_PORT=${NATS_PORT:-14222}
RUNS=${RUNS:-3}
CHAT_PORT=${CHAT_PORT:-16969}
CHAT_PORT_B=${CHAT_PORT_B:-16970}
CLUSTER_PORT=${CLUSTER_PORT:-14223}
MONITOR_PORT=${MONITOR_PORT:-18223}
R3_PORT=${R3_PORT:-14251}
R3_ROUTE_PORT=${R3_ROUTE_PORT:-16251}
R3_MONITOR_PORT=${R3_MONITOR_PORT:-18251}
OUT=${1:-bench-cluster.jsonl}

R3_PORTS=("$R3_PORT" $((R3_PORT + 1)) $((R3_PORT + 2)))
R3_ROUTE_PORTS=("$R3_ROUTE_PORT" $((R3_ROUTE_PORT + 1)) $((R3_ROUTE_PORT + 2)))
R3_MONITOR_PORTS=("$R3_MONITOR_PORT" $((R3_MONITOR_PORT + 1)) $((R3_MONITOR_PORT + 2)))

source scripts/servers.sh
need_nats_and_ports "$CHAT_PORT" "$CHAT_PORT_B" "$NATS_PORT" "$CLUSTER_PORT" "$MONITOR_PORT" \
    "${R3_PORTS[@]}" "${R3_ROUTE_PORTS[@]}" "${R3_MONITOR_PORTS[@]}"

ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet -p chat-server -p chat-client
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d)
# A cluster's processes while they run, nats-servers first, then the nodes (servers.sh keeps
# only one in SERVER_PID).
CLUSTER_PIDS=()
cleanup() {
    for pid in "${CLUSTER_PIDS[@]}" $SERVER_PID; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
: >"$OUT"
STARTED=$SECONDS

load() { cut -d' ' -f1-3 /proc/loadavg; }

# cpu PID: its user + system CPU seconds so far (clock ticks of 1/100 s).
cpu() {
    sed 's/.*) //' "/proc/$1/stat" | awk '{ printf "%.2f", ($12 + $13) / 100 }'
}

# minus A B: A − B, for CPU seconds.
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# monitor WHAT PORT...: asks the monitoring ports of a cluster's nats-servers.
#   varz  "IN OUT": the messages they have received and sent so far, summed.
#   jsz   "RECORDS LEADER": the records of the rooms' stream (CHAT_ROOMS, the most any of
#         them holds; 0 before it exists) and its leader's name (- when none is known).
#   meta  waits (30 s at most) until every one names the same JetStream meta leader; prints
#         the seconds that took, or fails.
monitor() {
    python3 - "$@" <<'PY'
import json, sys, time, urllib.request
what, ports = sys.argv[1], sys.argv[2:]
def get(port, path):
    return json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10))
if what == "varz":
    vs = [get(p, "/varz") for p in ports]
    print(sum(v["in_msgs"] for v in vs), sum(v["out_msgs"] for v in vs))
elif what == "jsz":
    records, leader = 0, "-"
    for p in ports:
        for account in get(p, "/jsz?accounts=true&streams=true").get("account_details") or []:
            for stream in account.get("stream_detail") or []:
                if stream["name"] == "CHAT_ROOMS":
                    records = max(records, stream["state"]["messages"])
                    leader = (stream.get("cluster") or {}).get("leader") or leader
    print(records, leader)
elif what == "meta":
    started = time.monotonic()
    while True:
        try:
            leaders = {(get(p, "/jsz").get("meta_cluster") or {}).get("leader") for p in ports}
        except OSError:
            leaders = {None}
        if len(leaders) == 1 and None not in leaders and "" not in leaders:
            print(f"{time.monotonic() - started:.2f}")
            break
        if time.monotonic() - started > 30:
            sys.exit(f"no JetStream meta leader agreed on ports {' '.join(ports)} in 30 s: {leaders}")
        time.sleep(0.1)
PY
}

# record SCENARIO SERVER LOAD JSON [EXTRA]: one line of $OUT; EXTRA is more `"key":value`
# fields.
record() {
    if [ -z "$4" ]; then
        echo "$2 $1: no result" >&2
        return
    fi
    printf '{"run":%s,"scenario":"%s","server":"%s","load":"%s","result":%s%s}\n' \
        "$run" "$1" "$2" "$3" "$4" "${5:+,$5}" >>"$OUT"
}

# start_node NAME PORT DIR NATS REPLICAS: a cluster node in DIR (its config.ini), on the NATS
# URLs NATS (comma-separated), keeping REPLICAS copies of its streams, in the background.
start_node() {
    CHAT_PORT=$2 chat_config "$3" off
    cat >>"$3/config.ini" <<INI
[cluster]
nats = $4
replicas = $5
node = $1
INI
    "$BIN/chat-server" --config "$3/config.ini" --http-port off --log-level error >"$3/log" 2>&1 &
    CLUSTER_PIDS+=($!)
}

# wait_ready PORT: until the node on PORT confirms a room message (60 s at most); prints how
# many times it was refused first.
wait_ready() {
    local refused=0 started=$SECONDS
    until "$BIN/chat-client" --host 127.0.0.1 --port "$1" --name "ready$1" --timeout 5 \
        send --room bench-ready ready >/dev/null 2>&1; do
        refused=$((refused + 1))
        if ((SECONDS - started > 60)); then
            echo "the node on port $1 refused room messages for 60 s" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "$refused"
}

# stop_cluster: its processes, last started first (nodes, then nats-servers).
stop_cluster() {
    local i
    for ((i = ${#CLUSTER_PIDS[@]} - 1; i >= 0; i--)); do
        kill "${CLUSTER_PIDS[$i]}" 2>/dev/null || true
        wait "${CLUSTER_PIDS[$i]}" 2>/dev/null || true
    done
    CLUSTER_PIDS=()
}

# cluster KIND SCENARIO ARGS...: one chat-client bench run, receivers over both nodes of a
# fresh cluster of KIND (r1: one nats-server, r3: three, replicas = 3), with the NATS
# messages, the stream's records and every process's CPU time around it.
cluster() {
    local kind=$1 scenario=$2
    shift 2
    local dir="$RUN_DIR/$kind-$scenario"
    local at json before after jsz_before jsz_after urls replicas monitors=() names=() i
    local meta_s=null
    at=$(load)
    if [ "$kind" = r1 ]; then
        mkdir -p "$dir/js"
        "$NATS_SERVER" -js -sd "$dir/js" -a 127.0.0.1 -p "$CLUSTER_PORT" -m "$MONITOR_PORT" \
            >"$dir/nats.log" 2>&1 &
        CLUSTER_PIDS=($!)
        wait_port "$CLUSTER_PORT"
        wait_port "$MONITOR_PORT"
        monitors=("$MONITOR_PORT")
        names=(nats)
        urls=nats://127.0.0.1:$CLUSTER_PORT
        replicas=1
    else
        local routes
        routes=$(printf 'nats://127.0.0.1:%s,' "${R3_ROUTE_PORTS[@]}")
        CLUSTER_PIDS=()
        for i in 0 1 2; do
            mkdir -p "$dir/js$((i + 1))"
            "$NATS_SERVER" -js -sd "$dir/js$((i + 1))" -n "n$((i + 1))" -a 127.0.0.1 \
                -p "${R3_PORTS[$i]}" -m "${R3_MONITOR_PORTS[$i]}" --cluster_name chatbench \
                --cluster "nats://127.0.0.1:${R3_ROUTE_PORTS[$i]}" --routes "${routes%,}" \
                >"$dir/nats$((i + 1)).log" 2>&1 &
            CLUSTER_PIDS+=($!)
        done
        for i in 0 1 2; do
            wait_port "${R3_PORTS[$i]}"
            wait_port "${R3_MONITOR_PORTS[$i]}"
        done
        meta_s=$(monitor meta "${R3_MONITOR_PORTS[@]}")
        monitors=("${R3_MONITOR_PORTS[@]}")
        names=(n1 n2 n3)
        urls=$(printf 'nats://127.0.0.1:%s,' "${R3_PORTS[@]}")
        urls=${urls%,}
        replicas=3
    fi
    local ready_a ready_b ready_s nodes_started=$EPOCHREALTIME
    start_node a "$CHAT_PORT" "$dir/a" "$urls" "$replicas"
    start_node b "$CHAT_PORT_B" "$dir/b" "$urls" "$replicas"
    wait_port "$CHAT_PORT"
    wait_port "$CHAT_PORT_B"
    ready_a=$(wait_ready "$CHAT_PORT")
    ready_b=$(wait_ready "$CHAT_PORT_B")
    ready_s=$(awk -v a="$nodes_started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
    local pids=("${CLUSTER_PIDS[@]}") cpu_before=() cpu_after=() n=${#CLUSTER_PIDS[@]}
    for ((i = 0; i < n; i++)); do cpu_before+=("$(cpu "${pids[$i]}")"); done
    local logs=("$dir"/nats*.log) log_lines=()
    for i in "${!logs[@]}"; do log_lines+=("$(wc -l <"${logs[$i]}")"); done
    before=$(monitor varz "${monitors[@]}")
    jsz_before=$(monitor jsz "${monitors[@]}")
    json=$("$BIN/chat-client" --host 127.0.0.1 --port "$CHAT_PORT" --name bench --timeout 30 \
        bench --json --server-pid "${pids[n - 2]}" --also "127.0.0.1:$CHAT_PORT_B" "$@") ||
        true # exit 1 on loss: still recorded
    after=$(monitor varz "${monitors[@]}")
    local log_end=()
    for i in "${!logs[@]}"; do log_end+=("$(wc -l <"${logs[$i]}")"); done
    jsz_after=$(monitor jsz "${monitors[@]}")
    for ((i = 0; i < n; i++)); do cpu_after+=("$(cpu "${pids[$i]}")"); done
    stop_cluster
    for node in a b; do
        if [ -s "$dir/$node/log" ]; then
            echo "  $kind $scenario: node $node logged:" >&2
            head -n 5 "$dir/$node/log" | sed 's/^/    /' >&2
        fi
    done
    local warned
    warned=$(for i in "${!logs[@]}"; do
        sed -n "$((log_lines[i] + 1)),${log_end[i]}p" "${logs[$i]}" | grep '\[ERR\]\|\[WRN\]' || true
    done)
    if [ -n "$warned" ]; then
        echo "  $kind $scenario: nats-server logged during the bench:" >&2
        head -n 5 <<<"$warned" | sed 's/^/    /' >&2
    fi
    if [ "${jsz_before#* }" != "${jsz_after#* }" ]; then
        echo "  $kind $scenario: the rooms' stream leader went from ${jsz_before#* } to" \
            "${jsz_after#* } during the run" >&2
    fi
    local cpus="" nats_cpu=0 used
    for ((i = 0; i < n - 2; i++)); do
        used=$(minus "${cpu_after[$i]}" "${cpu_before[$i]}")
        nats_cpu=$(awk -v a="$nats_cpu" -v b="$used" 'BEGIN { printf "%.2f", a + b }')
        if [ "$kind" = r3 ]; then cpus+=$(printf '"%s":%s,' "${names[$i]}" "$used"); fi
    done
    local extra
    extra=$(printf '"nats_msgs":{"in":%s,"out":%s},"stream":{"records":%s,"leader_before":"%s","leader_after":"%s"},"meta_leader_s":%s,"ready_refused":{"a":%s,"b":%s},"ready_s":%s,"cpu_s":{"nats":%s,%s"a":%s,"b":%s}' \
        $((${after% *} - ${before% *})) $((${after#* } - ${before#* })) \
        $((${jsz_after% *} - ${jsz_before% *})) "${jsz_before#* }" "${jsz_after#* }" \
        "$meta_s" "$ready_a" "$ready_b" "$ready_s" "$nats_cpu" "$cpus" \
        "$(minus "${cpu_after[n - 2]}" "${cpu_before[n - 2]}")" \
        "$(minus "${cpu_after[n - 1]}" "${cpu_before[n - 1]}")")
    record "$scenario" "$([ "$kind" = r1 ] && echo cluster || echo cluster-r3)" "$at" "$json" "$extra"
    rm -rf "$dir"
}
# single SCENARIO ARGS...: one chat-client bench run against a fresh chat-server, history off.
single() {
    local scenario=$1
    shift
    local dir="$RUN_DIR/single-$scenario"
    chat_config "$dir" off
    local at json cpu_before
    at=$(load)
    start_chat "$dir"
    cpu_before=$(cpu "$SERVER_PID")
    json=$("$BIN/chat-client" --host 127.0.0.1 --port "$CHAT_PORT" --name bench --timeout 30 \
        bench --json --server-pid "$SERVER_PID" "$@") || true
    local extra
    extra=$(printf '"cpu_s":{"server":%s}' "$(minus "$(cpu "$SERVER_PID")" "$cpu_before")")
    stop_server
    record "$scenario" single "$at" "$json" "$extra"
    rm -rf "$dir"
}

# nats SCENARIO ARGS...: one fanout-bench run against a fresh nats-server (core NATS).
nats() {
    local scenario=$1
    shift
    local at json
    at=$(load)
    start_nats
    json=$("$FANOUT_BENCH" --proto nats --addr "127.0.0.1:$NATS_PORT" --server-pid "$SERVER_PID" \
        "$@" 2>/dev/null | sed -n 's/^RESULT //p') || true
    stop_server
    record "$scenario" nats "$at" "$json"
}

for run in $(seq "$RUNS"); do
    echo "run $run of $RUNS; load average $(load)" >&2
    RUN_DIR="$WORK/run-$run"
    mkdir -p "$RUN_DIR"
    cluster r1 setup-n100 --idle --clients 100
    cluster r1 setup-n1000 --idle --clients 1000
    cluster r3 setup-n100 --idle --clients 100
    cluster r3 setup-n1000 --idle --clients 1000
    cluster r1 sat-n100 --clients 100 --publishers 1 --messages 50000 --size 64
    cluster r3 sat-n100 --clients 100 --publishers 1 --messages 50000 --size 64
    single sat-n100 --clients 100 --publishers 1 --messages 50000 --size 64
    nats sat-n100 -n 100 -p 1 -m 50000 --payload 64
    cluster r1 sat-n1000 --clients 1000 --publishers 1 --messages 5000 --size 64
    cluster r3 sat-n1000 --clients 1000 --publishers 1 --messages 5000 --size 64
    single sat-n1000 --clients 1000 --publishers 1 --messages 5000 --size 64
    nats sat-n1000 -n 1000 -p 1 -m 5000 --payload 64
    cluster r1 rate-n100 --clients 100 --messages 5000 --size 64 --rate 1000
    cluster r3 rate-n100 --clients 100 --messages 5000 --size 64 --rate 1000
    single rate-n100 --clients 100 --messages 5000 --size 64 --rate 1000
    nats rate-n100 -n 100 -p 1 -m 5000 --payload 64 --rate 1000
    cluster r1 rate-n1000 --clients 1000 --messages 5000 --size 64 --rate 1000
    cluster r3 rate-n1000 --clients 1000 --messages 5000 --size 64 --rate 1000
    single rate-n1000 --clients 1000 --messages 5000 --size 64 --rate 1000
    nats rate-n1000 -n 1000 -p 1 -m 5000 --payload 64 --rate 1000
done

python3 - "$OUT" "$RUNS" "$((SECONDS - STARTED))" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def vals(scenario, server, pick):
    out = [pick(r) for r in rows if r["scenario"] == scenario and r["server"] == server]
    return [v for v in out if v is not None]
def med(scenario, server, pick):
    v = vals(scenario, server, pick)
    return statistics.median(v) if v else None
def fmt(v, unit):
    return "n/a" if v is None else unit.format(v)
def ratio(a, b):
    return None if a is None or not b else a / b
dps = lambda r: r["result"]["deliveries_per_s"] / 1e6
lost = lambda r: r["result"]["lost"]
p99 = lambda r: r["result"]["latency"]["p99_us"] / 1000
p50 = lambda r: r["result"]["latency"]["p50_us"] / 1000
loads = [float(r["load"].split()[0]) for r in rows]
print(f"\nMedians of {sys.argv[2]} run(s) in {int(sys.argv[3])} s; 1-minute load average at the "
      f"start of each measurement {min(loads):.2f} to {max(loads):.2f}.\n")
print("| scenario | cluster R1 (2 nodes, 1 NATS) | cluster R3 (2 nodes, 3 NATS) | single node "
      "| nats-server | R1 ÷ single | R3 ÷ R1 |")
print("|---|---|---|---|---|---|---|")
servers = ["cluster", "cluster-r3", "single", "nats"]
for s, name in [("sat-n100", "100 receivers, saturation"), ("sat-n1000", "1,000 receivers, saturation")]:
    r1, r3, n, x = (med(s, srv, dps) for srv in servers)
    print(f"| {name}: deliveries/s | " + " | ".join(fmt(v, "{:.2f} M") for v in (r1, r3, n, x))
          + f" | {fmt(ratio(r1, n), '{:.2f}x')} | {fmt(ratio(r3, r1), '{:.2f}x')} |")
for s, name in [("rate-n100", "1,000 msg/s to 100"), ("rate-n1000", "1,000 msg/s to 1,000")]:
    cells = [f"{fmt(med(s, srv, p50), '{:.2f}')} / {fmt(med(s, srv, p99), '{:.2f} ms')}" for srv in servers]
    r1, r3, n = (med(s, srv, p99) for srv in servers[:3])
    verdict = "" if not (r1 and n) else (" ✓" if r1 <= 2 * n else " ✗")
    print(f"| {name}: p50 / p99 latency | " + " | ".join(cells)
          + f" | {fmt(ratio(r1, n), '{:.2f}x')} (p99, target ≤ 2x){verdict} "
          f"| {fmt(ratio(r3, r1), '{:.2f}x')} (p99) |")
for s in ["sat-n100", "sat-n1000", "rate-n100", "rate-n1000"]:
    cells = ["/".join(str(v) for v in vals(s, srv, lost)) or "n/a" for srv in servers]
    print(f"| {s}: lost (each run) | " + " | ".join(cells) + " | | |")

clusters = [("cluster", "R1"), ("cluster-r3", "R3")]
stored = lambda r: r["result"]["sent"] / r["result"]["elapsed_s"] if r["result"]["elapsed_s"] else None
records = lambda r: r["stream"]["records"] / r["result"]["elapsed_s"] if r["result"]["elapsed_s"] else None
per_record = lambda r: r["result"]["sent"] / r["stream"]["records"] if r["stream"]["records"] else None
print("\nRoom messages stored per second at saturation (messages sent ÷ the bench's elapsed_s, "
      "first send to last receive; nothing is delivered before JetStream stored it), medians; "
      "in brackets the stream's records per second and room messages per record (a record "
      "carries the bursts that waited together):")
for s in ["sat-n100", "sat-n1000"]:
    cells = []
    for srv, name in clusters:
        cells.append(f"{name} {fmt(med(s, srv, stored), '{:,.0f}')} msg/s "
                     f"({fmt(med(s, srv, records), '{:,.0f}')} records/s, "
                     f"{fmt(med(s, srv, per_record), '{:.1f}')} per record)")
    r1, r3 = (med(s, srv, stored) for srv, _ in clusters)
    print(f"- {s}: " + "; ".join(cells) + f"; R3 ÷ R1 {fmt(ratio(r3, r1), '{:.2f}x')}")

def setup(srv, n, side):
    return med(f"setup-n{n}", srv, lambda r: r["nats_msgs"][side])
def per_msg(srv, r, side, net):
    count = r["nats_msgs"][side]
    if net:
        base = setup(srv, r["result"]["clients"], side)
        if base is None:
            return None
        count -= base
    return count / r["result"]["sent"] if r["result"]["sent"] else None
print("\nNATS messages per room message (/varz; R3 summed over its three servers, so a message "
      "crossing a route counts on both ends), medians: whole run in + out = total; net of setup "
      "(minus the median of an idle run with the same receivers) in + out = total:")
for srv, name in clusters:
    for s in ["sat-n100", "sat-n1000", "rate-n100", "rate-n1000"]:
        def cell(net):
            inn, out = (med(s, srv, lambda r: per_msg(srv, r, side, net)) for side in ["in", "out"])
            return (f"{fmt(inn, '{:.2f}')} + {fmt(out, '{:.2f}')} = "
                    f"{fmt(None if inn is None or out is None else inn + out, '{:.2f}')}")
        # Connecting the receivers costs a different count from run to run (R3 much more
        # than R1): a net count within the spread of the idle runs' and these runs' counts
        # is noise.
        total = lambda r: r["nats_msgs"]["in"] + r["nats_msgs"]["out"]
        idle = vals(f"setup-n{100 if s.endswith('n100') else 1000}", srv, total)
        whole = vals(s, srv, total)
        sent = med(s, srv, lambda r: r["result"]["sent"])
        note = ""
        if len(idle) > 1 and len(whole) > 1 and sent:
            spread = (max(idle) - min(idle) + max(whole) - min(whole)) / sent
            net = med(s, srv, lambda r: per_msg(srv, r, "in", True) + per_msg(srv, r, "out", True)
                      if per_msg(srv, r, "in", True) is not None else None)
            if net is not None and abs(net) <= spread:
                note = (f" (net within the run-to-run spread of the idle runs and of these, "
                        f"{spread:.2f} per message: noise)")
        print(f"- {name} {s}: whole {cell(False)}; net {cell(True)}{note}")
    for n in [100, 1000]:
        print(f"- {name} setup of {n} receivers alone (idle run): {fmt(setup(srv, n, 'in'), '{:.0f}')} in + "
              f"{fmt(setup(srv, n, 'out'), '{:.0f}')} out")
print("\nCPU seconds per run (median, whole run including connecting), nats-server(s) / a / b "
      "for R1 and R3 (R3's nats-servers summed, then n1 + n2 + n3) vs single:")
for s in ["sat-n100", "sat-n1000", "rate-n100", "rate-n1000"]:
    cells = []
    for srv, name in clusters:
        c = [med(s, srv, lambda r, k=k: r["cpu_s"][k]) for k in ["nats", "a", "b"]]
        cells.append(f"{name} " + " / ".join(fmt(v, "{:.2f}") for v in c))
    each = [med(s, "cluster-r3", lambda r, k=k: r["cpu_s"].get(k)) for k in ["n1", "n2", "n3"]]
    print(f"- {s}: " + "; ".join(cells) + " (" + " + ".join(fmt(v, "{:.2f}") for v in each) + ")"
          + f" vs single {fmt(med(s, 'single', lambda r: r['cpu_s']['server']), '{:.2f}')}")

elections = [r for r in rows if r["server"].startswith("cluster")
             and r["stream"]["leader_before"] != r["stream"]["leader_after"]]
refused = [r for r in rows if r["server"].startswith("cluster")
           and (r["ready_refused"]["a"] or r["ready_refused"]["b"])]
meta = [r["meta_leader_s"] for r in rows if r.get("meta_leader_s") is not None]
ready = {srv: [r["ready_s"] for r in rows if r["server"] == srv] for srv, _ in clusters}
print(f"\nR3: JetStream meta leader agreed {fmt(min(meta) if meta else None, '{:.1f}')} to "
      f"{fmt(max(meta) if meta else None, '{:.1f}')} s after the servers listened; "
      f"{len(refused)} cluster run(s) where a node refused the readiness message first "
      f"(at most {max([max(r['ready_refused'].values()) for r in refused], default=0)} times); "
      f"{len(elections)} run(s) where the rooms' stream changed leader during the bench. "
      "Seconds from starting the nodes until both confirmed a room message: "
      + "; ".join(f"{name} {fmt(min(ready[srv]) if ready[srv] else None, '{:.2f}')} to "
                  f"{fmt(max(ready[srv]) if ready[srv] else None, '{:.2f}')}" for srv, name in clusters)
      + ".")
PY
