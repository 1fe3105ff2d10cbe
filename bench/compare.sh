#!/usr/bin/env bash
# Compares Ember's example servers with the same servers on epoll, io_uring,
# libuv, libevent and Boost.Asio (bench/peers; libuv_parser is the libuv HTTP
# server parsing with http_parser), workload by workload. See the
# "Ember against other event loops" section of bench/README.md.
#
#   bench/compare.sh                 # 5 rounds of 10 s per server and workload
#   bench/compare.sh --quick         # 1 round of 3 s: checks that all works
#   bench/compare.sh --rounds=3 --duration=5 --workloads=echo_1,http_50
#   bench/compare.sh --ember_dir=/path/to/other/checkout --ember_threads=2
#
# Flags:
#   --rounds=R         rounds per workload (default 5)
#   --duration=S       seconds of load per run (default 10)
#   --quick            --rounds=1 --duration=3
#   --idle=N           idle connections for the memory workloads (10000;
#                      bench/idle_conns spreads them over source addresses
#                      127.0.0.1, 127.0.0.2, ... beyond what one address
#                      makes, so 100,000 need only the descriptor limit)
#   --workloads=A,B    a subset of: echo_1 echo_50x16 echo_4k_50x4 http_50
#                      http_1000 h2load_50x16 idle_echo idle_http
#   --servers=A,B      a subset of: ember ember_scan epoll uring libuv
#                      libuv_parser libevent evhttp asio, and ember_uring
#                      (ember_scan, libuv_parser and evhttp are HTTP only;
#                      ember_scan is Ember's reactor answering with the epoll
#                      loop's blank-line scan, no HTTP layer, built from this
#                      checkout whatever --ember_dir says; ember_uring, run
#                      only when named, is "ember" started with
#                      --backend=uring: Ember on io_uring, Linux 6.0 or later)
#   --ember_dir=DIR    the checkout whose //examples/echo:server and
#                      //examples/http:hello are "ember" and "ember_uring"
#                      (default: this one)
#   --ember_threads=N  passes --threads=N to Ember's servers, ember and
#                      ember_uring (default: not passed, so they run
#                      single-threaded)
#   --config=NAME      the Bazel config every server is built with (default
#                      release: opt and link-time optimisation; opt: without)
#   --no_build         use the binaries already built with that config
#   --out=DIR          where to keep the raw outputs (default: a temp dir)
#   --summarize=FILE   only print the tables of an earlier run's runs.tsv
#
# Within each workload the servers take turns, each round starting one server
# later (A B C D E, B C D E A, C D E A B, ...), so that drift in the shared
# machine's load spreads over all of them and favours no place. Each run
# starts the server afresh on a free port, pinned to CPU 0 (`taskset -c 0`);
# the load runs pinned to CPU 1. Per run it records the load tool's
# operations per second and latency percentiles, and the server's CPU time
# (utime + stime from /proc/PID/stat, over the whole load run, connection
# set-up included) divided by the operations, and the user-space part of
# it. The first table gives the median of the rounds of each figure (each
# taken on its own); the second divides each run's figures by the epoll
# loop's in the same round and gives the median and quartiles of those
# ratios, which a drift of the machine between rounds does not move. A
# server that does not start, dies, or a load run that reports any error
# (connection errors, non-2xx responses, echoes that differ) stops the
# script with status 1.
set -euo pipefail

rounds=5
duration=10
idle=10000
workloads="echo_1 echo_50x16 echo_4k_50x4 http_50 http_1000 h2load_50x16 idle_echo idle_http"
servers="ember ember_scan epoll uring libuv libuv_parser libevent evhttp asio"
here=$(cd "$(dirname "$0")/.." && pwd)
ember_dir=$here
ember_threads=
build=1
config=release
out=
summarize=

