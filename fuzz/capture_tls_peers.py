#!/usr/bin/env python3
"""Captures real TLS handshakes from OpenSSL and curl for the TLS fuzz corpora.

  python3 fuzz/capture_tls_peers.py fuzz/corpus

corpus/tls_server/ gets the ClientHellos of `openssl s_client` (TLS 1.3,
TLS 1.2 only, with ALPN) and of `curl`; corpus/tls_client/ gets the first
flights of `openssl s_server` (TLS 1.3 and TLS 1.2) answering Ember's
ClientHello (corpus/tls_server/ember_client_hello_v0 and _v1, written by
//fuzz:make_tls_corpus, which must run first). Each file starts with the
two-byte header of fuzz/tls_fuzz_util.h. A one-off tool: it is not run by
the tests, which replay what it wrote.
"""

import os
import socket
import subprocess
import sys
import tempfile


def read_records(sock, want_records):
    """Reads whole TLS records until `want_records` or the peer goes quiet."""
    data = b""
    sock.settimeout(3)
    records = 0
    try:
        while records < want_records:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            records, offset = 0, 0
            while offset + 5 <= len(data):
                length = int.from_bytes(data[offset + 3:offset + 5], "big")
                if offset + 5 + length > len(data):
                    break
                offset += 5 + length
                records += 1
    except socket.timeout:
        pass
    return data


def write(path, variant, payload):
    with open(path, "wb") as f:
        f.write(bytes([variant, 0]) + payload)
    print(f"{path}: {len(payload) + 2} bytes")


def capture_hello(argv, port_slot, path, variant):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    argv = [a.replace(port_slot, str(port)) for a in argv]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    conn, _ = listener.accept()
    write(path, variant, read_records(conn, 1))
    conn.close()
    listener.close()
    proc.kill()
    proc.wait()


def capture_flight(args, hello_path, path, variant, tmp):
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    proc = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
         "-cert", cert, "-key", key] + args,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    port = None
    for line in proc.stdout:
        if line.startswith("ACCEPT"):
            port = int(line.strip().rsplit(":", 1)[1])
            break
    with open(hello_path, "rb") as f:
        hello = f.read()[2:]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(hello)
    write(path, variant, read_records(sock, 1000))
    sock.close()
    proc.kill()
    proc.wait()


def main():
    corpus = sys.argv[1]
    server_dir = os.path.join(corpus, "tls_server")
    client_dir = os.path.join(corpus, "tls_client")
    slot = "@PORT@"
    connect = f"127.0.0.1:{slot}"
    capture_hello(["openssl", "s_client", "-connect", connect,
                   "-servername", "localhost"], slot,
                  os.path.join(server_dir, "openssl_client_hello_tls13"), 0)
    capture_hello(["openssl", "s_client", "-connect", connect, "-tls1_2"],
                  slot, os.path.join(server_dir, "openssl_client_hello_tls12"),
                  1)
    capture_hello(["openssl", "s_client", "-connect", connect,
                   "-alpn", "http/1.1,h2"], slot,
                  os.path.join(server_dir, "openssl_client_hello_alpn"), 2)
    capture_hello(["curl", "-sk", "--resolve", f"localhost:{slot}:127.0.0.1",
                   f"https://localhost:{slot}/"], slot,
                  os.path.join(server_dir, "curl_client_hello"), 2)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes",
             "-keyout", os.path.join(tmp, "k.pem"), "-out",
             os.path.join(tmp, "c.pem"), "-subj", "/CN=localhost",
             "-days", "30"], check=True, capture_output=True)
        capture_flight([], os.path.join(server_dir, "ember_client_hello_v0"),
                       os.path.join(client_dir, "openssl_server_flight_tls13"),
                       0, tmp)
        capture_flight(["-tls1_2"],
                       os.path.join(server_dir, "ember_client_hello_v1"),
                       os.path.join(client_dir, "openssl_server_flight_tls12"),
                       1, tmp)


if __name__ == "__main__":
    main()
