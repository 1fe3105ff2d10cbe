#include "protocols/http/http_parser.h"

namespace ember::protocols {

absl::Status HttpResponseParser::ExpectResponseTo(std::string_view method) {
  using http_internal::RequestKind;
  const RequestKind kind = method == "HEAD"      ? RequestKind::kHead
                           : method == "CONNECT" ? RequestKind::kConnect
                                                 : RequestKind::kOther;
  return core_.ExpectResponseTo(kind);
}

}  // namespace ember::protocols
