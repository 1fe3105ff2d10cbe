# Sourced by the shell tests of bench/ (bash, under `set -euo pipefail`):
# starts servers that print a "listening on 127.0.0.1:PORT" line, kills
# them on exit, and fails with a message.
#
#   source "$TEST_SRCDIR/$TEST_WORKSPACE/bench/server_test_lib.sh"
#   start "$server" --threads=2    # sets `port`
#   [[ ... ]] || fail "what went wrong"
#
# No sleeps: the port comes from the server's first line, read with a
# timeout.

server_pids=()
kill_servers() {
  local pid
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap kill_servers EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Starts "$@" with --port=0, sets `port` from its "listening on" line.
start() {
  local line
  exec {server_out}< <(exec "$@" --port=0)
  server_pids+=("$!")
  IFS= read -r -t 10 -u "$server_out" line ||
    fail "$1 printed no 'listening on' line within 10 s"
  [[ $line =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]] ||
    fail "unexpected start-up line from $1: $line"
  port=${BASH_REMATCH[1]}
}
