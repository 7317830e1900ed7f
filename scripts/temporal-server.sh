#!/usr/bin/env bash
# A real Temporal server on loopback for tests, benchmarks and local runs (decision 0508).
#
#   scripts/temporal-server.sh build          build the Temporal CLI once per machine (cached by version)
#   scripts/temporal-server.sh start [DIR]    start its dev server (state in memory, log and pid in DIR;
#                                             WAYPOST_TEMPORAL_DB=file keeps SQLite in DIR), wait until it answers,
#                                             print `TEMPORAL_ADDRESS=127.0.0.1:PORT`
#   scripts/temporal-server.sh stop [DIR]     stop the server started in DIR
#
# The dev server is the real Temporal server (frontend, history, matching, worker services) on
# SQLite; release pages and container images are unreachable here, so it is built from Go modules.
# Exit codes: 0 ok, 3 no Go on this machine (callers may skip), anything else a real failure.
set -euo pipefail

CLI_VERSION="${WAYPOST_TEMPORAL_CLI_VERSION:-1.5.1}"
CACHE_DIR="${WAYPOST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/waypost}"
BIN_DIR="$CACHE_DIR/temporal-cli-v$CLI_VERSION"
BIN="$BIN_DIR/temporal"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEFAULT_DIR="$ROOT/.data/temporal-test"

say() { echo "[temporal-server] $*" >&2; }

build() {
  if [ -x "$BIN" ]; then return 0; fi
  if ! command -v go >/dev/null 2>&1; then
    say "Go is not installed: cannot build the Temporal server. Install Go 1.22+ (with access to the Go module proxy) or set TEMPORAL_ADDRESS to a running server."
    exit 3
  fi
  say "building the Temporal CLI v$CLI_VERSION with $(go version | cut -d' ' -f3) (first time on this machine: several minutes)"
  local tmp
  mkdir -p "$CACHE_DIR"
  tmp="$(mktemp -d "$CACHE_DIR/build.XXXXXX")"
  # v1.5.1 is the newest CLI without a `replace` to its cliext module, which the proxy cannot serve.
  if ! CGO_ENABLED=0 GOTOOLCHAIN=local GOBIN="$tmp" go install "github.com/temporalio/cli/cmd/temporal@v$CLI_VERSION" >"$tmp/build.log" 2>&1; then
    say "go install github.com/temporalio/cli/cmd/temporal@v$CLI_VERSION failed:"
    tail -n 30 "$tmp/build.log" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mkdir -p "$BIN_DIR"
  # Atomic: a concurrent or interrupted build never leaves a half-written binary in the cache.
  mv "$tmp/temporal" "$BIN.partial.$$" && mv "$BIN.partial.$$" "$BIN"
  rm -rf "$tmp"
  say "built $BIN"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local dir="${1:-$DEFAULT_DIR}"
  build
  mkdir -p "$dir"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "TEMPORAL_ADDRESS=$(cat "$dir/address")"
    return 0
  fi
  local port ui_port http_port metrics_port
  port="${TEMPORAL_PORT:-$(free_port)}"
  http_port="$(free_port)"
  ui_port="$(free_port)"
  metrics_port="$(free_port)"
  rm -f "$dir/temporal.db" "$dir/temporal.db-shm" "$dir/temporal.db-wal"
  # In memory by default: tests want a clean server, and the file-backed one does about half the
  # work per second on 2 cores (docs/benchmarks/temporal.md).
  local storage=()
  [ "${WAYPOST_TEMPORAL_DB:-memory}" = "file" ] && storage=(--db-filename "$dir/temporal.db")
  # Operator actions use workflow Updates (on by default since server 1.25; said here so an older CLI works too).
  setsid "$BIN" server start-dev --ip 127.0.0.1 --port "$port" --http-port "$http_port" --ui-port "$ui_port" \
    --metrics-port "$metrics_port" --headless --log-level warn "${storage[@]}" \
    --dynamic-config-value frontend.enableUpdateWorkflowExecution=true \
    >"$dir/server.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"
  echo "127.0.0.1:$port" >"$dir/address"
  for _ in $(seq 1 120); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "the Temporal server exited while starting; its log ($dir/server.log):"
      tail -n 30 "$dir/server.log" >&2
      exit 1
    fi
    if "$BIN" operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1 &&
      "$BIN" operator namespace describe --address "127.0.0.1:$port" --namespace default >/dev/null 2>&1; then
      echo "TEMPORAL_ADDRESS=127.0.0.1:$port"
      return 0
    fi
    sleep 0.5
  done
  say "the Temporal server did not answer on 127.0.0.1:$port within 60 s; its log ($dir/server.log):"
  tail -n 30 "$dir/server.log" >&2
  stop "$dir"
  exit 1
}

stop() {
  local dir="${1:-$DEFAULT_DIR}"
  [ -f "$dir/pid" ] || return 0
  local pid
  pid="$(cat "$dir/pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid" "$dir/address"
}

case "${1:-}" in
  build) build; echo "$BIN" ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  path) echo "$BIN" ;;
  *) echo "usage: $0 build | start [DIR] | stop [DIR] | path" >&2; exit 2 ;;
esac
