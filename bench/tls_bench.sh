#!/usr/bin/env bash
# TLS benchmark: Ember against OpenSSL on this machine, over loopback.
#   ./bazelw build --config=opt //bench:tls_load //examples/echo:server
#   bench/tls_bench.sh [seconds]
# Makes an Ed25519 CA and server certificate (SANs localhost, 127.0.0.1) in a
# temporary folder, then measures
#   - full handshakes per second (no resumption), `openssl s_time -new`
#     against Ember's echo server and against `openssl s_server`;
#   - the same with Ember's client (tls_load --mode=handshake);
#   - bulk throughput, 16 KiB writes (16 KiB records), from Ember's client
#     and from `openssl s_client` into Ember's sink (tls_load --mode=serve)
#     and into `openssl s_server` (its output to /dev/null).
# Servers run pinned to one core and the load to the other (taskset), so the
# two do not fight for a core: figures drift by tens of percent otherwise.
set -euo pipefail
seconds=${1:-10}
server_pin=(taskset -c "${SERVER_CPU:-0}")
client_pin=(taskset -c "${CLIENT_CPU:-1}")
bin=$(cd "$(dirname "$0")/.." && pwd)/bazel-out/k8-optopt/bin
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext.cnf
openssl req -x509 -newkey ed25519 -nodes -keyout ca.key -out ca.pem \
  -subj "/CN=Bench CA" -days 2 2>/dev/null
openssl req -newkey ed25519 -nodes -keyout server.key -out server.csr \
  -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out server.pem -days 2 -extfile ext.cnf 2>/dev/null

wait_port() {  # file, pattern -> port
  for _ in $(seq 1 100); do
    if grep -q "$2" "$1"; then
      grep -o "$2[0-9.]*:[0-9]*" "$1" | head -1 | sed 's/.*://'
      return
    fi
    sleep 0.1
  done
  echo "server did not start: $(cat "$1")" >&2
  exit 1
}

"${server_pin[@]}" "$bin/examples/echo/server" --port=0 --tls_cert=server.pem \
  --tls_key=server.key > ember_echo.out 2>&1 &
ember_echo=$(wait_port ember_echo.out "listening on ")
"${server_pin[@]}" "$bin/bench/tls_load" --mode=serve --port=0 --cert=server.pem \
  --key=server.key > ember_sink.out 2>&1 &
ember_sink=$(wait_port ember_sink.out "serving on ")
# -quiet (no echo of what arrives) also hides the port: pick one first.
ossl=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tail -f /dev/null | "${server_pin[@]}" openssl s_server -accept "127.0.0.1:$ossl" \
  -cert server.pem -key server.key -quiet > /dev/null 2>&1 &
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ossl") 2>/dev/null && break
  sleep 0.1
done

echo "== handshakes/s, openssl s_time -new (full handshakes), ${seconds}s"
for target in "ember echo server:$ember_echo" "openssl s_server:$ossl"; do
  printf '%-20s ' "${target%%:*}"
  "${client_pin[@]}" openssl s_time -connect "127.0.0.1:${target##*:}" -new -time "$seconds" \
    2>&1 | grep 'real seconds' || true
done
echo "== handshakes/s, Ember's client (tls_load --mode=handshake, 1 connection at a time)"
for target in "ember sink server:$ember_sink" "openssl s_server:$ossl"; do
  printf '%-20s ' "${target%%:*}"
  "${client_pin[@]}" "$bin/bench/tls_load" --mode=handshake --port="${target##*:}" --ca=ca.pem \
    --connections=1 --duration="${seconds}s" || true
done
echo "== bulk, 16 KiB records, Ember's client (tls_load --mode=bulk)"
for target in "ember sink server:$ember_sink" "openssl s_server:$ossl"; do
  printf '%-20s ' "${target%%:*}"
  "${client_pin[@]}" "$bin/bench/tls_load" --mode=bulk --port="${target##*:}" --ca=ca.pem \
    --duration="${seconds}s" || true
done
echo "== bulk, 16 KiB records, openssl s_client (2 GB from /dev/zero)"
echo "   (the Ember sink prints what it received, below, to check the count)"
for target in "ember sink server:$ember_sink" "openssl s_server:$ossl"; do
  printf '%-20s ' "${target%%:*}"
  start=$(date +%s.%N)
  head -c 2000000000 /dev/zero | "${client_pin[@]}" openssl s_client -quiet -no_ign_eof \
    -connect "127.0.0.1:${target##*:}" > /dev/null 2>&1 || true
  end=$(date +%s.%N)
  echo "2000000000 bytes sent in $(echo "$end - $start" | bc) s = $(echo "2000 / ($end - $start)" | bc) MB/s"
done
echo "== what the Ember sink server received, per connection"
grep "received" ember_sink.out | tail -4
