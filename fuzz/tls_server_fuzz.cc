// Fuzz target: arbitrary bytes as a client's TLS records, fed to Ember's TLS
// server engine. Corpus: real ClientHellos (Ember's client, openssl
// s_client, curl) behind the two-byte header of tls_fuzz_util.h, which also
// states the properties checked.

#include <cstddef>
#include <cstdint>

#include "fuzz/tls_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ember::fuzz::CheckTlsInput(ember::tls::TlsRole::kServer, data, size);
  return 0;
}
