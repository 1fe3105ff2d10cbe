// An HTTP/1.1 hello server on Boost.Asio; it answers as hello_response.h
// says. Each session reads with async_read_some, answers every complete
// request of what it has with one async_write, and reads again once that
// write has finished. One io_context, one thread.
//   asio_hello [--host=H] [--port=P]

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

// After <utility>: Boost 1.74's asio/awaitable.hpp uses std::exchange
// without including it, which GCC 12 in C++20 mode does not forgive.
#include <boost/asio.hpp>

#include "bench/peers/hello_response.h"
#include "bench/peers/peer_flags.h"

namespace {

using boost::asio::ip::tcp;

ember::bench::HelloResponse hello;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

  void Start() { Read(); }

 private:
  void Read() {
    socket_.async_read_some(
        boost::asio::buffer(buffer_),
        [self = shared_from_this()](boost::system::error_code error,
                                    size_t n) {
          if (!error) self->Answer(n);
        });
  }

  void Answer(size_t n) {
    in_.append(buffer_.data(), n);
    const size_t requests = ember::bench::TakeRequests(in_);
    if (in_.size() > ember::bench::kRequestHeadBytesMax) return;  // closes
    if (requests == 0) {
      Read();
      return;
    }
    out_.clear();
    ember::bench::AppendResponses(hello, requests, out_);
    boost::asio::async_write(
        socket_, boost::asio::buffer(out_),
        [self = shared_from_this()](boost::system::error_code error, size_t) {
          if (!error) self->Read();
        });
  }

  tcp::socket socket_;
  std::array<char, 16 * 1024> buffer_;
  std::string in_;   // the start of a request not yet whole
  std::string out_;  // the responses being written
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
      argc, argv, "An HTTP hello server on Boost.Asio.", 8080);
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
  ember::bench::PrintListening("hello server (asio)", flags.host,
                               acceptor.local_endpoint().port());
  Accept(acceptor);
  context.run();
  return 0;
}