for arg in "$@"; do
  case "$arg" in
    --rounds=*) rounds=${arg#*=} ;;
    --duration=*) duration=${arg#*=} ;;
    --quick) rounds=1 duration=3 ;;
    --idle=*) idle=${arg#*=} ;;
    --workloads=*) workloads=${arg#*=}; workloads=${workloads//,/ } ;;
    --servers=*) servers=${arg#*=}; servers=${servers//,/ } ;;
    --ember_dir=*) ember_dir=$(cd "${arg#*=}" && pwd) ;;
    --ember_threads=*) ember_threads=${arg#*=} ;;
    --config=release | --config=opt) config=${arg#*=} ;;
    --no_build) build= ;;
    --out=*) out=${arg#*=} ;;
    --summarize=*) summarize=${arg#*=} ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
# Prints the tables of a runs.tsv: per workload and server, the medians over
# the rounds.
summary() {
python3 - "$1" <<'EOF'
import csv, math, statistics, sys

runs = sys.argv[1]
titles = {
    "echo_1": "echo 64 B, 1 connection ping-pong (echo_load)",
    "echo_50x16": "echo 64 B, 50 connections x 16 in flight (echo_load)",
    "echo_4k_50x4": "echo 4 KiB, 50 connections x 4 in flight (echo_load)",
    "http_50": "HTTP hello, 50 connections (wrk --latency -t1 -c50)",
    "http_1000": "HTTP hello, 1,000 connections (wrk --latency -t1 -c1000)",
    "h2load_50x16": "HTTP hello, 50 connections x 16 pipelined (h2load --h1 -c50 -m16); latency: mean, h2load gives no percentiles",
    "idle_echo": "memory per idle echo connection (after one 64 B echo each)",
    "idle_http": "memory per idle HTTP keep-alive connection (after one GET / each)",
}
rows = {}
order = []
with open(runs) as f:
    for r in csv.DictReader(f, delimiter="\t"):
        key = (r["workload"], r["server"])
        if r["workload"] not in order:
            order.append(r["workload"])
        rows.setdefault(key, []).append(r)

def med(values):
    values = [float(v) for v in values if v != ""]
    return statistics.median(values) if values else None

# Server s's runs of workload w beside server ref's in the same round: a
# list of (s's row, ref's row), rounds where either is missing left out.
def same_rounds(w, s, ref):
    by_round = {r["round"]: r for r in rows.get((w, ref), [])}
    return [(r, by_round[r["round"]]) for r in rows[(w, s)]
            if r["round"] in by_round]

# Each server's figure over the epoll loop's in the same round, one ratio
# per round: a drift of the machine that lasts a round moves both alike and
# cancels. Prints the median ratio and its quartiles over the rounds.
def paired(w, servers):
    if len(rows.get((w, "epoll"), [])) < 2:
        return
    def spread(values):
        if not values:
            return "-"
        m = statistics.median(values)
        if len(values) < 4:
            return f"{m:.2f}"
        q = statistics.quantiles(values, n=4)
        return f"{m:.2f} ({q[0]:.2f} to {q[2]:.2f})"
    print("\nEach round's figure over the epoll loop's in the same round: median"
          " (quartiles) of the rounds.\n")
    print("| Server | ops/s | server CPU per op | p99 latency |")
    print("|---|---|---|---|")
    for s in servers:
        if s == "epoll":
            continue
        ops, cpu, p99 = [], [], []
        for r, e in same_rounds(w, s, "epoll"):
            ops.append(float(r["ops_per_s"]) / float(e["ops_per_s"]))
            if float(e["cpu_us_per_op"]) > 0:
                cpu.append(float(r["cpu_us_per_op"]) / float(e["cpu_us_per_op"]))
            if r["p99_us"] and e["p99_us"]:
                p99.append(float(r["p99_us"]) / float(e["p99_us"]))
        print(f"| {s} | {spread(ops)} | {spread(cpu)} | {spread(p99)} |")

# Ember against each other server, round by round: in how many rounds
# Ember's figure was the better one, and the two-sided sign test's p-value
# for "either is as likely to be better" (ties left out). A median ratio
# says how far apart two servers sit; this says whether the rounds agree on
# which is ahead, which a noisy figure such as p99 needs before a gap counts.
def sign_p(better, worse):
    n = better + worse
    if n == 0:
        return 1.0
    k = min(better, worse)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)

def versus(w, servers):
    if "ember" not in servers:
        return
    peers = [s for s in servers if s != "ember"]
    if not peers or len(rows[(w, "ember")]) < 2:
        return
    print("\nEmber against each server in the same round: rounds where Ember's"
          " figure is the better (more ops/s, less CPU per op, lower p99),"
          " of the rounds, and the sign test's two-sided p.\n")
    print("| Server | ops/s | server CPU per op | p99 latency |")
    print("|---|---|---|---|")
    def cell(pairs, higher_better):
        better = sum(1 for a, b in pairs if (a > b if higher_better else a < b))
        worse = sum(1 for a, b in pairs if (a < b if higher_better else a > b))
        if not pairs:
            return "-"
        return f"{better} of {len(pairs)} (p {sign_p(better, worse):.2f})"
    for s in peers:
        ops, cpu, p99 = [], [], []
        for e, r in same_rounds(w, "ember", s):
            ops.append((float(e["ops_per_s"]), float(r["ops_per_s"])))
            cpu.append((float(e["cpu_us_per_op"]), float(r["cpu_us_per_op"])))
            if e["p99_us"] and r["p99_us"]:
                p99.append((float(e["p99_us"]), float(r["p99_us"])))
        print(f"| {s} | {cell(ops, True)} | {cell(cpu, False)} | {cell(p99, False)} |")

print(f"\nMedians over the rounds ({runs}).")
for w in order:
    print(f"\n### {titles.get(w, w)}\n")
    servers = [s for (ww, s) in rows if ww == w]
    loads = [float(r["loadavg"]) for s in servers for r in rows[(w, s)]]
    if w.startswith("idle_"):
        print("| Server | KiB per connection (median) | range |")
        print("|---|---|---|")
        for s in servers:
            k = [float(r["kib_per_conn"]) for r in rows[(w, s)]]
            print(f"| {s} | {statistics.median(k):.2f} | {min(k):.2f} to {max(k):.2f} |")
    else:
        ref = med(r["ops_per_s"] for r in rows.get((w, "epoll"), []))
        print("| Server | ops/s (median) | vs epoll | range | server CPU us/op | of which user | p50 us | p99 us |")
        print("|---|---|---|---|---|---|---|---|")
        for s in servers:
            rs = rows[(w, s)]
            ops = [float(r["ops_per_s"]) for r in rs]
            m = statistics.median(ops)
            ratio = f"{m / ref:.2f}" if ref else "-"
            p99 = med(r["p99_us"] for r in rs)
            user = med(r.get("user_us_per_op") or "" for r in rs)
            print(f"| {s} | {m:,.0f} | {ratio} | {min(ops):,.0f} to {max(ops):,.0f} "
                  f"| {med(r['cpu_us_per_op'] for r in rs):.2f} "
                  f"| {'-' if user is None else f'{user:.2f}'} "
                  f"| {med(r['p50_us'] for r in rs):.1f} "
                  f"| {'-' if p99 is None else f'{p99:.1f}'} |")
        paired(w, servers)
        versus(w, servers)
    print(f"\n1-minute load average during these runs: {min(loads):.2f} to {max(loads):.2f}")
EOF
}

