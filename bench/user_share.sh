#!/usr/bin/env bash
# How much of an HTTP server's CPU time its own code takes (user space, as
# against the kernel's system calls), sampled with `perf record -e
# cpu-clock` while wrk loads it: the figure that shows what cache misses on
# each connection's state cost, which callgrind's instruction counts do not
# see and which the whole CPU time hides in its noise.
#
#   bench/user_share.sh                             # ember and epoll, -c1000
#   bench/user_share.sh --connections=50 --rounds=5
#   bench/user_share.sh --binary=/tmp/old/hello --binary=/tmp/new/hello
#
# Flags:
#   --rounds=R         runs per server, taken in turns (default 3)
#   --connections=C    wrk's connections (default 1000)
#   --servers=A,B      of: ember, ember_uring (ember started with
#                      --backend=uring: Ember on io_uring) and the HTTP peers
#                      of bench/peers (epoll, ember_scan, uring, libuv,
#                      libuv_parser, libevent, evhttp, asio);
#                      built with --config=release (default ember,epoll)
#   --binary=PATH      an HTTP server binary taking --port=0 (as the
#                      examples and peers do), in place of --servers; may
#                      be given more than once, to compare two builds
#   --config=NAME      release (the default) or opt: how --servers are built
#   --no_build         use the binaries already built
#
# Each run starts the server pinned to CPU 0 and wrk (-t1, 9 s) pinned to
# CPU 1, samples the server for 5 s from the 2nd second at 10 kHz, and
# prints the share of the samples outside the kernel, with the run's
# requests per second. A server that does not start, and a wrk run with
# errors, stop the script with status 1.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
rounds=3
connections=1000
servers="ember epoll"
binaries=()
labels=()
# A flag for each binary after --port=0, or "" for none.
extra_flags=()
build=1
config=release

for arg in "$@"; do
  case "$arg" in
    --rounds=*) rounds=${arg#*=} ;;
    --connections=*) connections=${arg#*=} ;;
    --servers=*) servers=${arg#*=}; servers=${servers//,/ } ;;
    --binary=*) binaries+=("${arg#*=}"); labels+=("${arg#*=}"); extra_flags+=("") ;;
    --config=release | --config=opt) config=${arg#*=} ;;
    --no_build) build= ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "user_share.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $connections =~ ^[1-9][0-9]*$ ]] || {
  echo "user_share.sh: --rounds and --connections take positive integers" >&2
  exit 2
}
for tool in perf wrk taskset; do
  command -v "$tool" >/dev/null || {
    echo "user_share.sh: needs $tool (apt-get install linux-perf wrk util-linux)" >&2
    exit 2
  }
done

if ((${#binaries[@]} == 0)); then
  if [[ -n $build ]]; then
    (cd "$here" && ./bazelw build --config="$config" //examples/http:hello \
      //bench/peers:all) >/dev/null 2>&1 ||
      { echo "user_share.sh: the build failed" >&2; exit 1; }
  fi
  bin=$(cd "$here" && ./bazelw info --config="$config" bazel-bin 2>/dev/null)
  # Bazel's server (a JVM) would otherwise wake on the measured cores.
  (cd "$here" && ./bazelw shutdown) >/dev/null 2>&1 || true
  for s in $servers; do
    case "$s" in
      ember) binaries+=("$bin/examples/http/hello"); extra_flags+=("") ;;
      ember_uring)
        binaries+=("$bin/examples/http/hello"); extra_flags+=(--backend=uring) ;;
      *) binaries+=("$bin/bench/peers/${s}_hello"); extra_flags+=("") ;;
    esac
    labels+=("$s")
  done
fi
for b in "${binaries[@]}"; do
  [[ -x $b ]] || { echo "user_share.sh: no server binary $b" >&2; exit 2; }
done

ulimit -n "$(ulimit -Hn)"
out=$(mktemp -d /tmp/ember-user-share.XXXXXX)
server_pid=
wrk_pid=
cleanup() {
  [[ -n $server_pid ]] && kill -KILL "$server_pid" 2>/dev/null || true
  [[ -n $wrk_pid ]] && kill -KILL "$wrk_pid" 2>/dev/null || true
}
trap cleanup EXIT

echo "user-space share of the server's CPU, wrk -t1 -c$connections (raw outputs in $out)"
for ((round = 1; round <= rounds; ++round)); do
  for ((k = 0; k < ${#binaries[@]}; ++k)); do
    b=${binaries[k]}
    log="$out/server.log"
    taskset -c 0 "$b" --port=0 ${extra_flags[k]:+"${extra_flags[k]}"} >"$log" 2>&1 &
    server_pid=$!
    port=
    for ((i = 0; i < 200; ++i)); do
      [[ $(grep -m1 -o 'listening on 127\.0\.0\.1:[0-9]*' "$log" || true) =~ :([0-9]+)$ ]] &&
        { port=${BASH_REMATCH[1]}; break; }
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.05
    done
    [[ -n $port ]] || { cat "$log" >&2; echo "user_share.sh: $b did not start" >&2; exit 1; }
    taskset -c 1 wrk -t1 -c"$connections" -d9s "http://127.0.0.1:$port/" \
      >"$out/wrk.log" 2>&1 &
    wrk_pid=$!
    sleep 2
    perf record -e cpu-clock -F 10000 -p "$server_pid" -o "$out/perf.data" \
      -- sleep 5 >/dev/null 2>&1 ||
      { echo "user_share.sh: perf record failed (perf_event_paranoid?)" >&2; exit 1; }
    wait "$wrk_pid" || { cat "$out/wrk.log" >&2; echo "user_share.sh: wrk failed" >&2; exit 1; }
    wrk_pid=
    kill -KILL "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    if grep -Eq 'Non-2xx|Socket errors' "$out/wrk.log"; then
      cat "$out/wrk.log" >&2
      echo "user_share.sh: wrk reported errors" >&2
      exit 1
    fi
    kernel=$(perf report -i "$out/perf.data" --no-children --sort dso 2>/dev/null |
      awk '/\[kernel\.kallsyms\]/ { sub("%", "", $1); print $1 }')
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out/wrk.log")
    awk -v r="$round" -v b="${labels[k]}" -v k="${kernel:-100}" -v rps="$rps" 'BEGIN {
      printf "round %d  %-16s user space %5.2f %%  (%s requests/s)\n", r, b, 100 - k, rps }'
  done
done
