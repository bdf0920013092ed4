#!/usr/bin/env bash
# Chat traffic as people make it, on chat-server (history off and on), nats-server, and
# nats-server with a JetStream file stream on the room subjects, in one run on this machine:
# `chat-client bench --workload` drives all four with the same rooms and the same sends.
#
#   FANOUT_BENCH=/path/to/fanout-bench NATS_CONF=/path/to/peers/nats.conf \
#       scripts/bench-workload.sh [RESULTS.jsonl]
#
# FANOUT_BENCH   the fanout-bench load generator (built from the shared tools, release mode):
#                both servers' side of the 1,000 rooms × 1 saturation run
# NATS_CONF      its nats-server config (peers/nats.conf there: 127.0.0.1:14222)
# NATS_SERVER    nats-server binary [default: nats-server on PATH; Debian: apt-get install nats-server]
# NATS_PORT      the port NATS_CONF listens on [default: 14222]
# CHAT_PORT      port for chat-server [default: 16969]
# RUNS           rounds, medians reported [default: 3]
# LOADS          offered loads (messages/s) of the Zipf workload [default: 500 1000 2000]
# STEPS          offered loads tried in turn for the largest one held (p99 under 100 ms,
#                nothing lost) [default: 250 500 1000 2000 4000]
# DURATION       seconds of sending per run [default: 5]; STEP_DURATION per step [default: 3]
# SHAPE          the Zipf workload [default: --people 1000 --rooms 100 --rooms-per-person 3 --zipf 1]
#
# Each round, every server process fresh (chat-server: a fresh directory, config.ini with
# limits off and [store] path = off or chat.db; nats-server -c $NATS_CONF, with -js -sd DIR
# for JetStream), the servers' order turning from round to round:
#
#   zipf-L   chat-client --host 127.0.0.1 --port PORT --name work --timeout 30 \
#                bench --workload --json --server-pid PID $SHAPE --rate L --duration $DURATION --seed 1
#            against nats-server with --proto nats, against JetStream with --proto nats
#            --jetstream (the client creates the file stream `work` on `work.*` first and reads
#            its message count after: "stream_messages")
#   rooms10  the same with --people 1000 --rooms 100 --rooms-per-person 1 --zipf 0 --rate 2000:
#            100 rooms of 10, everyone in one
#   1000x1   saturation, history off, one generator for both servers:
#              fanout-bench --proto chat --addr 127.0.0.1:$CHAT_PORT --server-pid PID \
#                  -n 1000 -p 1 -m 2000 --payload 64 --chat-rooms 1000
#              the same with --proto nats --addr 127.0.0.1:$NATS_PORT
#   step-L   the Zipf workload at each of STEPS in turn, for STEP_DURATION s, until a load is
#            not held
#
# Builds chat-server and chat-client in release mode (in $CARGO_TARGET_DIR or target/). Each
# result is a JSON line in RESULTS.jsonl [default: bench-workload.jsonl] with the load average
# at its start; the medians are printed as a Markdown table at the end (python3). Needs
# nothing on CHAT_PORT and NATS_PORT; loopback only; the load generator shares the cores.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${FANOUT_BENCH:?set FANOUT_BENCH to the fanout-bench binary}"
: "${NATS_CONF:?set NATS_CONF to the nats.conf of fanout-bench (peers/nats.conf)}"
NATS_SERVER=${NATS_SERVER:-nats-server}
NATS_PORT=${NATS_PORT:-14222}
CHAT_PORT=${CHAT_PORT:-16969}
RUNS=${RUNS:-3}
LOADS=${LOADS:-500 1000 2000}
STEPS=${STEPS:-250 500 1000 2000 4000}
DURATION=${DURATION:-5}
STEP_DURATION=${STEP_DURATION:-3}
read -r -a SHAPE <<<"${SHAPE:---people 1000 --rooms 100 --rooms-per-person 3 --zipf 1}"
ROOMS10=(--people 1000 --rooms 100 --rooms-per-person 1 --zipf 0 --rate 2000)
OUT=${1:-bench-workload.jsonl}

source scripts/servers.sh
need_nats_and_ports "$CHAT_PORT" "$NATS_PORT"

ulimit -n "$(ulimit -Hn)"
build_and_workdir
: >"$OUT"

load() { cut -d' ' -f1-3 /proc/loadavg; }

