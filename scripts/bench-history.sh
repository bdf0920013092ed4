#!/usr/bin/env bash
# What keeping history costs: chat-server's fan-out with the room log on and off, nats-server
# with a file-backed JetStream stream on the benchmark subject, and the latency of a join that
# asks for a backlog; on this machine, back to back.
#
#   FANOUT_BENCH=/path/to/fanout-bench NATS_CONF=/path/to/peers/nats.conf \
#       scripts/bench-history.sh [RESULTS.jsonl]
#
# FANOUT_BENCH  the fanout-bench load generator (built from the shared tools, release mode)
# NATS_CONF     its nats-server config (peers/nats.conf there: 127.0.0.1:14222)
# NATS_SERVER   nats-server binary [default: nats-server on PATH; Debian: apt-get install nats-server]
# NATS_PORT     the port NATS_CONF listens on [default: 14222]
# RUNS          runs per scenario, medians reported [default: 3]
# CHAT_PORT     port for chat-server [default: 16969]
# NATS_PLAIN    1: also measure nats-server without JetStream, for reference [default: 1]
#
# Each run, for 100 and then 1,000 receivers, every server process fresh:
#
#   chat-server, store on (a fresh directory: config.ini with [store] path = chat.db) and
#   store off ([store] path = off), in turn (which goes first alternates between runs):
#     chat-client --host 127.0.0.1 --port $CHAT_PORT --name bench --timeout 30 \
#         bench --json --server-pid PID --clients 100 --publishers 1 --messages 50000 --size 64
#     chat-client ... bench --json --server-pid PID --clients 1000 --publishers 1 --messages 5000 --size 64
#   (after a store-on run, the messages in chat.db are counted: "stored" in its JSON line)
#
#   nats-server with JetStream, its store in a fresh directory:
#     nats-server -c $NATS_CONF -js -sd DIR
#   then the stream BENCH is created on the subject fanout-bench publishes on ("bench", its
#   --room default), file storage, through the JetStream API over the plain NATS protocol:
#     PUB $JS.API.STREAM.CREATE.BENCH {"name":"BENCH","subjects":["bench"],"storage":"file"}
#   then
#     fanout-bench --proto nats --addr 127.0.0.1:$NATS_PORT --server-pid PID \
#         -n 100 -p 1 -m 50000 --payload 64            (and -n 1000 -p 1 -m 5000 --payload 64)
#   and afterwards $JS.API.STREAM.INFO.BENCH gives state.messages: "stream_messages" in its
#   JSON line (the measured messages plus fanout-bench's probes), so the persistence is real.
#   With NATS_PLAIN=1 the same fanout-bench run against `nats-server -c $NATS_CONF` too.
#
#   the backlog latency, against chat-server with the store on (a fresh chat.db):
#     cargo run --release -p chat-server --example backlog_latency -- --addr 127.0.0.1:$CHAT_PORT
#   (the binary that command builds is run directly): fills lobby to 5,000 messages, then
#   1,000 times Join{lobby, Backlog::Latest(50)}, timed until the History arrives, and Part.
#
# Both stores are equally durable: SQLite in WAL mode with synchronous = NORMAL and JetStream
# by default (sync every 2 min) survive the process being killed, not the machine losing power.
#
# Builds chat-server, chat-client and the example in release mode (in $CARGO_TARGET_DIR or
# target/). Each result is a JSON line in RESULTS.jsonl [default: bench-history.jsonl], with the
# load average at its start; the medians are printed as a Markdown table at the end (python3,
# which also speaks to JetStream and reads chat.db). Needs nothing on CHAT_PORT and NATS_PORT;
# loopback only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${FANOUT_BENCH:?set FANOUT_BENCH to the fanout-bench binary}"
: "${NATS_CONF:?set NATS_CONF to the nats.conf of fanout-bench (peers/nats.conf)}"
NATS_SERVER=${NATS_SERVER:-nats-server}
NATS_PORT=${NATS_PORT:-14222}
RUNS=${RUNS:-3}
CHAT_PORT=${CHAT_PORT:-16969}
NATS_PLAIN=${NATS_PLAIN:-1}
OUT=${1:-bench-history.jsonl}

source scripts/servers.sh
need_nats_and_ports "$CHAT_PORT" "$NATS_PORT"

ulimit -n "$(ulimit -Hn)"
build_and_workdir
cargo build --release --quiet -p chat-server --example backlog_latency
: >"$OUT"

# js_api SUBJECT [JSON]: one JetStream API request over the NATS text protocol; prints the
# reply (JSON), fails if it holds an error.
js_api() {
    python3 - "$NATS_PORT" "$1" "${2:-}" <<'PY'
import json, socket, sys
port, subject, body = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
if not f.readline().startswith(b"INFO "):
    sys.exit("no INFO from nats-server")
s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.bench-history 1\r\n'
          + b"PUB %s _INBOX.bench-history %d\r\n%s\r\n" % (subject.encode(), len(body), body))
