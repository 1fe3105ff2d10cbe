// A TCP echo server on Boost.Asio, written as Asio's users write one: a
// session object per connection owned through shared_ptr by its pending
// handler, async_read_some into the session's buffer, then async_write of
// what was read, then the next read. One io_context, one thread.
//   asio_echo [--host=H] [--port=P]

#include <array>
#include <cstdio>
#include <memory>
#include <utility>

// After <utility>: Boost 1.74's asio/awaitable.hpp uses std::exchange
// without including it, which GCC 12 in C++20 mode does not forgive.
#include <boost/asio.hpp>

#include "bench/peers/peer_flags.h"

namespace {

using boost::asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

  void Start() {
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    Read();
  }

 private:
  void Read() {
    socket_.async_read_some(
        boost::asio::buffer(buffer_),
        [self = shared_from_this()](boost::system::error_code error,
                                    size_t n) {
          if (!error) self->Write(n);
        });
  }

  void Write(size_t n) {
    boost::asio::async_write(
        socket_, boost::asio::buffer(buffer_, n),
        [self = shared_from_this()](boost::system::error_code error, size_t) {
          if (!error) self->Read();
        });
  }

  tcp::socket socket_;
  std::array<char, 16 * 1024> buffer_;
};

void Accept(tcp::acceptor& acceptor) {
  acceptor.async_accept(
      [&acceptor](boost::system::error_code error, tcp::socket socket) {
        if (!error) std::make_shared<Session>(std::move(socket))->Start();
        Accept(acceptor);
      });
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "A TCP echo server on Boost.Asio.", 7000);
  boost::asio::io_context context(1);
  tcp::acceptor acceptor(context);
  boost::system::error_code error;
  const tcp::endpoint endpoint(boost::asio::ip::make_address(flags.host),
                               flags.port);
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(ember::bench::kListenBacklog, error);
  if (error) {
    std::fprintf(stderr, "listen: %s\n", error.message().c_str());
    return 1;
  }
  ember::bench::PrintListening("echo server (asio)", flags.host,
                               acceptor.local_endpoint().port());
  Accept(acceptor);
  context.run();
  return 0;
}