# record SCENARIO SERVER LOAD JSON: one line of $OUT.
record() {
    if [ -z "$4" ]; then
        echo "$2 $1: no result" >&2
        return
    fi
    printf '{"run":%s,"scenario":"%s","server":"%s","load":"%s","result":%s}\n' \
        "$run" "$1" "$2" "$3" "$4" >>"$OUT"
}

# up SERVER DIR: a fresh chat-off, chat-on, nats or nats-js; sets PORT, and WIRE to the
# workload's flags for it.
up() {
    case $1 in
    chat-off | chat-on)
        local store=off
        if [ "$1" = chat-on ]; then store=chat.db; fi
        chat_config "$2" "$store" "rooms_per_user = 0"
        start_chat "$2"
        PORT=$CHAT_PORT
        WIRE=()
        ;;
    nats)
        start_nats
        PORT=$NATS_PORT
        WIRE=(--proto nats)
        ;;
    nats-js)
        start_nats -js -sd "$2"
        PORT=$NATS_PORT
        WIRE=(--proto nats --jetstream)
        ;;
    esac
}

LAST=
# measure SCENARIO SERVER COMMAND...: COMMAND against a fresh SERVER, its JSON recorded and
# kept in LAST; `{port}`, `{pid}` and `{wire...}` in COMMAND become the server's.
measure() {
    local scenario=$1 server=$2
    shift 2
    local dir="$WORK/$scenario-$server" at args=()
    mkdir -p "$dir"
    at=$(load)
    up "$server" "$dir"
    for arg in "$@"; do
        case $arg in
        '{port}') args+=("$PORT") ;;
        '{pid}') args+=("$SERVER_PID") ;;
        '{wire...}') args+=("${WIRE[@]}") ;;
        *) args+=("$arg") ;;
        esac
    done
    LAST=$("${args[@]}" 2>/dev/null | sed -n 's/^RESULT //; /^{/p') || true # loss: still recorded
    stop_server
    rm -rf "$dir"
    record "$scenario" "$server" "$at" "$LAST"
}

# workload SCENARIO SERVER ARGS...: one bench --workload run.
workload() {
    local scenario=$1 server=$2
    shift 2
    measure "$scenario" "$server" "$BIN/chat-client" --host 127.0.0.1 --port '{port}' --name work \
        --timeout 30 bench --workload --json --server-pid '{pid}' '{wire...}' --seed 1 "$@"
}

# held: whether the last run kept p99 under 100 ms and lost nothing.
held() {
    [ -n "$LAST" ] && python3 -c 'import json, sys; r = json.loads(sys.argv[1])
sys.exit(0 if r["lost"] == 0 and r["latency"]["p99_us"] < 100000 else 1)' "$LAST"
}