if [[ -n $summarize ]]; then
  summary "$summarize"
  exit 0
fi

[[ $rounds =~ ^[1-9][0-9]*$ && $duration =~ ^[1-9][0-9]*$ &&
   $idle =~ ^[1-9][0-9]*$ ]] || {
  echo "compare.sh: --rounds, --duration and --idle take positive integers" >&2
  exit 2
}
[[ -z $ember_threads || $ember_threads =~ ^[1-9][0-9]*$ ]] || {
  echo "compare.sh: --ember_threads takes a positive integer" >&2
  exit 2
}
for tool in wrk h2load taskset python3; do
  command -v "$tool" >/dev/null || {
    echo "compare.sh: needs $tool (apt-get install wrk nghttp2-client util-linux python3)" >&2
    exit 2
  }
done
if [[ -z $out ]]; then out=$(mktemp -d /tmp/ember-compare.XXXXXX); fi
mkdir -p "$out"
# The 1,000-connection and idle workloads need descriptors on both sides.
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < idle + 100)); then
  echo "compare.sh: open-file limit $(ulimit -n) is too low for --idle=$idle" >&2
  exit 2
fi

# Every process started, so the trap stops them all however the script ends.
started=()
cleanup() {
  local pid
  for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "compare.sh: $*" >&2
  exit 1
}

