#!/usr/bin/env bash
# How much nats-server grows from what is gone: a broker that does not fill up. Against one
# nats-server -js (fresh store) and one chat-server node in cluster mode (release builds,
# fresh processes for each part, loopback), with history on and the limits off:
#
#   (a) ROOMS rooms made, spoken in once and left (chat-client bench --churn-rooms: join a
#       new room, say one line, wait for its echo, part), nobody in any of them afterwards.
#       Targets: nats-server's resident memory (VmRSS from /proc, and its own /varz "mem")
#       grows by less than 50 MB; once [store] max_age has trimmed those messages, by less
#       than 5 MB. JetStream's streams, consumers and messages (/jsz) are read before,
#       after and after trimming, and so is nats-server's live Go heap (HeapAlloc right
#       after a collection it is asked for on its profiling port): what it still holds,
#       apart from memory its runtime and the system have not taken back.
#   (b) NAMES guests coming and going (chat-client bench --churn-names: each connects under
#       a name of its own, registers and says Bye). Target: the names bucket (the stream
#       KV_chat_names) holds only the people online, here nobody: 0 messages. nats-server's
#       growth is reported beside it.
#
# Every reading waits SETTLE seconds first, and takes VmRSS before asking the monitoring
# port anything (answering it costs nats-server memory too). nats-server's open files and
# the chat node's own growth are shown beside, without a target. A churn that could not
# finish (nats-server refusing to make more streams, say) is a finding, not a failure of
# the script: the table says how far it got and what nats-server logged.
#
#   scripts/bench-broker.sh [ROOMS] [NAMES]     # defaults: 10000 rooms, 100000 names
#
# NATS_SERVER   nats-server binary [default: nats-server on PATH]
# CHAT_PORT, NATS_PORT, MONITOR_PORT, PROFILE_PORT  [defaults: 16981, 14234, 18234, 18334]
# MAX_AGE       the node's [store] max_age, in seconds [default: 90]: long enough that
#               "after" holds every room's message (10,000 rooms take 12 to 15 s here).
#               With the earlier stream per room it had to be short: nats-server kept two
#               files open per stream holding messages and, on a hard limit of 20,000
#               open files, refused to make streams past about 10,000.
# TRIM_WAIT     seconds past MAX_AGE to wait for the trimmed messages to go [default: 120]
# TRIM_SETTLE   seconds after they went for one more reading [default: 300]: nats-server's
#               Go runtime gives freed memory back to the system over minutes, not at once
# ROOM_CLIENTS  connections making rooms at once [default: 1]
# CONCURRENCY   guests coming and going at once [default: 32]
# SETTLE        seconds before each reading [default: 3]
#
# Prints the readings and whether each target was met as one Markdown table (with the date,
# the load average and nats-server's version above it); exits 1 only when a churn run
# printed no report at all.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOMS=${1:-10000}
NAMES=${2:-100000}
NATS_SERVER=${NATS_SERVER:-nats-server}
CHAT_PORT=${CHAT_PORT:-16981}
NATS_PORT=${NATS_PORT:-14234}
MONITOR_PORT=${MONITOR_PORT:-18234}
PROFILE_PORT=${PROFILE_PORT:-18334}
MAX_AGE=${MAX_AGE:-90}
TRIM_WAIT=${TRIM_WAIT:-120}
TRIM_SETTLE=${TRIM_SETTLE:-300}
ROOM_CLIENTS=${ROOM_CLIENTS:-1}
CONCURRENCY=${CONCURRENCY:-32}
SETTLE=${SETTLE:-3}

source scripts/servers.sh # need_nats_and_ports, build_for_processes, wait_port
need_nats_and_ports "$CHAT_PORT" "$NATS_PORT" "$MONITOR_PORT" "$PROFILE_PORT"
build_for_processes

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# monitor PATH: GET PATH from nats-server's monitoring port, a few tries (a nats-server out
# of file descriptors refuses connections for a moment).
monitor() {
    curl -sf --retry 5 --retry-all-errors --retry-delay 1 "http://127.0.0.1:$MONITOR_PORT/$1"
}
open_files() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
# live_heap: nats-server's Go heap in use (bytes) right after a collection, which asking
# for the heap profile with gc=1 runs first.
live_heap() {
    curl -sf "http://127.0.0.1:$PROFILE_PORT/debug/pprof/heap?gc=1&debug=1" |
        awk '$2 == "HeapAlloc" {print $4}'
}
# json FILE EXPR: EXPR (Python, on the parsed document d) of a JSON file.
json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"; }

