#include "tests/protocols/http/http_test_util.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ember::protocols::testing {
namespace {

const char* FramingName(HttpBodyFraming framing) {
  switch (framing) {
    case HttpBodyFraming::kNone:
      return "none";
    case HttpBodyFraming::kContentLength:
      return "len";
    case HttpBodyFraming::kChunked:
      return "chunked";
    case HttpBodyFraming::kUntilClose:
      return "close";
  }
  return "?";
}

void AddBody(std::vector<std::string>& events, std::string_view data) {
  if (!events.empty() && events.back().rfind("body:", 0) == 0) {
    events.back().append(data.data(), data.size());
  } else {
    events.push_back(absl::StrCat("body:", std::string(data)));
  }
}

// Feeds all of `piece` to `parser`, resuming it whenever it pauses.
template <typename Parser>
void FeedAll(Parser& parser, std::string_view piece) {
  while (true) {
    const size_t used = parser.Feed(piece);
    piece.remove_prefix(used);
    if (piece.empty() || parser.failed()) return;
    parser.Resume();
  }
}

template <typename Parser>
void FeedPieces(Parser& parser, std::string_view input, size_t piece) {
  if (piece == 0) {
    FeedAll(parser, input);
    return;
  }
  for (size_t i = 0; i < input.size(); i += piece) {
    FeedAll(parser, input.substr(i, piece));
  }
}

}  // namespace

std::string DescribeFields(HttpFieldsView fields) {
  std::string out;
  for (const HttpFieldView& f : fields) {
    absl::StrAppend(&out, "|", std::string(f.name), "=", std::string(f.value));
  }
  return out;
}

std::string DescribeError(const HttpParseError& error) {
  return absl::StrCat("error:", error.http_status, ":",
                      absl::StatusCodeToString(error.status.code()), ":",
                      error.status.message());
}

void RequestRecorder::OnRequestHead(const HttpRequestHead& head) {
  std::string e =
      absl::StrCat("head:", std::string(head.method), " ",
                   std::string(head.target), " ", head.version.major, ".",
                   head.version.minor, " ", FramingName(head.framing));
  if (head.framing == HttpBodyFraming::kContentLength) {
    absl::StrAppend(&e, "=", head.content_length);
  }
  if (head.keep_alive) e += " ka";
  if (head.expect_continue) e += " ec";
  if (head.upgrade) e += " up";
  e += DescribeFields(head.headers);
  events.push_back(e);
  if (on_head) on_head(head);
}

void RequestRecorder::OnBody(std::string_view data) {
  EXPECT_FALSE(data.empty());
  AddBody(events, data);
}

void RequestRecorder::OnMessageComplete(HttpFieldsView trailers) {
  events.push_back("done" + DescribeFields(trailers));
  if (on_complete) on_complete();
}

void RequestRecorder::OnError(const HttpParseError& error) {
  events.push_back(DescribeError(error));
  errors.push_back(error);
}

void WholeRequestRecorder::OnBodilessRequest(const HttpRequestHead& head) {
  EXPECT_EQ(head.framing, HttpBodyFraming::kNone);
  EXPECT_FALSE(head.upgrade);
  if (parser != nullptr) {
    EXPECT_FALSE(parser->idle());
  }
  ++whole_requests;
  inner.OnRequestHead(head);
  inner.OnMessageComplete(HttpFieldsView());
  if (on_whole) on_whole();
}

void ResponseRecorder::OnResponseHead(const HttpResponseHead& head) {
  std::string e =
      absl::StrCat("head:", head.status_code, " ", std::string(head.reason),
                   " ", head.version.major, ".", head.version.minor, " ",
                   FramingName(head.framing));
  if (head.framing == HttpBodyFraming::kContentLength) {
    absl::StrAppend(&e, "=", head.content_length);
  }
  if (head.keep_alive) e += " ka";
  if (head.upgrade) e += " up";
  e += DescribeFields(head.headers);
  events.push_back(e);
}

void ResponseRecorder::OnBody(std::string_view data) {
  EXPECT_FALSE(data.empty());
  AddBody(events, data);
}

void ResponseRecorder::OnMessageComplete(HttpFieldsView trailers) {
  events.push_back("done" + DescribeFields(trailers));
}

void ResponseRecorder::OnError(const HttpParseError& error) {
  events.push_back(DescribeError(error));
  errors.push_back(error);
}

RequestRecorder ParseRequests(std::string_view input, size_t piece,
                              const HttpParserOptions& options, bool finish) {
  RequestRecorder recorder;
  HttpRequestParser parser(&recorder, options);
  FeedPieces(parser, input, piece);
  if (finish) parser.Finish();
  return recorder;
}

std::vector<std::string> ParseWholeRequests(std::string_view input,
                                            size_t piece,
                                            const HttpParserOptions& options,
                                            bool finish, int* whole_requests) {
  WholeRequestRecorder recorder;
  http_internal::HttpParserCore parser(options, &recorder);
  recorder.parser = &parser;
  FeedPieces(parser, input, piece);
  if (finish) parser.Finish();
  if (whole_requests != nullptr) *whole_requests = recorder.whole_requests;
  return recorder.inner.events;
}

std::vector<std::string> RequestEvents(std::string_view input,
                                       const HttpParserOptions& options,
                                       bool finish) {
  std::vector<std::string> whole =
      ParseRequests(input, 0, options, finish).events;
  for (size_t piece : {1, 2, 3, 7, 100}) {
    EXPECT_EQ(ParseRequests(input, piece, options, finish).events, whole)
        << "pieces of " << piece;
  }
  for (size_t piece : {0, 1, 7}) {
    EXPECT_EQ(ParseWholeRequests(input, piece, options, finish), whole)
        << "whole requests, pieces of " << piece;
  }
  return whole;
}

ResponseRecorder ParseResponses(std::string_view input, size_t piece,
                                const std::vector<std::string>& expect,
                                const HttpParserOptions& options, bool finish) {
  ResponseRecorder recorder;
  HttpResponseParser parser(&recorder, options);
  for (const std::string& method : expect) {
    EXPECT_TRUE(parser.ExpectResponseTo(method).ok());
  }
  FeedPieces(parser, input, piece);
  if (finish) parser.Finish();
  return recorder;
}

std::vector<std::string> ResponseEvents(std::string_view input,
                                        const std::vector<std::string>& expect,
                                        const HttpParserOptions& options,
                                        bool finish) {
  std::vector<std::string> whole =
      ParseResponses(input, 0, expect, options, finish).events;
  for (size_t piece : {1, 2, 3, 7, 100}) {
    EXPECT_EQ(ParseResponses(input, piece, expect, options, finish).events,
              whole)
        << "pieces of " << piece;
  }
  return whole;
}

}  // namespace ember::protocols::testing
