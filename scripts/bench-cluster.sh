#!/usr/bin/env bash
# A two-node cluster beside one chat-server and beside nats-server alone, on this machine,
# back to back: fan-out throughput at saturation and p99 latency at a fixed offered rate,
# to 100 and to 1,000 receivers; and what the cluster costs NATS per room message.
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
# CHAT_PORT     port for the single chat-server and the cluster's node a [default: 16969]
# CHAT_PORT_B   port for the cluster's node b [default: 16970]
# CLUSTER_PORT  port of the cluster's nats-server (JetStream) [default: 14223]
# MONITOR_PORT  its monitoring port, for /varz [default: 18223]
#
# Each run, every scenario in turn for the three setups, each run on fresh processes:
#
#   cluster: nats-server -js -sd DIR -a 127.0.0.1 -p $CLUSTER_PORT -m $MONITOR_PORT (a fresh
#   store directory), then chat-server nodes a ($CHAT_PORT) and b ($CHAT_PORT_B), each with
#   its own config.ini (limits off as in scripts/servers.sh, [cluster] nats = that server,
#   node = a or b), --log-level error; receivers spread over both, publisher on a:
#     chat-client --host 127.0.0.1 --port $CHAT_PORT --name bench --timeout 30 \
#         bench --json --server-pid PID_A --also 127.0.0.1:$CHAT_PORT_B ARGS
#   /varz in_msgs and out_msgs are read before the bench starts and after it ends: NATS
#   messages carried per room message = (in + out) ÷ messages sent. Connecting the
#   receivers costs NATS messages too (names, presence, joins), so each run also measures
#   that alone (an idle run with the same receivers, "setup-n100" and "setup-n1000") and the
#   table shows both the whole count and the count net of that setup.
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
# A cluster node keeps no history of its own (a room's log is its JetStream stream, file
# storage), so the cluster pays for persistence and the single node, history off, does not:
# scripts/bench-history.sh measures that cost alone.
#
# Builds chat-server and chat-client in release mode (in $CARGO_TARGET_DIR or target/). Each
# result is a JSON line in RESULTS.jsonl [default: bench-cluster.jsonl] with the load average
# at its start (and, for the cluster, the NATS message counts and the CPU seconds of each
# process over the whole run); the medians are printed as a Markdown table at the end
# (python3, which also reads /varz). Needs nothing on the ports above; loopback only.
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
OUT=${1:-bench-cluster.jsonl}

source scripts/servers.sh
need_nats_and_ports "$CHAT_PORT" "$CHAT_PORT_B" "$NATS_PORT" "$CLUSTER_PORT" "$MONITOR_PORT"

ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet -p chat-server -p chat-client
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d)
# The cluster's three processes, while they run (servers.sh keeps only one in SERVER_PID).
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

