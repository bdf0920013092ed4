#!/usr/bin/env bash
# chat-server beside nats-server, on this machine, back to back: fan-out throughput at
# saturation, p99 latency at a fixed offered rate, and resident memory per idle client.
#
#   FANOUT_BENCH=/path/to/fanout-bench NATS_CONF=/path/to/peers/nats.conf \
#       scripts/compare-nats.sh [RESULTS.jsonl]
#
# FANOUT_BENCH  the fanout-bench load generator (built from the shared tools, release mode)
# NATS_CONF     its nats-server config (peers/nats.conf there: 127.0.0.1:14222)
# NATS_SERVER   nats-server binary [default: nats-server on PATH]
# RUNS          runs per scenario, medians reported [default: 3]
# CHAT_PORT     port for chat-server [default: 16969]
#
# Builds chat-server and chat-client in release mode (in $CARGO_TARGET_DIR or target/).
# Every run gets a fresh server process; each chat run is followed at once by the same
# nats run, so both see the same machine load (printed before each pair). Each result is a
# JSON line in RESULTS.jsonl [default: compare-nats.jsonl]; the medians are printed as a
# Markdown table at the end (python3). Needs `ulimit -n` of at least 20000 for the
# 10,000-client idle run; loopback only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${FANOUT_BENCH:?set FANOUT_BENCH to the fanout-bench binary}"
: "${NATS_CONF:?set NATS_CONF to the nats.conf of fanout-bench (peers/nats.conf)}"
NATS_SERVER=${NATS_SERVER:-nats-server}
RUNS=${RUNS:-3}
CHAT_PORT=${CHAT_PORT:-16969}
NATS_PORT=14222
OUT=${1:-compare-nats.jsonl}

ulimit -n "$(ulimit -Hn)"
source scripts/servers.sh
build_and_workdir
# History off: nats-server keeps nothing either (scripts/bench-history.sh compares the two
# with persistence).
chat_config "$WORK" off
: >"$OUT"

# record SCENARIO SERVER JSON: one line of $OUT.
record() {
    if [ -z "$3" ]; then
        echo "$2 $1: no result" >&2
        return
    fi
    printf '{"scenario":"%s","server":"%s","load":"%s","result":%s}\n' \
        "$1" "$2" "$(cut -d' ' -f1-3 /proc/loadavg)" "$3" >>"$OUT"
}

# chat SCENARIO ARGS...: one chat-client bench run against a fresh chat-server.
chat() {
    local scenario=$1
    shift
    start_chat "$WORK"
    local json
    json=$("$BIN/chat-client" --host 127.0.0.1 --port "$CHAT_PORT" --name bench --timeout 30 \
        bench --json --server-pid "$SERVER_PID" "$@") || true # exit 1 on loss: still recorded
    stop_server
    record "$scenario" chat "$json"
}

# nats SCENARIO ARGS...: one fanout-bench run against a fresh nats-server.
nats() {
    local scenario=$1
    shift
    start_nats
    local json
    json=$("$FANOUT_BENCH" --proto nats --addr "127.0.0.1:$NATS_PORT" --server-pid "$SERVER_PID" \
        "$@" 2>/dev/null | sed -n 's/^RESULT //p') || true
    stop_server
    record "$scenario" nats "$json"
}

for run in $(seq "$RUNS"); do
    echo "run $run of $RUNS; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    chat sat-n100 --clients 100 --publishers 1 --messages 50000 --size 64
    nats sat-n100 -n 100 -p 1 -m 50000 --payload 64
    chat sat-n1000 --clients 1000 --publishers 1 --messages 5000 --size 64
    nats sat-n1000 -n 1000 -p 1 -m 5000 --payload 64
    chat rate-n100 --clients 100 --messages 5000 --size 64 --rate 1000
    nats rate-n100 -n 100 -p 1 -m 5000 --payload 64 --rate 1000
    chat rate-n1000 --clients 1000 --messages 5000 --size 64 --rate 1000
    nats rate-n1000 -n 1000 -p 1 -m 5000 --payload 64 --rate 1000
    chat idle-1000 --idle --clients 1000
    nats idle-1000 --idle -n 1000
    chat idle-10000 --idle --clients 10000
    nats idle-10000 --idle -n 10000
done

python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def med(scenario, server, pick):
    vals = [pick(r["result"]) for r in rows if r["scenario"] == scenario and r["server"] == server]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
def fmt(v, unit):
    return "n/a" if v is None else unit.format(v)
dps = lambda r: r["deliveries_per_s"]
lost = lambda r: r["lost"]
p99 = lambda r: r["latency"]["p99_us"] / 1000
p50 = lambda r: r["latency"]["p50_us"] / 1000
def per_client(r):
    if "bytes_per_client" in r:
        return None if r["bytes_per_client"] is None else r["bytes_per_client"] / 1024
    return r.get("server_rss_kb_per_client")
print("| scenario | chat-server | nats-server | chat ÷ nats |")
print("|---|---|---|---|")
for s, name in [("sat-n100", "100 receivers, saturation"), ("sat-n1000", "1,000 receivers, saturation")]:
    c, n = med(s, "chat", dps), med(s, "nats", dps)
    print(f"| {name}: deliveries/s | {fmt(c and c/1e6, '{:.2f} M')} | {fmt(n and n/1e6, '{:.2f} M')} | {fmt(c and n and c/n, '{:.2f}x')} |")
    print(f"| {name}: lost | {fmt(med(s, 'chat', lost), '{:.0f}')} | {fmt(med(s, 'nats', lost), '{:.0f}')} | |")
for s, name in [("rate-n100", "1,000 msg/s to 100"), ("rate-n1000", "1,000 msg/s to 1,000")]:
    c, n = med(s, "chat", p99), med(s, "nats", p99)
    print(f"| {name}: p50 / p99 latency | {fmt(med(s, 'chat', p50), '{:.2f}')} / {fmt(c, '{:.2f} ms')} | {fmt(med(s, 'nats', p50), '{:.2f}')} / {fmt(n, '{:.2f} ms')} | {fmt(c and n and c/n, '{:.2f}x')} (p99) |")
for s, name in [("idle-1000", "1,000 idle clients"), ("idle-10000", "10,000 idle clients")]:
    c, n = med(s, "chat", per_client), med(s, "nats", per_client)
    print(f"| {name}: resident kB per client | {fmt(c, '{:.1f}')} | {fmt(n, '{:.1f}')} | {fmt(c and n and c/n, '{:.2f}x')} |")
PY
