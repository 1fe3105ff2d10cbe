#!/bin/bash
# Instructions a server spends per HTTP request (or echo round trip),
# counted by callgrind: the figure that says where CPU goes without the noise
# of a shared machine.
#
#   bench/instructions.sh                       # ember and epoll, 100,000 requests
#   bench/instructions.sh --servers=ember,libuv --requests=50000
#   bench/instructions.sh --connections=50 --pipeline=1
#   bench/instructions.sh --protocol=echo --connections=1 --pipeline=1
#
# Each server (built with --config=release, or --config=opt) runs under
# valgrind's callgrind twice: once answering nothing but one request, once
# answering --requests more (--connections x --pipeline in flight): HTTP/1.1
# GETs from h2load, or with --protocol=echo 64-byte messages from
# bench/echo_load. The difference of the two totals, divided by the
# requests, is the cost of one request: start-up, symbol binding and
# shutdown cancel out. Counts are of user-space instructions only; system
# calls show in bench/compare.sh's CPU time, not here.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
servers="ember epoll"
requests=100000
connections=50
pipeline=16
build=1
config=release
protocol=http

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  echo
  echo "Flags: --servers=A,B (ember ember_uring ember_scan epoll uring libuv libuv_parser libevent evhttp asio;"
  echo "         ember_uring is ember with --backend=uring, Ember on io_uring)"
  echo "       --requests=N --connections=C --pipeline=P --protocol=http|echo --config=release|opt --no_build"
}

for arg in "$@"; do
  case "$arg" in
    --servers=*) servers=${arg#*=}; servers=${servers//,/ } ;;
    --requests=*) requests=${arg#*=} ;;
    --connections=*) connections=${arg#*=} ;;
    --pipeline=*) pipeline=${arg#*=} ;;
    --protocol=http | --protocol=echo) protocol=${arg#*=} ;;
    --config=release | --config=opt) config=${arg#*=} ;;
    --no_build) build= ;;
    -h | --help) usage; exit 0 ;;
    *) echo "instructions.sh: unknown flag $arg" >&2; usage >&2; exit 2 ;;
  esac
done
for tool in valgrind callgrind_annotate h2load curl; do
  [[ $protocol == echo && ($tool == h2load || $tool == curl) ]] && continue
  command -v "$tool" >/dev/null || {
    echo "instructions.sh: needs $tool (apt-get install valgrind nghttp2-client curl)" >&2
    exit 2
  }
done

out=$(mktemp -d /tmp/ember-instructions.XXXXXX)
if [[ -n $build ]]; then
  (cd "$here" && ./bazelw build --config="$config" //bench/peers:all \
    //examples/http:hello //examples/echo:server //bench:echo_load) \
    >"$out/build.log" 2>&1 ||
    { tail -30 "$out/build.log"; echo "build failed" >&2; exit 1; }
fi
bin=$(cd "$here" && ./bazelw info --config="$config" bazel-bin 2>/dev/null)

# libuv_parser's is libuv_parser_hello, ember_scan's ember_scan_hello, like
# every peer's; ember_uring's is ember's, started with --backend=uring.
binary() {
  case "$protocol/$1" in
    http/ember | http/ember_uring) echo "$bin/examples/http/hello" ;;
    echo/ember | echo/ember_uring) echo "$bin/examples/echo/server" ;;
    http/*) echo "$bin/bench/peers/$1_hello" ;;
    echo/*) echo "$bin/bench/peers/$1_echo" ;;
  esac
}

# One request (or round trip) to the server on $1, from one connection.
one_request() {
  if [[ $protocol == http ]]; then
    curl -sf -o /dev/null "http://127.0.0.1:$1/"
  else
    "$bin/bench/echo_load" --port="$1" --connections=1 --requests=1 \
      --duration=60s >/dev/null
  fi
}

# $2 requests (or round trips) to the server on $1, as the flags say; the
# load tool's output goes to $3.
requests() {
  if [[ $protocol == http ]]; then
    h2load --h1 -c"$connections" -m"$pipeline" -n"$2" \
      "http://127.0.0.1:$1/" >"$3" 2>&1
    grep -q "$2 succeeded" "$3"
  else
    "$bin/bench/echo_load" --port="$1" --connections="$connections" \
      --pipeline="$pipeline" --message_bytes=64 --requests="$2" \
      --duration=600s >"$3" 2>&1
    grep -q '^errors: *0$' "$3" && grep -q "^round trips: *$2 " "$3"
  fi
}

# Total instructions of server $1 answering one request and then $2 more.
count() {
  local name=$1 n=$2 log="$out/$1-$2.log" cg="$out/$1-$2.cg" port="" i
  : >"$log"
  local extra=()
  if [[ $name == ember_uring ]]; then
    extra=(--backend=uring)
  fi
  valgrind --tool=callgrind --callgrind-out-file="$cg" "$(binary "$name")" \
    --port=0 "${extra[@]}" >"$log" 2>&1 &
  local pid=$!
  for ((i = 0; i < 600; ++i)); do
    [[ $(grep -m1 -o 'listening on 127\.0\.0\.1:[0-9]*' "$log" || true) =~ :([0-9]+)$ ]] &&
      { port=${BASH_REMATCH[1]}; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { cat "$log" >&2; echo "$name did not start" >&2; exit 1; }
  one_request "$port"
  if ((n > 0)); then
    requests "$port" "$n" "$out/$name-load.log" ||
      { cat "$out/$name-load.log" >&2; echo "the load run failed" >&2; exit 1; }
  fi
  kill -TERM "$pid"
  # Valgrind (3.19) runs no other thread while one waits in io_uring_enter,
  # so ember_uring's signal thread takes the TERM only once something wakes
  # the ring: knock with bare connections (each run alike) until it exits.
  if [[ $name == ember_uring ]]; then
    for ((i = 0; i < 600; ++i)); do
      kill -0 "$pid" 2>/dev/null || break
      (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || true
      sleep 0.1
    done
  fi
  wait "$pid" || true
  # awk reads to the end: an early exit would kill callgrind_annotate (pipefail).
  callgrind_annotate "$cg" 2>/dev/null |
    awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }'
}

if [[ $protocol == http ]]; then
  echo "instructions per request, h2load --h1 -c$connections -m$pipeline, $requests requests"
else
  echo "instructions per round trip, echo_load 64 B, $connections connections x $pipeline, $requests round trips"
fi
for s in $servers; do
  base=$(count "$s" 0)
  total=$(count "$s" "$requests")
  echo "$s $(( (total - base) / requests ))"
done
