// Fuzz target: arbitrary bytes as a server's TLS records, fed to Ember's TLS
// client engine after its ClientHello. Corpus: real server flights (Ember's
// server, openssl s_server) behind the two-byte header of tls_fuzz_util.h,
// which also states the properties checked.

#include <cstddef>
#include <cstdint>

#include "fuzz/tls_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ember::fuzz::CheckTlsInput(ember::tls::TlsRole::kClient, data, size);
  return 0;
}