# start_pair: fresh nats-server and chat node; sets NATS_PID and NODE_PID once the node has
# made the names bucket.
start_pair() {
    rm -rf "$WORK/js" && mkdir -p "$WORK/js" "$WORK/node"
    "$NATS_SERVER" -js -sd "$WORK/js" -a 127.0.0.1 -p "$NATS_PORT" -m "$MONITOR_PORT" \
        --profile "$PROFILE_PORT" \
        >>"$WORK/nats.log" 2>&1 &
    NATS_PID=$!
    PIDS+=("$NATS_PID")
    wait_port "$NATS_PORT"
    wait_port "$MONITOR_PORT"
    cat >"$WORK/node/config.ini" <<INI
[server]
host = 127.0.0.1
port = $CHAT_PORT
[limits]
messages_per_second = 0
flood_disconnect_after = 0
max_clients = 0
max_per_ip = 0
rooms_per_user = 0
max_rooms = 0
[store]
max_age = ${MAX_AGE}s
[cluster]
nats = nats://127.0.0.1:$NATS_PORT
node = bench
[http]
port = off
INI
    "$BIN/chat-server" --config "$WORK/node/config.ini" --log-level error >"$WORK/node.log" 2>&1 &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    wait_port "$CHAT_PORT"
    for _ in $(seq 100); do
        if [ "$(names_messages)" != "-" ]; then return 0; fi
        sleep 0.1
    done
    echo "the node made no names bucket (KV_chat_names) within 10 s; its log:" >&2
    cat "$WORK/node.log" >&2
    exit 1
}
stop_pair() {
    kill "$NODE_PID" "$NATS_PID" 2>/dev/null || true
    wait "$NODE_PID" "$NATS_PID" 2>/dev/null || true
    PIDS=()
}

# names_messages: the messages in the stream KV_chat_names, or - when there is none. Lists
# every stream, so it is asked only where there are few.
names_messages() {
    monitor 'jsz?streams=true' >"$WORK/streams.json" || { echo -; return; }
    json "$WORK/streams.json" "next((s['state']['messages'] for a in d.get('account_details') or [] \
        for s in a.get('stream_detail') or [] if s['name'] == 'KV_chat_names'), '-')"
}

# total_messages: the messages in every stream together.
total_messages() {
    monitor jsz >"$WORK/jsz.json"
    json "$WORK/jsz.json" "d['messages']"
}

# reading LABEL [names]: after SETTLE seconds, one line in $WORK/readings: LABEL, the VmRSS
# of nats-server and of the node (kB), /varz mem (bytes), /jsz's streams, consumers and
# messages, the messages of KV_chat_names with `names` (else -), nats-server's open files
# and its live heap (bytes; asked for last, as the collection it runs frees memory).
reading() {
    sleep "$SETTLE"
    local nats_kb node_kb files
    nats_kb=$(rss_kb "$NATS_PID") node_kb=$(rss_kb "$NODE_PID") files=$(open_files "$NATS_PID")
    monitor varz >"$WORK/varz.json"
    monitor jsz >"$WORK/jsz.json"
    local names=-
    if [ "${2:-}" = names ]; then names=$(names_messages); fi
    echo "$1 $nats_kb $node_kb $(json "$WORK/varz.json" "d['mem']") \
$(json "$WORK/jsz.json" "d['streams'], d['consumers'], d['messages']" | tr -d '(),') $names $files \
$(live_heap)" >>"$WORK/readings"
}

# churn LABEL ARGS...: chat-client bench ARGS against the node, its JSON report kept as
# $WORK/LABEL.json and shown on stderr. A run that did not get every room or guest through
# still reports, and the table shows it; one without a report stops the script.
churn() {
    local label=$1
    shift
    "$BIN/chat-client" --host 127.0.0.1 --port "$CHAT_PORT" --name churn --timeout 30 \
        bench --json --server-pid "$NODE_PID" "$@" >"$WORK/$label.json" || true
    if ! json "$WORK/$label.json" "d['mode']" >/dev/null 2>&1; then
        echo "chat-client bench $* printed no report" >&2
        exit 1
    fi
    cat "$WORK/$label.json" >&2
}

echo "$(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $("$NATS_SERVER" --version)"

