// An HTTP/1.1 hello server on libuv (libuv_server.h) that parses its
// requests with the http_parser library (Debian's libhttp-parser-dev), as a
// server on libuv usually does: each connection feeds what it reads to its
// own parser, which calls back with pieces of the URL and of each header
// name and value. They are copied into the connection's request (strings
// kept from one request to the next, so they allocate only to grow), where
// a handler reads them. Every complete request is answered with the
// response of hello_response.h, pipelined requests in order and all the
// answers to one read in one write.
//
// Unlike the other hello peers, which only look for each request's blank
// line, this one finds the end of a request as HTTP says (a body, if there
// is one, is skipped), rejects a malformed request with a 400 and closes,
// and closes after answering when the request asks for it
// (http_should_keep_alive: "Connection: close", or HTTP/1.0 without
// keep-alive) or asks to change protocols (Upgrade), saying
// "Connection: close" in that response.
//   libuv_parser_hello [--host=H] [--port=P]

#include <http_parser.h>

#include <string>
#include <string_view>
#include <vector>

#include "bench/peers/hello_response.h"
#include "bench/peers/libuv_server.h"
#include "bench/peers/peer_flags.h"

namespace {

struct Header {
  std::string name;
  std::string value;
};

// What a handler sees of a request.
struct Request {
  http_method method = HTTP_GET;
  std::string url;
  // The first `header_count` are this request's; the rest are kept for
  // the strings' capacity.
  std::vector<Header> headers;
  size_t header_count = 0;
};

// The state of one connection, on its handle's `data`.
struct ParserConnection {
  http_parser parser;
  Request request;
  bool in_value = false;  // the last header piece was of a value
  bool close = false;     // the last response sent closes the connection
  // Of the read being parsed.
  std::string* out = nullptr;
  const std::string* response = nullptr;
};

constexpr std::string_view kStatusLine = "HTTP/1.1 200 OK\r\n";
constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";

ember::bench::HelloResponse hello;
http_parser_settings settings;

ParserConnection& Of(http_parser* parser) {
  return *static_cast<ParserConnection*>(parser->data);
}

int OnMessageBegin(http_parser* parser) {
  ParserConnection& connection = Of(parser);
  connection.request.url.clear();
  connection.request.header_count = 0;
  connection.in_value = false;
  return 0;
}

int OnUrl(http_parser* parser, const char* at, size_t length) {
  Of(parser).request.url.append(at, length);
  return 0;
}

// A name may come in pieces (split across reads); a piece after a value
// starts the next header.
int OnHeaderField(http_parser* parser, const char* at, size_t length) {
  ParserConnection& connection = Of(parser);
  Request& request = connection.request;
  if (request.header_count == 0 || connection.in_value) {
    if (request.header_count == request.headers.size()) {
      request.headers.emplace_back();
    }
    Header& header = request.headers[request.header_count++];
    header.name.assign(at, length);
    header.value.clear();
    connection.in_value = false;
  } else {
    request.headers[request.header_count - 1].name.append(at, length);
  }
  return 0;
}

int OnHeaderValue(http_parser* parser, const char* at, size_t length) {
  ParserConnection& connection = Of(parser);
  Request& request = connection.request;
  if (request.header_count == 0) return 1;  // the parser never does this
  request.headers[request.header_count - 1].value.append(at, length);
  connection.in_value = true;
  return 0;
}

int OnHeadersComplete(http_parser* parser) {
  Of(parser).request.method = static_cast<http_method>(parser->method);
  return 0;
}

// The handler: the same answer to every request.
void Hello(const Request&, const std::string& response, bool close,
           std::string& out) {
  if (!close) {
    out += response;
    return;
  }
  out += kStatusLine;
  out += "Connection: close\r\n";
  out.append(response, kStatusLine.size());
}

int OnMessageComplete(http_parser* parser) {
  ParserConnection& connection = Of(parser);
  connection.close = !http_should_keep_alive(parser) || parser->upgrade;
  Hello(connection.request, *connection.response, connection.close,
        *connection.out);
  // The parser would go on with the bytes after this request (it stops
  // only when built strict); nothing after a closing response is read.
  if (connection.close) http_parser_pause(parser, 1);
  return 0;
}

bool Answer(ember::bench::UvConnection& uv_connection, std::string_view data,
            std::string& out) {
  auto* connection = static_cast<ParserConnection*>(uv_connection.handle.data);
  if (connection == nullptr) {
    connection = new ParserConnection;
    http_parser_init(&connection->parser, HTTP_REQUEST);
    connection->parser.data = connection;
    uv_connection.handle.data = connection;
  }
  connection->out = &out;
  connection->response = &hello.Get();
  const size_t parsed = http_parser_execute(&connection->parser, &settings,
                                            data.data(), data.size());
  if (connection->close) return false;
  if (HTTP_PARSER_ERRNO(&connection->parser) != HPE_OK ||
      parsed != data.size()) {
    out += kBadRequest;
    return false;
  }
  return true;
}

void Forget(ember::bench::UvConnection& uv_connection) {
  delete static_cast<ParserConnection*>(uv_connection.handle.data);
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "An HTTP hello server on libuv and http_parser.", 8080);
  http_parser_settings_init(&settings);
  settings.on_message_begin = OnMessageBegin;
  settings.on_url = OnUrl;
  settings.on_header_field = OnHeaderField;
  settings.on_header_value = OnHeaderValue;
  settings.on_headers_complete = OnHeadersComplete;
  settings.on_message_complete = OnMessageComplete;
  return ember::bench::RunUvServer(
      flags.host, flags.port, "hello server (libuv, http_parser)",
      /*no_delay=*/false, Answer, Forget);
}