# varz: "IN OUT", the messages the cluster's nats-server has received and sent so far.
varz() {
    python3 - "$MONITOR_PORT" <<'PY'
import json, sys, urllib.request
v = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/varz", timeout=10))
print(v["in_msgs"], v["out_msgs"])
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

# start_node NAME PORT DIR: a cluster node in DIR (its config.ini), in the background.
start_node() {
    CHAT_PORT=$2 chat_config "$3" off
    cat >>"$3/config.ini" <<INI
[cluster]
nats = nats://127.0.0.1:$CLUSTER_PORT
node = $1
INI
    "$BIN/chat-server" --config "$3/config.ini" --http-port off --log-level error >"$3/log" 2>&1 &
    CLUSTER_PIDS+=($!)
}

# stop_cluster: its three processes, nodes first.
stop_cluster() {
    local pid
    for pid in "${CLUSTER_PIDS[2]}" "${CLUSTER_PIDS[1]}" "${CLUSTER_PIDS[0]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    CLUSTER_PIDS=()
}

# cluster SCENARIO ARGS...: one chat-client bench run, receivers over both nodes of a fresh
# cluster, with the NATS messages and every process's CPU time around it.
cluster() {
    local scenario=$1
    shift
    local dir="$RUN_DIR/cluster-$scenario"
    mkdir -p "$dir/js"
    local at json before after
    at=$(load)
    "$NATS_SERVER" -js -sd "$dir/js" -a 127.0.0.1 -p "$CLUSTER_PORT" -m "$MONITOR_PORT" \
        >"$dir/nats.log" 2>&1 &
    CLUSTER_PIDS=($!)
    wait_port "$CLUSTER_PORT"
    wait_port "$MONITOR_PORT"
    start_node a "$CHAT_PORT" "$dir/a"
    start_node b "$CHAT_PORT_B" "$dir/b"
    wait_port "$CHAT_PORT"
    wait_port "$CHAT_PORT_B"
    local pids=("${CLUSTER_PIDS[@]}") cpu_before=() cpu_after=() i
    for i in 0 1 2; do cpu_before+=("$(cpu "${pids[$i]}")"); done
    before=$(varz)
    json=$("$BIN/chat-client" --host 127.0.0.1 --port "$CHAT_PORT" --name bench --timeout 30 \
        bench --json --server-pid "${pids[1]}" --also "127.0.0.1:$CHAT_PORT_B" "$@") ||
        true # exit 1 on loss: still recorded
    after=$(varz)
    for i in 0 1 2; do cpu_after+=("$(cpu "${pids[$i]}")"); done
    stop_cluster
    for node in a b; do
        if [ -s "$dir/$node/log" ]; then
            echo "  cluster $scenario: node $node logged:" >&2
            head -n 5 "$dir/$node/log" | sed 's/^/    /' >&2
        fi
    done
    local extra
    extra=$(printf '"nats_msgs":{"in":%s,"out":%s},"cpu_s":{"nats":%s,"a":%s,"b":%s}' \
        $((${after% *} - ${before% *})) $((${after#* } - ${before#* })) \
        "$(minus "${cpu_after[0]}" "${cpu_before[0]}")" \
        "$(minus "${cpu_after[1]}" "${cpu_before[1]}")" \
        "$(minus "${cpu_after[2]}" "${cpu_before[2]}")")
    record "$scenario" cluster "$at" "$json" "$extra"
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
    cluster setup-n100 --idle --clients 100
    cluster setup-n1000 --idle --clients 1000
    cluster sat-n100 --clients 100 --publishers 1 --messages 50000 --size 64
    single sat-n100 --clients 100 --publishers 1 --messages 50000 --size 64
    nats sat-n100 -n 100 -p 1 -m 50000 --payload 64
    cluster sat-n1000 --clients 1000 --publishers 1 --messages 5000 --size 64
    single sat-n1000 --clients 1000 --publishers 1 --messages 5000 --size 64
    nats sat-n1000 -n 1000 -p 1 -m 5000 --payload 64
    cluster rate-n100 --clients 100 --messages 5000 --size 64 --rate 1000
    single rate-n100 --clients 100 --messages 5000 --size 64 --rate 1000
    nats rate-n100 -n 100 -p 1 -m 5000 --payload 64 --rate 1000
    cluster rate-n1000 --clients 1000 --messages 5000 --size 64 --rate 1000
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
dps = lambda r: r["result"]["deliveries_per_s"] / 1e6
lost = lambda r: r["result"]["lost"]
p99 = lambda r: r["result"]["latency"]["p99_us"] / 1000
p50 = lambda r: r["result"]["latency"]["p50_us"] / 1000
loads = [float(r["load"].split()[0]) for r in rows]
print(f"\nMedians of {sys.argv[2]} run(s) in {int(sys.argv[3])} s; 1-minute load average at the "
      f"start of each measurement {min(loads):.2f} to {max(loads):.2f}.\n")
print("| scenario | cluster (2 nodes) | single node | nats-server | cluster ÷ single |")
print("|---|---|---|---|---|")
servers = ["cluster", "single", "nats"]
for s, name in [("sat-n100", "100 receivers, saturation"), ("sat-n1000", "1,000 receivers, saturation")]:
    c, n, x = (med(s, srv, dps) for srv in servers)
    print(f"| {name}: deliveries/s | {fmt(c, '{:.2f} M')} | {fmt(n, '{:.2f} M')} | {fmt(x, '{:.2f} M')} "
          f"| {fmt(c and n and c / n, '{:.2f}x')} |")
for s, name in [("rate-n100", "1,000 msg/s to 100"), ("rate-n1000", "1,000 msg/s to 1,000")]:
    cells = [f"{fmt(med(s, srv, p50), '{:.2f}')} / {fmt(med(s, srv, p99), '{:.2f} ms')}" for srv in servers]
    c, n = med(s, "cluster", p99), med(s, "single", p99)
    verdict = "" if not (c and n) else (" ✓" if c <= 2 * n else " ✗")
    print(f"| {name}: p50 / p99 latency | " + " | ".join(cells)
          + f" | {fmt(c and n and c / n, '{:.2f}x')} (p99, target ≤ 2x){verdict} |")
for s in ["sat-n100", "sat-n1000", "rate-n100", "rate-n1000"]:
    cells = ["/".join(str(v) for v in vals(s, srv, lost)) or "n/a" for srv in servers]
    print(f"| {s}: lost (each run) | " + " | ".join(cells) + " | |")

def setup(n, side):
    return med(f"setup-n{n}", "cluster", lambda r: r["nats_msgs"][side])
def per_msg(r, side, net):
    count = r["nats_msgs"][side]
    if net:
        base = setup(r["result"]["clients"], side)
        if base is None:
            return None
        count -= base
    return count / r["result"]["sent"] if r["result"]["sent"] else None
print("\nNATS messages per room message, cluster, medians: whole run in + out = total; net of "
      "setup (minus the median of an idle run with the same receivers) in + out = total:")
for s in ["sat-n100", "sat-n1000", "rate-n100", "rate-n1000"]:
    def cell(net):
        inn, out = (med(s, "cluster", lambda r: per_msg(r, side, net)) for side in ["in", "out"])
        return (f"{fmt(inn, '{:.2f}')} + {fmt(out, '{:.2f}')} = "
                f"{fmt(inn is not None and out is not None and inn + out or None, '{:.2f}')}")
    print(f"- {s}: whole {cell(False)}; net {cell(True)}")
for n in [100, 1000]:
    print(f"- setup of {n} receivers alone (idle run): {fmt(setup(n, 'in'), '{:.0f}')} in + "
          f"{fmt(setup(n, 'out'), '{:.0f}')} out")
print("\nCPU seconds per run (median, whole run including connecting), cluster nats / a / b vs single:")
for s in ["sat-n100", "sat-n1000", "rate-n100", "rate-n1000"]:
    c = [med(s, "cluster", lambda r, k=k: r["cpu_s"][k]) for k in ["nats", "a", "b"]]
    print(f"- {s}: " + " / ".join(fmt(v, "{:.2f}") for v in c)
          + f" vs {fmt(med(s, 'single', lambda r: r['cpu_s']['server']), '{:.2f}')}")
PY
