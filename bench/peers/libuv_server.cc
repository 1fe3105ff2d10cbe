#include "bench/peers/libuv_server.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/peers/peer_flags.h"

namespace ember::bench {
namespace {

struct WriteRequest {
  uv_write_t request;
  std::string bytes;
  bool then_close = false;  // the connection's last write
};

struct Server {
  uv_tcp_t listener;
  bool no_delay = false;
  UvOnRead on_read = nullptr;
  UvOnClose on_close = nullptr;
};

Server server;
char read_buffer[64 * 1024];
std::string out;  // reused for every read's answer

void OnClosed(uv_handle_t* handle) {
  auto* connection = reinterpret_cast<UvConnection*>(handle);
  if (server.on_close != nullptr) server.on_close(*connection);
  delete connection;
}

void Close(UvConnection* connection) {
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&connection->handle))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&connection->handle), OnClosed);
  }
}

void Allocate(uv_handle_t*, size_t, uv_buf_t* buf) {
  *buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

void OnWritten(uv_write_t* request, int status) {
  auto* write = reinterpret_cast<WriteRequest*>(request);
  auto* connection = reinterpret_cast<UvConnection*>(request->handle);
  const bool then_close = write->then_close;
  delete write;
  if (status != 0 || then_close) {
    Close(connection);
    return;
  }
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection->handle);
  if (uv_stream_get_write_queue_size(stream) == 0 &&
      !uv_is_closing(reinterpret_cast<uv_handle_t*>(stream))) {
    uv_read_start(stream, Allocate, OnRead);
  }
}

void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* connection = reinterpret_cast<UvConnection*>(stream);
  if (nread == 0) return;  // EAGAIN
  if (nread < 0) {         // UV_EOF or an error
    Close(connection);
    return;
  }
  out.clear();
  const bool keep_open = server.on_read(
      *connection, std::string_view(buf->base, static_cast<size_t>(nread)),
      out);
  if (!keep_open) {
    if (out.empty()) {
      Close(connection);
      return;
    }
    uv_read_stop(stream);  // for good: the answer is the last thing sent
  }
  if (out.empty()) return;
  uv_buf_t whole = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
  int written = uv_try_write(stream, &whole, 1);
  if (written == UV_EAGAIN) written = 0;
  if (written < 0) {
    Close(connection);
    return;
  }
  if (static_cast<size_t>(written) == out.size()) {
    if (!keep_open) Close(connection);
    return;
  }
  auto* write = new WriteRequest;
  write->bytes.assign(out, static_cast<size_t>(written));
  write->then_close = !keep_open;
  uv_buf_t rest = uv_buf_init(write->bytes.data(),
                              static_cast<unsigned>(write->bytes.size()));
  if (uv_write(&write->request, stream, &rest, 1, OnWritten) != 0) {
    delete write;
    Close(connection);
    return;
  }
  if (keep_open) uv_read_stop(stream);  // until the queue has drained
}

void OnConnection(uv_stream_t* listener, int status) {
  if (status < 0) return;
  auto* connection = new UvConnection;
  uv_tcp_init(listener->loop, &connection->handle);
  connection->handle.data = nullptr;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection->handle);
  if (uv_accept(listener, stream) != 0) {
    Close(connection);
    return;
  }
  if (server.no_delay) uv_tcp_nodelay(&connection->handle, 1);
  uv_read_start(stream, Allocate, OnRead);
}

}  // namespace

int RunUvServer(const std::string& host, uint16_t port, std::string_view what,
                bool no_delay, UvOnRead on_read, UvOnClose on_close) {
  // Writing to a connection the peer has reset must fail with EPIPE, not
  // kill the process: the library writes with write(2)/writev(2), which
  // raise SIGPIPE there, and leaves ignoring it to the program.
  std::signal(SIGPIPE, SIG_IGN);
  uv_loop_t* loop = uv_default_loop();
  server.no_delay = no_delay;
  server.on_read = on_read;
  server.on_close = on_close;
  uv_tcp_init(loop, &server.listener);
  sockaddr_in address;
  uv_ip4_addr(host.c_str(), port, &address);
  int rc = uv_tcp_bind(&server.listener,
                       reinterpret_cast<const sockaddr*>(&address), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server.listener),
                   kListenBacklog, OnConnection);
  }
  if (rc != 0) {
    std::fprintf(stderr, "listen: %s\n", uv_strerror(rc));
    return 1;
  }
  uv_os_fd_t fd;
  uv_fileno(reinterpret_cast<uv_handle_t*>(&server.listener), &fd);
  PrintListening(what, host, BoundPort(fd));
  return uv_run(loop, UV_RUN_DEFAULT);
}

}  // namespace ember::bench