if [[ -n $build ]]; then
  echo "building (--config=$config) ..." >&2
  (cd "$here" && ./bazelw build --config="$config" //bench/peers:all \
    //bench:echo_load //bench:idle_conns) >"$out/build.log" 2>&1 ||
    { tail -30 "$out/build.log"; die "build failed (see $out/build.log)"; }
  (cd "$ember_dir" && ./bazelw build --config="$config" //examples/echo:server \
    //examples/http:hello) >>"$out/build.log" 2>&1 ||
    { tail -30 "$out/build.log"; die "build of Ember's servers in $ember_dir failed"; }
fi
bin=$(cd "$here" && ./bazelw info --config="$config" bazel-bin 2>/dev/null)
ember_bin=$(cd "$ember_dir" && ./bazelw info --config="$config" bazel-bin 2>/dev/null)
# Bazel's server is a JVM whose threads wake now and then; on a 2-core
# machine they run on the server's or the load's core, in the middle of a
# run (seen: 100 to 200 switches to them on the server's core in 4 s). The
# binaries are built, so it goes.
(cd "$here" && ./bazelw shutdown) >/dev/null 2>&1 || true
if [[ $ember_dir != "$here" ]]; then
  (cd "$ember_dir" && ./bazelw shutdown) >/dev/null 2>&1 || true
fi

# The server binary for a server name and a protocol (echo or http); empty
# when that library has no such server (ember_scan, evhttp and libuv_parser
# are HTTP only).
server_binary() {
  case "$1/$2" in
    ember/echo | ember_uring/echo) echo "$ember_bin/examples/echo/server" ;;
    ember/http | ember_uring/http) echo "$ember_bin/examples/http/hello" ;;
    ember_scan/echo | evhttp/echo | libuv_parser/echo) ;;
    */echo) echo "$bin/bench/peers/$1_echo" ;;
    */http) echo "$bin/bench/peers/$1_hello" ;;
  esac
}

for s in $servers; do
  for p in echo http; do
    b=$(server_binary "$s" "$p")
    [[ -z $b || -x $b ]] || die "missing $b (run without --no_build)"
  done
done

clk_tck=$(getconf CLK_TCK)

# utime and stime of a process, in clock ticks.
cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat") ||
    { cat "$server_log" >&2; die "the server ($server_log) died during the run"; }
  stat=${stat##*) }  # fields from the third (state) on
  awk '{ print $12, $13 }' <<<"$stat"
}

rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" ||
    { cat "$server_log" >&2; die "the server ($server_log) died during the run"; }
}

# Starts server $1 for protocol $2 on CPU 0, its output in a log named after
# $3; sets server_pid, server_log and port.
start_server() {
  local binary log line i
  binary=$(server_binary "$1" "$2")
  log="$out/server-$1-$2-$3.log"
  server_log=$log
  : >"$log"
  local extra=()
  if [[ ($1 == ember || $1 == ember_uring) && -n $ember_threads ]]; then
    extra=("--threads=$ember_threads")
  fi
  if [[ $1 == ember_uring ]]; then
    extra+=(--backend=uring)
  fi
  taskset -c 0 "$binary" --port=0 "${extra[@]}" >"$log" 2>&1 &
  server_pid=$!
  started+=("$server_pid")
  for ((i = 0; i < 200; ++i)); do
    line=$(grep -m1 'listening on' "$log" || true)
    [[ -n $line ]] && break
    kill -0 "$server_pid" 2>/dev/null ||
      { cat "$log" >&2; die "$1 $2 server exited at start"; }
    sleep 0.05
  done
  [[ $line =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]] ||
    { cat "$log" >&2; die "$1 $2 server did not start within 10 s"; }
  port=${BASH_REMATCH[1]}
}

