// Limits for the HTTP/1.1 parsers. Every buffer a parser keeps is bounded by
// one of these; exceeding one is an HttpParseError carrying the status a
// server answers with before it closes the connection.

#ifndef EMBER_PROTOCOLS_HTTP_HTTP_PARSER_OPTIONS_H_
#define EMBER_PROTOCOLS_HTTP_HTTP_PARSER_OPTIONS_H_

#include <cstddef>
#include <cstdint>

namespace ember::protocols {

struct HttpParserOptions {
  // The whole header section: start line, field lines and their CRLFs, plus
  // any empty lines before the start line (431). Trailer sections have the
  // same limit, counted separately. At most 1 GiB.
  size_t header_bytes_max = 64 * 1024;
  // Field lines in a header (or trailer) section (431).
  size_t header_count_max = 100;
  // One line of a header section, CRLF included: a longer request line is
  // 414, a longer field line 431.
  size_t line_bytes_max = 8 * 1024;
  // Decoded body bytes of one message (413). A Content-Length above it is
  // refused before any body byte is read. Below 2^60.
  uint64_t body_bytes_max = 8 * 1024 * 1024;
  // One chunk-size line, extensions and CRLF included (400).
  size_t chunk_line_bytes_max = 1024;
  // Response parser only: requests that may await their responses (see
  // HttpResponseParser::ExpectResponseTo).
  size_t pipeline_depth_max = 64;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HTTP_HTTP_PARSER_OPTIONS_H_
