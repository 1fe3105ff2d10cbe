// Certificates for TLS tests, made in memory with BoringSSL: a private CA
// and the leaf certificates it issues (server names, IPs, validity), so no
// test fetches or checks in a key. Keys are Ed25519: their signatures have
// one fixed length, so a handshake's sizes do not vary between runs (see the
// determinism notes in README.md).

#ifndef EMBER_TESTS_PROTOCOLS_TLS_TEST_CERTS_H_
#define EMBER_TESTS_PROTOCOLS_TLS_TEST_CERTS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "protocols/tls/tls_context.h"

namespace ember::tls::testing {

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  absl::Time not_before;
  absl::Time not_after;
  bool client_auth = true;
  bool server_auth = true;
};

class TestCa {
 public:
  // A self-signed CA valid over [not_before, not_after].
  TestCa(const std::string& name, absl::Time not_before, absl::Time not_after);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // A leaf certificate signed by this CA, and its key (PEM).
  TlsCertificate Issue(const CertSpec& spec);
  const std::string& cert_pem() const { return cert_pem_; }

 private:
  void* key_ = nullptr;   // EVP_PKEY*
  void* cert_ = nullptr;  // X509*
  std::string cert_pem_;
  long serial_ = 2;
};

// A validity window around `now`: a day before to a year after.
CertSpec ServerSpec(absl::Time now,
                    std::vector<std::string> dns_names = {"localhost"},
                    std::vector<std::string> ips = {"127.0.0.1", "::1"});

// Writes `contents` to a file under TEST_TMPDIR; returns its path.
std::string WriteTempFile(const std::string& name, const std::string& contents);

}  // namespace ember::tls::testing

#endif  // EMBER_TESTS_PROTOCOLS_TLS_TEST_CERTS_H_
