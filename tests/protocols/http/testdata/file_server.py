"""A server Ember did not write, for testing HttpClient against it.

Python's own http.server serves the directory given as the first argument
over HTTP/1.1 (so it keeps connections alive), plus three routes:
  /chunked       a response in the chunked coding
  /close         a response delimited by the close of the connection
  /connections   how many connections the server has accepted so far
It prints "port N" on stdout once it listens on 127.0.0.1, and runs until it
is terminated. With "--tls CERT KEY" after the directory it speaks HTTPS
(Python's ssl module, OpenSSL underneath) with that certificate chain and
key.
"""

import functools
import http.server
import ssl
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0
    lock = threading.Lock()

    def setup(self):
        with Handler.lock:
            Handler.connections += 1
        super().setup()

    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"chunked ", b"from ", b"python"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the close")
            self.close_connection = True
            return
        if self.path == "/connections":
            body = str(Handler.connections).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    handler = functools.partial(Handler, directory=sys.argv[1])
    server = Server(("127.0.0.1", 0), handler)
    if len(sys.argv) == 5 and sys.argv[2] == "--tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("port", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
