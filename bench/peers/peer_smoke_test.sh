#!/usr/bin/env bash
# Smoke test of one comparison server: starts it on a free port, talks to it
# over loopback and checks the answer.
#
#   peer_smoke_test.sh echo SERVER
#     echoes a short message and then 100,000 bytes (more than one read)
#   peer_smoke_test.sh http SERVER [EMBER_HELLO]
#     two pipelined GET / requests in one write and a third split in two
#     writes get three responses, each byte for byte the response in
#     hello_response.h (the Date value aside). With EMBER_HELLO, Ember's
#     //examples/http:hello must give the same bytes, so that the comparison
#     stays fair if Ember's response changes.
#   peer_smoke_test.sh http-loose SERVER
#     the same requests; each response is 200 with body "Hello, World!"
#     (for evhttp, which writes its own headers).
#
# No sleeps: the port comes from the server's "listening on" line, read with
# a timeout (bench/server_test_lib.sh), and every read from the server has a
# timeout.
set -euo pipefail

mode=$1
server=$2
ember_hello=${3:-}
source "$TEST_SRCDIR/$TEST_WORKSPACE/bench/server_test_lib.sh"

# Connects to the server on fd `conn`.
connect() {
  exec {conn}<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to $port"
}

# Reads exactly $1 bytes into `got`.
read_exactly() {
  got=
  IFS= read -r -t 10 -N "$1" -u "$conn" got ||
    fail "read ${#got} of $1 bytes within 10 s"
}

# Reads one response (head, then a Content-Length body) into `response`.
read_response() {
  local line length=
  response=
  while :; do
    IFS= read -r -t 10 -u "$conn" line || fail "response head cut short"
    response+="$line"$'\n'
    [[ $line == $'\r' ]] && break
    if [[ ${line,,} =~ ^content-length:\ *([0-9]+) ]]; then
      length=${BASH_REMATCH[1]}
    fi
  done
  [[ -n $length ]] || fail "no Content-Length in: $response"
  read_exactly "$length"
  response+="$got"
}

check_echo() {
  start "$server"
  connect
  local message=$'hello, echo\n'
  printf '%s' "$message" >&"$conn"
  read_exactly "${#message}"
  [[ $got == "$message" ]] || fail "echoed '$got', sent '$message'"
  local big
  big=$(head -c 100000 /dev/zero | tr '\0' 'e')
  printf '%s' "$big" >&"$conn"
  read_exactly 100000
  [[ $got == "$big" ]] || fail "100,000-byte echo differs"
  echo "ok: $server echoes"
}

readonly expected_template=$'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r
Content-Length: 13\r\nDate: DATE\r\n\r\nHello, World!'
readonly request=$'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: smoke\r\n\r\n'

# Sends three requests to `port` and checks each response.
check_http_at() {
  local exact=$1 i
  connect
  printf '%s%s' "$request" "$request" >&"$conn"
  for i in 1 2 3; do
    if ((i == 3)); then
      printf '%s' "${request:0:20}" >&"$conn"
      printf '%s' "${request:20}" >&"$conn"
    fi
    read_response
    if [[ $exact == exact ]]; then
      local normalized
      normalized=$(sed -E 's/^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT\r$/Date: DATE\r/' \
        <<<"$response")
      [[ $normalized == "$expected_template" ]] ||
        fail "response $i differs from hello_response.h's:"$'\n'"$response"
    else
      [[ $response == "HTTP/1.1 200 OK"$'\r\n'* ]] ||
        fail "response $i is not 200: $response"
      [[ $response == *$'\r\n\r\nHello, World!' ]] ||
        fail "response $i has another body: $response"
    fi
  done
  exec {conn}>&-
}

case "$mode" in
  echo) check_echo ;;
  http | http-loose)
    start "$server"
    check_http_at "$([[ $mode == http ]] && echo exact || echo loose)"
    echo "ok: $server answers pipelined requests"
    if [[ -n $ember_hello ]]; then
      start "$ember_hello"
      check_http_at exact
      echo "ok: Ember's hello gives the same bytes"
    fi
    ;;
  *) fail "unknown mode $mode" ;;
esac
