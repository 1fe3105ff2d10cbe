#!/usr/bin/env bash
# idle_conns against Ember's echo and hello servers: 60 connections at 25
# per source address come from three loopback addresses, and each completes
# its exchange (an echo, a GET); flags that cannot work are refused with
# status 2 and the reason, before any connection is made.
#
#   idle_conns_test.sh IDLE_CONNS ECHO_SERVER HELLO_SERVER
#
# No sleeps: the port comes from the server's "listening on" line, read with
# a timeout (bench/server_test_lib.sh).
set -euo pipefail

idle_conns=$1
echo_server=$2
hello=$3
source "$TEST_SRCDIR/$TEST_WORKSPACE/bench/server_test_lib.sh"

# Holds 60 connections to the server on `port` with protocol $1.
spread() {
  local out status=0
  out=$("$idle_conns" --port="$port" --connections=60 --per_source=25 \
    --protocol="$1" --hold=0s 2>&1) || status=$?
  ((status == 0)) || fail "idle_conns --protocol=$1 exited $status: $out"
  [[ $out =~ ^idle:\ 60\ connections\ open\ from\ 3\ source\ addresses\ in\ [0-9.]+\ s$ ]] ||
    fail "idle_conns --protocol=$1 printed: $out"
  echo "ok: $1: $out"
}

# Expects idle_conns "$@" to exit 2 with $want in its message.
refused() {
  local want=$1 out status=0
  shift
  out=$("$idle_conns" --port=9 --connections=60 --hold=0s "$@" 2>&1) ||
    status=$?
  ((status == 2)) || fail "idle_conns $* exited $status, not 2: $out"
  [[ $out == *"$want"* ]] || fail "idle_conns $* said: $out"
  echo "ok: refused $*: $out"
}

start "$echo_server"
spread echo
start "$hello"
spread http

refused "ephemeral ports" --per_source=1000000
refused "loopback" --host=192.0.2.1 --per_source=25
refused "negative" --per_source=-1
echo PASS
