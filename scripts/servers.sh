# Shared by the benchmark scripts (sourced, not run): the release build and a scratch
# directory, and starting and stopping one chat-server or nats-server at a time on loopback.
# Expects CHAT_PORT, NATS_SERVER, NATS_CONF and NATS_PORT; sets BIN (chat-server's directory,
# build_and_workdir) and keeps the running server's pid in SERVER_PID.

SERVER_PID=

# need_nats_and_ports PORT...: stops the script unless $NATS_SERVER is installed and nothing
# listens on any of the ports yet.
need_nats_and_ports() {
    if ! command -v "$NATS_SERVER" >/dev/null; then
        echo "no $NATS_SERVER: install it (Debian: apt-get update && apt-get install -y nats-server)" >&2
        exit 1
    fi
    need_ports "$@"
}

# need_ports PORT...: stops the script if something listens on any of the ports already.
need_ports() {
    for port in "$@"; do
        if ss -ltnH "sport = :$port" | grep -q LISTEN; then
            echo "something already listens on port $port" >&2
            exit 1
        fi
    done
}

# build_and_workdir: builds chat-server and chat-client in release mode (BIN: where they are,
# in $CARGO_TARGET_DIR or target/) and makes WORK a temporary directory; on exit the server
# still running is stopped and WORK removed.
build_and_workdir() {
    cargo build --release --quiet -p chat-server -p chat-client
    BIN=${CARGO_TARGET_DIR:-target}/release
    WORK=$(mktemp -d)
    trap 'if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT
}

# build_for_processes: as build_and_workdir, for a script that starts several processes and
# keeps their pids in PIDS: on exit each is killed and WORK removed. Raises the open-file
# limit to the hard one first.
build_for_processes() {
    ulimit -n "$(ulimit -Hn)"
    cargo build --release --quiet -p chat-server -p chat-client
    BIN=${CARGO_TARGET_DIR:-target}/release
    WORK=$(mktemp -d)
    PIDS=()
    trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
}

# wait_port PORT: until something listens on PORT (10 s at most).
wait_port() {
    for _ in $(seq 200); do
        if ss -ltnH "sport = :$1" | grep -q LISTEN; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# chat_config DIR STORE [LIMITS]: DIR/config.ini for a benchmark (rate limit and connection caps
# off: one host sends as fast as it can), history in STORE (`off`: none), LIMITS more lines of
# [limits] (`rooms_per_user = 0` for a publisher in more than 50 rooms).
chat_config() {
    mkdir -p "$1"
    cat >"$1/config.ini" <<INI
[server]
host = 127.0.0.1
port = $CHAT_PORT
[limits]
messages_per_second = 0
max_clients = 0
max_per_ip = 0
${3:-}
[store]
path = $2
INI
}

# start_chat DIR [WEB_PORT]: chat-server on DIR/config.ini, its web listener on WEB_PORT
# (default: off), logging at $LOG_LEVEL (default: error; `info` is what a server runs at,
# with every connection's span).
start_chat() {
    "$BIN/chat-server" --config "$1/config.ini" --http-port "${2:-off}" --log-level "${LOG_LEVEL:-error}" >/dev/null 2>&1 &
    SERVER_PID=$!
    wait_port "$CHAT_PORT"
}

# start_nats [ARGS...]: nats-server -c $NATS_CONF ARGS.
start_nats() {
    "$NATS_SERVER" -c "$NATS_CONF" "$@" >/dev/null 2>&1 &
    SERVER_PID=$!
    wait_port "$NATS_PORT"
}

# stop_server [SIGNAL]: the one started last (with SIGNAL, default TERM), and wait for it.
stop_server() {
    kill -s "${1:-TERM}" "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