# (a) Rooms made and left.
start_pair
reading rooms_before
echo "(a) $ROOMS rooms, $ROOM_CLIENTS connection(s) at a time ..." >&2
churn rooms --churn-rooms "$ROOMS" --churn-concurrency "$ROOM_CLIENTS"
churned_at=$(date +%s)
reading rooms_after
echo "(a) waiting for [store] max_age = ${MAX_AGE}s to trim the messages ..." >&2
baseline=$(awk '$1 == "rooms_before" {print $7}' "$WORK/readings")
deadline=$((churned_at + MAX_AGE + TRIM_WAIT))
while [ "$(total_messages)" -gt "$baseline" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 1
done
trimmed_after=$(($(date +%s) - churned_at))
reading rooms_trimmed
echo "(a) trimmed; one more reading in ${TRIM_SETTLE}s ..." >&2
sleep "$TRIM_SETTLE"
reading rooms_settled
stop_pair

# (b) Guests coming and going.
start_pair
reading names_before names
echo "(b) $NAMES guests, $CONCURRENCY at a time ..." >&2
churn names --churn-names "$NAMES" --churn-concurrency "$CONCURRENCY"
# A name is given back as its connection closes; allow the last few a moment.
for _ in $(seq 50); do
    if [ "$(names_messages)" = 0 ]; then break; fi
    sleep 0.2
done
reading names_after names
stop_pair

python3 - "$WORK" "$ROOMS" "$NAMES" "$MAX_AGE" "$trimmed_after" "$TRIM_SETTLE" <<'PY'
import json, sys
work, rooms, names, max_age, trimmed_after, settle = sys.argv[1], *map(int, sys.argv[2:])
r = {}
for line in open(f"{work}/readings"):
    label, nats_kb, node_kb, mem, streams, consumers, messages, kv, files, heap = line.split()
    # /varz says mem 0 when nats-server could not read its own usage (out of files).
    r[label] = dict(nats=int(nats_kb) * 1024, node=int(node_kb) * 1024, mem=int(mem) or None,
                    streams=int(streams), consumers=int(consumers), messages=int(messages),
                    kv=None if kv == "-" else int(kv), files=int(files), heap=int(heap))
rooms_run = json.load(open(f"{work}/rooms.json"))
names_run = json.load(open(f"{work}/names.json"))
MB = 1e6
def mb(b): return f"{b / MB:,.1f} MB"
def met(ok): return "not known" if ok is None else "**met**" if ok else "**missed**"
def count(label, key): return f"{r[label][key]:,}"
def per(label, base, key, n, unit):
    each = (r[label][key] - r[base][key]) / n
    return f"{each / 1e3:,.1f} kB a {unit}" if abs(each) >= 1e3 else f"{each:,.0f} B a {unit}"
def cell(label, key, base, n=None, unit=None):
    if r[label][key] is None or r[base][key] is None:
        return "not read"
    d = (r[label][key] - r[base][key]) / MB
    extra = f"; {per(label, base, key, n, unit)}" if n else ""
    return f"{mb(r[label][key])} ({d:+,.1f}{extra})"

print(f"(a) {rooms:,} rooms made, spoken in once and left ({rooms_run['elapsed_s']:.1f} s, "
      f"{rooms_run['rooms_per_s']:.0f} rooms/s); [store] max_age = {max_age}s, trimmed "
      f"{trimmed_after} s after the last room. (b) {names:,} guests registered and gone "
      f"({names_run['elapsed_s']:.1f} s, {names_run['names_per_s']:.0f} guests/s, "
      f"{names_run['concurrency']} at a time). Load average at the end: "
      f"{' '.join(open('/proc/loadavg').read().split()[:3])}.")
print()
print("| measure | target | before | after | after trimming | met |")
print("|---|---|---|---|---|---|")
made = [rooms_run[k] for k in ("joined", "echoed", "parted")]
print(f"| (a) rooms joined / echoed / parted | all {rooms:,} | | "
      f"{' / '.join(f'{n:,}' for n in made)} | | {met(min(made) == rooms)} |")
a_rss = r["rooms_after"]["nats"] - r["rooms_before"]["nats"]
t_rss = r["rooms_trimmed"]["nats"] - r["rooms_before"]["nats"]
def grew(label, key, base, limit):
    if r[label][key] is None or r[base][key] is None:
        return None
    return r[label][key] - r[base][key] < limit
print(f"| (a) nats-server VmRSS | < 50 MB more; < 5 MB once trimmed | {mb(r['rooms_before']['nats'])} "
      f"| {cell('rooms_after', 'nats', 'rooms_before', rooms, 'room')} "
      f"| {cell('rooms_trimmed', 'nats', 'rooms_before', rooms, 'room')} "
      f"| {met(a_rss < 50 * MB)} / {met(t_rss < 5 * MB)} |")
print(f"| (a) nats-server /varz mem | < 50 MB more; < 5 MB once trimmed | {mb(r['rooms_before']['mem'] or 0)} "
      f"| {cell('rooms_after', 'mem', 'rooms_before')} | {cell('rooms_trimmed', 'mem', 'rooms_before')} "
      f"| {met(grew('rooms_after', 'mem', 'rooms_before', 50 * MB))} "
      f"/ {met(grew('rooms_trimmed', 'mem', 'rooms_before', 5 * MB))} |")
s_rss = r["rooms_settled"]["nats"] - r["rooms_before"]["nats"]
print(f"| (a) nats-server VmRSS, {settle} s after trimming | < 5 MB more | "
      f"{mb(r['rooms_before']['nats'])} | | {cell('rooms_settled', 'nats', 'rooms_before', rooms, 'room')} "
      f"| {met(s_rss < 5 * MB)} |")
print(f"| (a) nats-server /varz mem, {settle} s after trimming | < 5 MB more | "
      f"{mb(r['rooms_before']['mem'] or 0)} | | {cell('rooms_settled', 'mem', 'rooms_before')} "
      f"| {met(grew('rooms_settled', 'mem', 'rooms_before', 5 * MB))} |")
h_after = r["rooms_trimmed"]["heap"] - r["rooms_before"]["heap"]
h_settled = r["rooms_settled"]["heap"] - r["rooms_before"]["heap"]
print(f"| (a) nats-server live Go heap (after a collection) | < 5 MB more once trimmed | "
      f"{mb(r['rooms_before']['heap'])} | {cell('rooms_after', 'heap', 'rooms_before')} "
      f"| {cell('rooms_trimmed', 'heap', 'rooms_before')}; {settle} s later "
      f"{cell('rooms_settled', 'heap', 'rooms_before')} "
      f"| {met(h_after < 5 * MB)} / {met(h_settled < 5 * MB)} |")
for key, what in (("streams", "JetStream streams"), ("consumers", "JetStream consumers"),
                  ("messages", "JetStream messages")):
    print(f"| (a) {what} | | {count('rooms_before', key)} | {count('rooms_after', key)} "
          f"| {count('rooms_trimmed', key)} | |")
print(f"| (a) nats-server open files | | {count('rooms_before', 'files')} "
      f"| {count('rooms_after', 'files')} | {count('rooms_trimmed', 'files')} | |")
print(f"| (a) chat node VmRSS | | {mb(r['rooms_before']['node'])} "
      f"| {cell('rooms_after', 'node', 'rooms_before')} "
      f"| {cell('rooms_trimmed', 'node', 'rooms_before')} | |")
kv_before, kv_after = r["names_before"]["kv"], r["names_after"]["kv"]
gone = [names_run[k] for k in ("registered", "quit")]
print(f"| (b) guests registered / let go | all {names:,} | | "
      f"{' / '.join(f'{n:,}' for n in gone)} | | {met(min(gone) == names)} |")
print(f"| (b) KV_chat_names messages | only who is online: 0 | {kv_before} | {kv_after} | | "
      f"{met(kv_after == 0)} |")
print(f"| (b) nats-server VmRSS | (reported) | {mb(r['names_before']['nats'])} "
      f"| {cell('names_after', 'nats', 'names_before', names, 'guest')} | | |")
print(f"| (b) nats-server /varz mem | (reported) | {mb(r['names_before']['mem'] or 0)} "
      f"| {cell('names_after', 'mem', 'names_before')} | | |")
print(f"| (b) JetStream messages (all streams) | | {count('names_before', 'messages')} "
      f"| {count('names_after', 'messages')} | | |")
print(f"| (b) chat node VmRSS | | {mb(r['names_before']['node'])} "
      f"| {cell('names_after', 'node', 'names_before')} | | |")
for run in (rooms_run, names_run):
    for error in run["errors"][:2]:
        print(f"\n{run['mode']}: {error}", end="")
log = [l for l in open(f"{work}/nats.log") if "too many open files" in l]
if log:
    print(f"\n\nnats-server logged \"too many open files\" {len(log):,} times; first: "
          f"{log[0].split('] ', 2)[-1].strip().replace(work, '...')}", end="")
print()
PY