while True:
    line = f.readline()
    if not line:
        sys.exit("nats-server closed the connection")
    if line.startswith(b"PING"):
        s.sendall(b"PONG\r\n")
    elif line.startswith(b"-ERR"):
        sys.exit("nats-server: " + line.decode().strip())
    elif line.startswith(b"MSG "):
        reply = f.read(int(line.split()[-1]) + 2)[:-2].decode()
        break
if "error" in json.loads(reply):
    sys.exit(f"{subject}: {reply}")
print(reply)
PY
}

# stored_messages DIR: messages in DIR/chat.db.
stored_messages() {
    python3 - "$1/chat.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(db.execute("SELECT count(*) FROM messages").fetchone()[0])
PY
}

# record SCENARIO SERVER STORE LOAD JSON [EXTRA]: one line of $OUT; EXTRA is more
# `"key":value` fields.
record() {
    if [ -z "$5" ]; then
        echo "$2 (store $3) $1: no result" >&2
        return
    fi
    printf '{"run":%s,"scenario":"%s","server":"%s","store":"%s","load":"%s","result":%s%s}\n' \
        "$run" "$1" "$2" "$3" "$4" "$5" "${6:+,$6}" >>"$OUT"
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

RUN_DIR=
# chat SCENARIO on|off ARGS...: one chat-client bench run against a fresh chat-server.
chat() {
    local scenario=$1 store=$2
    shift 2
    local dir="$RUN_DIR/chat-$scenario-$store"
    if [ "$store" = on ]; then chat_config "$dir" chat.db; else chat_config "$dir" off; fi
    local at json extra=
    at=$(load)
    start_chat "$dir"
    json=$("$BIN/chat-client" --host 127.0.0.1 --port "$CHAT_PORT" --name bench --timeout 30 \
        bench --json --server-pid "$SERVER_PID" "$@") || true # exit 1 on loss: still recorded
    stop_server
    if [ "$store" = on ]; then extra="\"stored\":$(stored_messages "$dir")"; fi
    record "$scenario" chat "$store" "$at" "$json" "$extra"
    rm -rf "$dir"
}

# nats SCENARIO jetstream|none ARGS...: one fanout-bench run against a fresh nats-server,
# with the stream BENCH (file storage) on subject "bench" for jetstream.
nats() {
    local scenario=$1 store=$2
    shift 2
    local dir="$RUN_DIR/nats-$scenario"
    local at json extra=
    at=$(load)
    if [ "$store" = jetstream ]; then
        mkdir -p "$dir"
        start_nats -js -sd "$dir"
        js_api '$JS.API.STREAM.CREATE.BENCH' \
            '{"name":"BENCH","subjects":["bench"],"storage":"file"}' >/dev/null
    else
        start_nats
    fi
    json=$("$FANOUT_BENCH" --proto nats --addr "127.0.0.1:$NATS_PORT" --server-pid "$SERVER_PID" \
        "$@" 2>/dev/null | sed -n 's/^RESULT //p') || true
    if [ "$store" = jetstream ]; then
        local count
        count=$(js_api '$JS.API.STREAM.INFO.BENCH' |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["state"]["messages"])')
        echo "  nats $scenario: stream BENCH holds $count messages" >&2
        extra="\"stream_messages\":$count"
    fi
    stop_server
    record "$scenario" nats "$store" "$at" "$json" "$extra"
    rm -rf "$dir"
}

# backlog: the join-with-backlog latency against chat-server with the store on.
backlog() {
    local dir="$RUN_DIR/backlog"
    chat_config "$dir" chat.db
    local at json
    at=$(load)
    start_chat "$dir"
    json=$("$BIN/examples/backlog_latency" --addr "127.0.0.1:$CHAT_PORT" | sed -n 's/^RESULT //p') ||
        true
    stop_server
    record backlog-50 chat on "$at" "$json"
    rm -rf "$dir"
}

for run in $(seq "$RUNS"); do
    echo "run $run of $RUNS; load average $(load)" >&2
    RUN_DIR="$WORK/run-$run"
    mkdir -p "$RUN_DIR"
    # Odd runs measure the store on first, even runs off first.
    if [ $((run % 2)) = 1 ]; then order="on off"; else order="off on"; fi
    for store in $order; do
        chat sat-n100 "$store" --clients 100 --publishers 1 --messages 50000 --size 64
    done
    nats sat-n100 jetstream -n 100 -p 1 -m 50000 --payload 64
    if [ "$NATS_PLAIN" = 1 ]; then nats sat-n100 none -n 100 -p 1 -m 50000 --payload 64; fi
    for store in $order; do
        chat sat-n1000 "$store" --clients 1000 --publishers 1 --messages 5000 --size 64
    done
    nats sat-n1000 jetstream -n 1000 -p 1 -m 5000 --payload 64
    if [ "$NATS_PLAIN" = 1 ]; then nats sat-n1000 none -n 1000 -p 1 -m 5000 --payload 64; fi
    backlog
done

python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def pick(scenario, server, store, f):
    vals = [f(r) for r in rows if (r["scenario"], r["server"], r["store"]) == (scenario, server, store)]
    return [v for v in vals if v is not None]
def med(*key):
    vals = pick(*key)
    return statistics.median(vals) if vals else None
def fmt(v, unit):
    return "n/a" if v is None else unit.format(v)
dps = lambda r: r["result"]["deliveries_per_s"]
lost = lambda r: r["result"]["lost"]
cpu = lambda r: r["result"]["server_cpu_s"] * 1e9 / r["result"]["received"] if r["result"]["received"] else None
runs = max(len(pick("sat-n100", "chat", "on", dps)), 1)
print(f"\nMedians of {runs} run(s); 1-minute load average at the start of each measurement "
      f"{min(float(r['load'].split()[0]) for r in rows):.2f} to "
      f"{max(float(r['load'].split()[0]) for r in rows):.2f} (2 cores).\n")
plain = any(r["store"] == "none" for r in rows)
print("| receivers | chat store on | chat store off | on ÷ off (target ≥ 0.70): of the medians; median of each run's pair | nats JetStream (file)"
      + (" | nats, no JetStream |" if plain else " |"))
print("|---|---|---|---|---" + ("|---|" if plain else "|"))
for s, name in [("sat-n100", "100"), ("sat-n1000", "1,000")]:
    on, off, js = med(s, "chat", "on", dps), med(s, "chat", "off", dps), med(s, "nats", "jetstream", dps)
    ratio = on / off if on and off else None
    verdict = lambda x: "" if x is None else (" ✓" if x >= 0.7 else " ✗")
    by_run = lambda store: {r["run"]: dps(r) for r in rows if (r["scenario"], r["server"], r["store"]) == (s, "chat", store)}
    ons, offs = by_run("on"), by_run("off")
    pairs = [ons[k] / offs[k] for k in ons if k in offs and offs[k]]
    paired = statistics.median(pairs) if pairs else None
    cells = [f"{name}: deliveries/s", fmt(on and on / 1e6, "{:.2f} M"), fmt(off and off / 1e6, "{:.2f} M"),
             fmt(ratio, "{:.2f}") + verdict(ratio) + "; " + fmt(paired, "{:.2f}") + verdict(paired)
             + " (" + ", ".join(f"{x:.2f}" for x in pairs) + ")", fmt(js and js / 1e6, "{:.2f} M")]
    if plain:
        p = med(s, "nats", "none", dps)
        cells.append(fmt(p and p / 1e6, "{:.2f} M"))
    print("| " + " | ".join(cells) + " |")
    cells = [f"{name}: lost", fmt(med(s, "chat", "on", lost), "{:.0f}"), fmt(med(s, "chat", "off", lost), "{:.0f}"),
             "", fmt(med(s, "nats", "jetstream", lost), "{:.0f}")]
    if plain:
        cells.append(fmt(med(s, "nats", "none", lost), "{:.0f}"))
    print("| " + " | ".join(cells) + " |")
    cells = [f"{name}: server CPU ns per delivery"] + [
        fmt(med(s, srv, st, cpu), "{:.0f}") if st else "" for srv, st in
        [("chat", "on"), ("chat", "off"), (None, None), ("nats", "jetstream")] + ([("nats", "none")] if plain else [])]
    print("| " + " | ".join(cells) + " |")
    stored = pick(s, "chat", "on", lambda r: r.get("stored"))
    stream = pick(s, "nats", "jetstream", lambda r: r.get("stream_messages"))
    cells = [f"{name}: messages kept after a run", "/".join(map(str, stored)) or "n/a", "", "",
             "/".join(map(str, stream)) or "n/a"]
    if plain:
        cells.append("")
    print("| " + " | ".join(cells) + " |")
p99 = med("backlog-50", "chat", "on", lambda r: r["result"]["p99_us"] / 1000)
p50 = med("backlog-50", "chat", "on", lambda r: r["result"]["p50_us"] / 1000)
mx = med("backlog-50", "chat", "on", lambda r: r["result"]["max_us"] / 1000)
verdict = "" if p99 is None else (" ✓" if p99 < 10 else " ✗")
print(f"\nBacklog: Join with Latest(50) on a lobby of 5,000 stored messages, 1,000 joins, store on: "
      f"p50 {fmt(p50, '{:.3f}')} ms, p99 {fmt(p99, '{:.3f} ms')} (target < 10 ms){verdict}, "
      f"max {fmt(mx, '{:.3f}')} ms (medians over runs).")
PY
