// Writes the Ember-made part of the TLS fuzz corpora: real ClientHellos of
// Ember's client in each configuration variant (corpus/tls_server/), with
// the client's second flight after them, and real first flights of Ember's
// server answering them (corpus/tls_client/), each behind the two-byte
// header of tls_fuzz_util.h. The OpenSSL and curl hellos and flights come
// from capture_tls_peers.py.
//
//   ./bazelw run //fuzz:make_tls_corpus -- $PWD/fuzz/corpus

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "fuzz/tls_fuzz_util.h"

namespace ember::fuzz {
namespace {

void Write(const std::string& path, uint8_t variant, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.put(static_cast<char>(variant));
  out.put('\0');
  out << bytes;
  EMBER_CHECK_MSG(out.good(), path.c_str());
  std::printf("%s: %zu bytes\n", path.c_str(), bytes.size() + 2);
}

std::string Take(tls::TlsEngine& e) {
  std::string out;
  e.TakeCiphertext([&](std::string_view b) { out.append(b); });
  return out;
}

int Main(const std::string& dir) {
  for (uint8_t variant : {0, 1, 2, 3, 4, 6}) {
    auto clock = [] { return kFuzzNow; };
    auto client = *tls::TlsEngine::Create(
        FuzzContext(tls::TlsRole::kClient, variant), {"localhost"}, clock);
    auto server = *tls::TlsEngine::Create(
        FuzzContext(tls::TlsRole::kServer, variant), {}, clock);
    EMBER_CHECK(client->Start().ok() && server->Start().ok());
    const std::string hello = Take(*client);
    Write(absl::StrCat(dir, "/tls_server/ember_client_hello_v", variant),
          variant, hello);
    server->FeedCiphertext(hello).IgnoreError();
    const std::string flight = Take(*server);
    Write(absl::StrCat(dir, "/tls_client/ember_server_flight_v", variant),
          variant, flight);
    client->FeedCiphertext(flight).IgnoreError();
    const std::string second = Take(*client);
    Write(absl::StrCat(dir, "/tls_server/ember_client_both_flights_v", variant),
          variant, hello + second);
  }
  return 0;
}

}  // namespace
}  // namespace ember::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_tls_corpus <corpus dir>\n");
    return 2;
  }
  return ember::fuzz::Main(argv[1]);
}