servers=(chat-off chat-on nats nats-js)
for run in $(seq "$RUNS"); do
    echo "round $run of $RUNS; load average $(load)" >&2
    turn=$(((run - 1) % ${#servers[@]}))
    order=("${servers[@]:turn}" "${servers[@]:0:turn}")
    for rate in $LOADS; do
        for server in "${order[@]}"; do
            workload "zipf-$rate" "$server" "${SHAPE[@]}" --rate "$rate" --duration "$DURATION"
        done
    done
    for server in "${order[@]}"; do
        workload rooms10 "$server" "${ROOMS10[@]}" --duration "$DURATION"
    done
    measure 1000x1 chat-off "$FANOUT_BENCH" --proto chat --addr "127.0.0.1:$CHAT_PORT" \
        --server-pid '{pid}' -n 1000 -p 1 -m 2000 --payload 64 --chat-rooms 1000
    measure 1000x1 nats "$FANOUT_BENCH" --proto nats --addr "127.0.0.1:$NATS_PORT" \
        --server-pid '{pid}' -n 1000 -p 1 -m 2000 --payload 64 --chat-rooms 1000
    for server in "${order[@]}"; do
        for rate in $STEPS; do
            workload "step-$rate" "$server" "${SHAPE[@]}" --rate "$rate" --duration "$STEP_DURATION"
            held || break
        done
    done
done

python3 - "$OUT" "$LOADS" "$STEPS" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
loads, steps = sys.argv[2].split(), sys.argv[3].split()
servers = ["chat-off", "chat-on", "nats", "nats-js"]
def med(scenario, server, pick):
    vals = [pick(r["result"]) for r in rows if (r["scenario"], r["server"]) == (scenario, server)]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
def fmt(v, unit):
    return "n/a" if v is None else unit.format(v)
def cpu(r, per):
    n = r.get(per)
    return r["server_cpu_s"] / n if r.get("server_cpu_s") is not None and n else None
dps = lambda r: r["deliveries_per_s"]
p50 = lambda r: r["latency"]["p50_us"] / 1000
p99 = lambda r: r["latency"]["p99_us"] / 1000
per_msg = lambda r: None if cpu(r, "sent") is None else cpu(r, "sent") * 1e6
per_delivery = lambda r: None if cpu(r, "received") is None else cpu(r, "received") * 1e9
def row(name, cell, only=servers):
    print(f"| {name} | " + " | ".join(cell(s) if s in only else "" for s in servers) + " |")
def latency(scenario):
    return lambda s: f"{fmt(med(scenario, s, p50), '{:.1f}')} / {fmt(med(scenario, s, p99), '{:.1f} ms')}"
def largest_held(server):
    by_run = {}
    for r in rows:
        if r["server"] == server and r["scenario"].startswith("step-"):
            ok = r["result"]["lost"] == 0 and p99(r["result"]) < 100
            best = by_run.setdefault(r["run"], 0)
            by_run[r["run"]] = max(best, int(r["scenario"][5:])) if ok else best
    return statistics.median(by_run.values()) if by_run else None
loadavg = [float(r["load"].split()[0]) for r in rows]
print(f"\nMedians of {max(r['run'] for r in rows)} round(s); 1-minute load average "
      f"{min(loadavg):.1f} to {max(loadavg):.1f} at the start of the runs (2 cores, shared with "
      f"the load generator).")
z = next((r["result"] for r in rows if r["scenario"] == f"zipf-{loads[0]}"), None)
if z:
    s = z["room_sizes"]
    print(f"Zipf workload: {z['people']:,} people in {z['rooms']} rooms, {z['rooms_per_person']} "
          f"each, exponent {z['zipf']} (rooms of {s['largest']} down to {s['smallest']}; "
          f"{z['deliveries_per_message']:.0f} deliveries per message), {z['duration_s']:.0f} s a run.")
print("\n| measure | chat, history off | chat, history on | nats-server | nats-server + JetStream |")
print("|---|---|---|---|---|")
for rate in loads:
    scenario, at = f"zipf-{rate}", f"Zipf, {int(rate):,} msg/s"
    row(f"{at}: deliveries/s", lambda s: fmt(med(scenario, s, dps), "{:,.0f}"))
    row(f"{at}: latency p50 / p99", latency(scenario))
    row(f"{at}: server CPU per message", lambda s: fmt(med(scenario, s, per_msg), "{:.0f} µs"))
def held_cell(server):
    held = largest_held(server)
    return f"below {int(steps[0]):,} msg/s" if held == 0 else fmt(held, "{:,.0f} msg/s")
row(f"Zipf: largest load held with p99 < 100 ms (tried {', '.join(steps)} msg/s)", held_cell)
row("100 rooms of 10, 2,000 msg/s: server CPU per message",
    lambda s: fmt(med("rooms10", s, per_msg), "{:.1f} µs"))
row("100 rooms of 10, 2,000 msg/s: latency p50 / p99", latency("rooms10"))
row("1,000 rooms × 1, saturation: deliveries/s",
    lambda s: fmt(med("1000x1", s, dps), "{:,.0f}"), only=["chat-off", "nats"])
row("1,000 rooms × 1, saturation: server CPU per delivery",
    lambda s: fmt(med("1000x1", s, per_delivery), "{:,.0f} ns"), only=["chat-off", "nats"])
lost = sum(r["result"].get("lost", 0) for r in rows)
stored = [r["result"].get("stream_messages") == r["result"]["sent"] for r in rows if r["server"] == "nats-js"]
print(f"\nLost in all runs together: {lost}. The JetStream stream held every message sent in "
      f"{sum(stored)} of {len(stored)} runs.")
def verdict(a, b, better):
    return "n/a" if a is None or b is None else ("met" if better(a, b) else "missed")
print("Targets: rooms of 10, server CPU per message, history off ≤ nats-server: "
      + verdict(med("rooms10", "chat-off", per_msg), med("rooms10", "nats", per_msg), lambda a, b: a <= b)
      + "; history on ≤ nats-server + JetStream: "
      + verdict(med("rooms10", "chat-on", per_msg), med("rooms10", "nats-js", per_msg), lambda a, b: a <= b)
      + "; 1,000 rooms × 1, deliveries/s ≥ nats-server: "
      + verdict(med("1000x1", "chat-off", dps), med("1000x1", "nats", dps), lambda a, b: a >= b) + ".")
PY