stop_server() {
  kill -0 "$server_pid" 2>/dev/null ||
    { cat "$server_log" >&2; die "$1 $2 server died during the run"; }
  kill -KILL "$server_pid"
  wait "$server_pid" 2>/dev/null || true
}

# A latency from wrk ("245.00us", "1.23ms", "1.05s") in microseconds.
to_us() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v + 0 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 }
    else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60e6 }
    else { sub(/s$/, "", v); print v * 1e6 } }'
}

# Runs the load of workload $1 against `port`; writes its output to $2 and
# sets ops, ops_per_s, p50_us and p99_us, or dies on any error it reports.
run_load() {
  local workload=$1 log=$2 conns pipeline bytes
  case "$workload" in
    echo_*)
      case "$workload" in
        echo_1) conns=1 pipeline=1 bytes=64 ;;
        echo_50x16) conns=50 pipeline=16 bytes=64 ;;
        echo_4k_50x4) conns=50 pipeline=4 bytes=4096 ;;
      esac
      taskset -c 1 "$bin/bench/echo_load" --port="$port" \
        --connections="$conns" --pipeline="$pipeline" \
        --message_bytes="$bytes" --duration="${duration}s" >"$log" 2>&1 ||
        { cat "$log" >&2; die "echo_load failed ($workload)"; }
      grep -q '^errors: *0$' "$log" || { cat "$log" >&2; die "echo_load reported errors"; }
      read -r ops ops_per_s < <(awk '/^round trips:/ { print $3, $(NF-1) }' "$log")
      read -r p50_us p99_us < <(awk '/^latency \(us\):/ { print $4, $6 }' "$log")
      ;;
    http_50 | http_1000)
      conns=${workload#http_}
      taskset -c 1 wrk --latency -t1 -c"$conns" -d"${duration}s" \
        "http://127.0.0.1:$port/" >"$log" 2>&1 ||
        { cat "$log" >&2; die "wrk failed ($workload)"; }
      if grep -Eq 'Non-2xx|Socket errors' "$log"; then
        cat "$log" >&2
        die "wrk reported errors ($workload)"
      fi
      ops=$(awk '/ requests in / { print $1 }' "$log")
      ops_per_s=$(awk '/^Requests\/sec:/ { print $2 }' "$log")
      p50_us=$(to_us "$(awk '$1 == "50%" { print $2 }' "$log")")
      p99_us=$(to_us "$(awk '$1 == "99%" { print $2 }' "$log")")
      ;;
    h2load_50x16)
      taskset -c 1 h2load --h1 -c50 -m16 -D "$duration" \
        "http://127.0.0.1:$port/" >"$log" 2>&1 ||
        { cat "$log" >&2; die "h2load failed ($workload)"; }
      local failed
      # requests: T total, S started, D done, OK succeeded, F failed,
      # E errored, O timeout
      read -r ops failed < <(awk '/^requests:/ {
        print $8, $10 + $12 + $14 + ($2 - $8) }' "$log")
      local not2xx
      not2xx=$(awk '/^status codes:/ { print $5 + $7 + $9 }' "$log")
      if [[ -z $ops || $failed != 0 || $not2xx != 0 || $ops == 0 ]]; then
        cat "$log" >&2
        die "h2load reported errors ($workload)"
      fi
      ops_per_s=$(awk '/^finished in/ { print $4 }' "$log")
      # h2load gives no percentiles: its mean time per request stands in
      # for p50, and p99 is left empty.
      p50_us=$(to_us "$(awk '/^time for request:/ { print $6 }' "$log")")
      p99_us=
      ;;
  esac
  [[ -n $ops && -n $ops_per_s && -n $p50_us ]] ||
    { cat "$log" >&2; die "could not read the figures of $workload from $log"; }
}

