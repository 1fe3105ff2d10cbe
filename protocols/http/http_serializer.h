// Serialisers for HTTP/1.1 messages: whole requests and responses, heads
// alone (for streaming bodies and for answers to HEAD), and the chunked
// transfer coding, piece by piece.
//
// Every function appends to `out` and, when it fails, leaves `out` as it
// was. They refuse (kInvalidArgument) what would let a peer read a message
// other than the one meant: a method or field name that is not a token, a
// target, value or reason holding CR, LF or another control byte, both
// Content-Length and Transfer-Encoding, a Content-Length that disagrees with
// the body, trailers without chunked framing, a body on a 1xx, 204 or 304.
//
// Framing follows the headers the caller set:
//   - Transfer-Encoding whose final coding is "chunked": the body goes out
//     as one chunk (none if empty), then the last chunk with the trailers.
//   - Content-Length: the body as is; its size must match.
//   - Neither: a request with a body gets a Content-Length field added (there
//     is no other way to send one); a response is written as given, its body
//     delimited by the end of the connection, which the caller must then
//     close (RFC 9112 section 6.3).
// A parsed message serialised and parsed again gives the same message.

#ifndef EMBER_PROTOCOLS_HTTP_HTTP_SERIALIZER_H_
#define EMBER_PROTOCOLS_HTTP_HTTP_SERIALIZER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "protocols/http/http_message.h"

namespace ember::protocols {

// The whole request: line, fields, body, framed as above.
absl::Status AppendRequest(const HttpRequest& request, std::string* out);
// Request line and fields up to the blank line; the caller sends the body
// (e.g. chunk by chunk with AppendChunk). `request.body` is ignored.
absl::Status AppendRequestHead(const HttpRequest& request, std::string* out);

// The whole response: status line, fields, body, framed as above.
absl::Status AppendResponse(const HttpResponse& response, std::string* out);
// Status line and fields up to the blank line, for an answer to HEAD or a
// streamed body. `response.body` is ignored.
absl::Status AppendResponseHead(const HttpResponse& response, std::string* out);

// For servers that complete a handler's response without copying it: the
// status line with `version` and `reason` in place of the response's own,
// the response's fields, then `extra` fields (Content-Length, Date, ...), up
// to the blank line. `response.version`, `.reason` and `.body` are ignored.
// `response` and `reason` are checked like AppendResponseHead's; `extra`,
// the caller's own fields, is trusted (checked only in debug builds).
absl::Status AppendResponseHeadWith(const HttpResponse& response,
                                    HttpVersion version,
                                    std::string_view reason,
                                    HttpFieldsView extra, std::string* out);

// One chunk: hex size, CRLF, data, CRLF. Empty data appends nothing, since
// an empty chunk would end the body.
void AppendChunk(std::string_view data, std::string* out);
// Only the size line of a chunk of `size` bytes (> 0), for callers that send
// the data from its own buffer; they must follow it with the data and CRLF.
void AppendChunkHeader(uint64_t size, std::string* out);
// The last chunk, the trailer fields and the final CRLF.
absl::Status AppendLastChunk(const HttpHeaders& trailers, std::string* out);

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HTTP_HTTP_SERIALIZER_H_
