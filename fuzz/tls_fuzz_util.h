// Shared by the TLS fuzz targets: the contexts (made once per process, with
// an in-memory CA), and the check both targets make on an input: feed the
// peer's records to an engine whole and, in a second engine, cut at
// arbitrary boundaries, and compare.
//
// Input layout: byte 0 picks the configuration (bit 0: TLS 1.2 only, bit 1:
// ALPN, bit 2: servers require a client certificate), byte 1 seeds the cuts,
// the rest are the peer's bytes. BoringSSL's randomness cannot be fixed from
// here, so a recorded flight never decrypts: what is fuzzed is everything up
// to and including the first encrypted record (record layer, ClientHello or
// ServerHello and their extensions, alerts, the state machine's reaction to
// any record in any state).
//
// Properties: the two engines agree on whether the handshake failed and
// with which TlsFailure (chunking changes nothing); a failure always names
// a TlsFailure whose code matches; no plaintext ever comes out of an engine
// that has not finished its handshake; and an end of input without
// close_notify is never reported as orderly.

#ifndef EMBER_FUZZ_TLS_FUZZ_UTIL_H_
#define EMBER_FUZZ_TLS_FUZZ_UTIL_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "io/check.h"
#include "protocols/tls/tls_context.h"
#include "protocols/tls/tls_engine.h"
#include "protocols/tls/tls_failure.h"
#include "tests/protocols/tls/test_certs.h"

namespace ember::fuzz {

inline const absl::Time kFuzzNow = absl::FromUnixSeconds(1'700'000'000);

inline std::shared_ptr<const tls::TlsContext> FuzzContext(tls::TlsRole role,
                                                          uint8_t variant) {
  static tls::testing::TestCa* ca = new tls::testing::TestCa(
      "Fuzz CA", kFuzzNow - absl::Hours(1), kFuzzNow + absl::Hours(1000));
  static tls::TlsCertificate* cert =
      new tls::TlsCertificate(ca->Issue(tls::testing::ServerSpec(kFuzzNow)));
  static std::shared_ptr<const tls::TlsContext>* cache[2][8] = {};
  auto*& slot = cache[role == tls::TlsRole::kServer][variant & 7];
  if (slot == nullptr) {
    tls::TlsOptions options;
    options.certificates.push_back(*cert);
    options.ca_pem = ca->cert_pem();
    if (variant & 1) options.max_version = tls::TlsVersion::kTls12;
    if (variant & 2) options.alpn_protocols = {"http/1.1", "h2"};
    if (variant & 4) {
      options.client_certificates = tls::ClientCertificates::kRequire;
    }
    auto context = tls::TlsContext::Create(role, options);
    EMBER_CHECK(context.ok());
    slot = new std::shared_ptr<const tls::TlsContext>(*context);
  }
  return *slot;
}

struct EngineRun {
  bool failed = false;
  tls::TlsFailure failure = tls::TlsFailure::kNone;
  bool established = false;
};

// Feeds `bytes` (in pieces when `cut_seed` is set) to a fresh engine.
inline EngineRun RunEngine(tls::TlsRole role, uint8_t variant,
                           std::string_view bytes, uint64_t cut_seed,
                           bool cut) {
  auto engine = tls::TlsEngine::Create(FuzzContext(role, variant),
                                       {"localhost"}, [] { return kFuzzNow; });
  EMBER_CHECK(engine.ok());
  tls::TlsEngine& e = **engine;
  EMBER_CHECK(e.Start().ok());
  e.TakeCiphertext([](std::string_view) {});
  EngineRun run;
  char plain[4096];
  auto check_status = [&](const absl::Status& s) {
    if (s.ok()) return;
    const tls::TlsFailure f = tls::TlsFailureOf(s);
    EMBER_CHECK_MSG(f != tls::TlsFailure::kNone, "a failure without a name");
    EMBER_CHECK(s.code() == tls::TlsFailureCode(f));
    if (!run.failed) {
      run.failed = true;
      run.failure = f;
    }
  };
  const std::vector<std::string_view> pieces =
      cut ? Cut(bytes, cut_seed, 64) : std::vector<std::string_view>{bytes};
  for (std::string_view piece : pieces) {
    check_status(e.FeedCiphertext(piece));
    while (true) {
      auto n = e.ReadPlaintext(plain, sizeof(plain));
      if (!n.ok()) {
        check_status(n.status());
        break;
      }
      if (*n == 0) break;
      EMBER_CHECK_MSG(e.established(), "plaintext before the handshake");
    }
    e.TakeCiphertext([](std::string_view) {});
    if (run.failed) break;
  }
  run.established = e.established();
  const absl::Status end = e.EndOfInput();
  if (!e.peer_closed()) {
    EMBER_CHECK_MSG(!end.ok(), "an end without close_notify called orderly");
  }
  return run;
}

inline void CheckTlsInput(tls::TlsRole role, const uint8_t* data, size_t size) {
  if (size < 2) return;
  const uint8_t variant = data[0];
  const uint64_t seed = data[1];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 2),
                               size - 2);
  const EngineRun whole = RunEngine(role, variant, bytes, seed, false);
  const EngineRun cut = RunEngine(role, variant, bytes, seed, true);
  EMBER_CHECK_MSG(whole.failed == cut.failed, "chunking changed the outcome");
  EMBER_CHECK_MSG(whole.failure == cut.failure, "chunking changed the failure");
  EMBER_CHECK_MSG(whole.established == cut.established,
                  "chunking changed the handshake");
}

}  // namespace ember::fuzz

#endif  // EMBER_FUZZ_TLS_FUZZ_UTIL_H_