runs="$out/runs.tsv"
printf 'workload\tround\tserver\tops_per_s\tcpu_us_per_op\tp50_us\tp99_us\tkib_per_conn\tloadavg\tuser_us_per_op\tsys_us_per_op\n' >"$runs"

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/load.txt"
echo "raw results in $out" >&2

for workload in $workloads; do
  case "$workload" in
    echo_* | idle_echo) protocol=echo ;;
    http_* | h2load_* | idle_http) protocol=http ;;
    *) die "unknown workload $workload" ;;
  esac
  read -r -a order <<<"$servers"
  for ((round = 1; round <= rounds; ++round)); do
    # Each round starts one server later (A B C, B C A, C A B, ...): a load
    # that drifts during a workload then favours no server's place.
    for ((k = 0; k < ${#order[@]}; ++k)); do
      server=${order[(k + round - 1) % ${#order[@]}]}
      [[ -n $(server_binary "$server" "$protocol") ]] || continue
      loadavg=$(cut -d' ' -f1 /proc/loadavg)
      start_server "$server" "$protocol" "$workload-$round"
      log="$out/$workload-$server-$round.log"
      if [[ $workload == idle_* ]]; then
        before=$(rss_kib "$server_pid")
        : >"$log"  # Polled below, perhaps before the background job opens it.
        "$bin/bench/idle_conns" --port="$port" --connections="$idle" \
          --protocol="$protocol" --hold=600s >"$log" 2>&1 &
        idle_pid=$!
        started+=("$idle_pid")
        # 60 s, and 1 s more for each 1,000 connections (19,000 open in
        # about 6 s here).
        polls=$((1200 + idle / 50))
        for ((i = 0; i < polls; ++i)); do
          grep -q '^idle:' "$log" && break
          kill -0 "$idle_pid" 2>/dev/null ||
            { cat "$log" >&2; die "idle_conns failed against $server"; }
          sleep 0.05
        done
        grep -q '^idle:' "$log" ||
          die "idle_conns did not finish within $((polls / 20)) s"
        after=$(rss_kib "$server_pid")
        kill -KILL "$idle_pid"
        wait "$idle_pid" 2>/dev/null || true
        kib=$(awk -v a="$after" -v b="$before" -v n="$idle" \
          'BEGIN { printf "%.2f", (a - b) / n }')
        printf '%s\t%d\t%s\t\t\t\t\t%s\t%s\t\t\n' "$workload" "$round" "$server" \
          "$kib" "$loadavg" >>"$runs"
        echo "$workload round $round $server: RSS $before -> $after KiB," \
          "$kib KiB per connection (load $loadavg)" >&2
      else
        ticks=$(cpu_ticks "$server_pid")
        read -r user_before sys_before <<<"$ticks"
        run_load "$workload" "$log"
        ticks=$(cpu_ticks "$server_pid")
        read -r user_after sys_after <<<"$ticks"
        read -r cpu_us user_us sys_us < <(awk -v hz="$clk_tck" -v n="$ops" \
          -v u=$((user_after - user_before)) -v s=$((sys_after - sys_before)) \
          'BEGIN { f = 1e6 / hz / n; printf "%.3f %.3f %.3f\n", (u + s) * f, u * f, s * f }')
        printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t\t%s\t%s\t%s\n' "$workload" \
          "$round" "$server" "$ops_per_s" "$cpu_us" "$p50_us" "$p99_us" \
          "$loadavg" "$user_us" "$sys_us" >>"$runs"
        echo "$workload round $round $server: $ops_per_s ops/s," \
          "$cpu_us us CPU/op ($user_us user), p50 $p50_us us," \
          "p99 ${p99_us:--} us (load $loadavg)" >&2
      fi
      stop_server "$server" "$protocol"
    done
  done
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/load.txt"
summary "$runs"
