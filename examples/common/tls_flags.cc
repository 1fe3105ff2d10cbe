#include "examples/common/tls_flags.h"

#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain (leaf first); with --tls_key, speak TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");

namespace ember::examples {

absl::StatusOr<std::shared_ptr<const tls::TlsContext>> ServerTlsFromFlags(
    std::vector<std::string> alpn_protocols) {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() && key.empty()) {
    return std::shared_ptr<const tls::TlsContext>();
  }
  if (cert.empty() || key.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key go together: give both or neither");
  }
  absl::StatusOr<tls::TlsCertificate> pem =
      tls::TlsCertificate::FromFiles(cert, key);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_cert/--tls_key: ", pem.status().message()));
  }
  tls::TlsOptions options;
  options.certificates.push_back(*std::move(pem));
  options.alpn_protocols = std::move(alpn_protocols);
  return tls::TlsContext::Create(tls::TlsRole::kServer, std::move(options));
}

}  // namespace ember::examples
