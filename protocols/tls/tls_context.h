// TLS configuration shared by many connections: `TlsOptions` and `TlsContext`.
//
// A `TlsContext` is built once from `TlsOptions` (certificates, trust,
// verification, versions, ALPN, resumption) and then shared, through a
// `std::shared_ptr<const TlsContext>`, by every connection that speaks TLS
// with it: a server's accepted connections, or a client's connections. It
// wraps one BoringSSL `SSL_CTX`; building it does all the parsing and
// checking up front, so a bad certificate or key is an error from `Create`,
// never a failure on the first connection.
//
// Defaults are the secure ones: a client verifies the server's chain against
// the system's trust store (or the CAs given) and checks the host name or IP
// it connected to against the certificate; TLS 1.2 is the lowest version;
// resumption by tickets is on. There is no option that turns verification
// off and back on by accident: `verify_peer = false` is the only switch, and
// the verify hook can only add checks (it runs after the chain and the name
// passed, and only ever rejects).
//
// Threads: a context is immutable after Create except for the client's
// session cache, which is guarded by a mutex, so one context may be shared by
// reactors on different threads.

#ifndef EMBER_PROTOCOLS_TLS_TLS_CONTEXT_H_
#define EMBER_PROTOCOLS_TLS_TLS_CONTEXT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "openssl/base.h"

namespace ember::tls {

enum class TlsVersion : uint16_t {
  kTls12 = 0x0303,
  kTls13 = 0x0304,
};

// A certificate chain (leaf first) and its private key, both PEM.
struct TlsCertificate {
  std::string chain_pem;
  std::string key_pem;

  // Reads both files (PEM). kNotFound / kInvalidArgument naming the file.
  static absl::StatusOr<TlsCertificate> FromFiles(std::string_view chain_path,
                                                  std::string_view key_path);
};

// What the verify hook and the queries see of the peer's certificate.
struct TlsPeerCertificate {
  std::string subject;  // One line, RFC 2253 order.
  std::string issuer;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries.
  std::vector<std::string> ip_addresses;  // subjectAltName IPs, as text.
  std::string sha256_fingerprint;         // Hex, lower case, of the DER.
  absl::Time not_before;
  absl::Time not_after;
};

enum class ClientCertificates : uint8_t {
  kNone,     // Do not ask (servers' default).
  kRequest,  // Ask; verify what comes; accept a client that sends none.
  kRequire,  // Ask; a client without a valid certificate fails.
};

struct TlsOptions {
  // --- Our identity ---
  // Servers need at least one. The first is the default; the others are
  // picked when the client's SNI name matches one of their names (DNS SANs,
  // wildcards allowed, as X509_check_host matches). A client may give one,
  // sent when the server asks.
  std::vector<TlsCertificate> certificates;

  // --- Whom we trust ---
  // CA certificates (PEM) in memory, a file, and a hashed directory; all
  // that are given are used. When none is given, the system store is used:
  // the file and directory the SSL_CERT_FILE and SSL_CERT_DIR variables
  // name (as with OpenSSL), else Debian's /etc/ssl/certs.
  std::string ca_pem;
  std::string ca_file;
  std::string ca_dir;

  // --- Verification ---
  // Clients: verify the server (on by default; off only for tests against
  // unknown servers, and then the connection is not authenticated).
  // Servers: ignored (see client_certificates).
  bool verify_peer = true;
  ClientCertificates client_certificates = ClientCertificates::kNone;
  // Runs only after the peer's chain verified (and, for clients, the name
  // matched). Returning an error fails the handshake with
  // kRejectedByVerifyHook and that message. It cannot pass a failed chain:
  // it is never called for one. Called from the reactor's thread, inside the
  // handshake; must not throw (a throw counts as a rejection).
  std::function<absl::Status(const TlsPeerCertificate&)> verify_hook;

  // --- Negotiation ---
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
  // TLS 1.2 cipher suites in OpenSSL's list syntax; empty keeps BoringSSL's
  // defaults (AEAD suites with forward secrecy). TLS 1.3 suites are not
  // configurable in BoringSSL.
  std::string cipher_list;
  // ALPN protocols in preference order. Client: offered. Server: the first
  // of these the client also offers is chosen; a client offering only
  // others fails with kNoCommonParameters. Empty: no ALPN.
  std::vector<std::string> alpn_protocols;

  // --- Resumption ---
  // Servers issue session tickets; clients keep the last session per server
  // name (up to session_cache_entries, oldest dropped) and offer it on the
  // next connection. False disables both.
  bool session_resumption = true;
  size_t session_cache_entries = 256;
  absl::Duration session_lifetime = absl::Hours(2);

  // --- Time ---
  // A handshake not finished within this long ends the connection
  // (kTimedOut, TlsFailure::kHandshakeTimeout).
  absl::Duration handshake_timeout = absl::Seconds(10);
};

enum class TlsRole : uint8_t { kClient, kServer };

class TlsContext {
 public:
  // Builds a context. kInvalidArgument for PEM that does not parse, a key
  // that does not match its certificate, a server without a certificate, an
  // empty or malformed cipher list, min_version > max_version, or an ALPN
  // name longer than 255 bytes; kNotFound for a CA file or directory that
  // does not exist.
  static absl::StatusOr<std::shared_ptr<const TlsContext>> Create(
      TlsRole role, TlsOptions options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  TlsRole role() const { return role_; }
  const TlsOptions& options() const { return options_; }
  SSL_CTX* ssl_ctx() const { return ctx_; }

  // The certificate a server presents for `server_name` (an SNI name, or
  // empty): index into options().certificates.
  size_t CertificateFor(std::string_view server_name) const;
  // Sets certificate `index` (with its chain and key) on `ssl`. False on a
  // BoringSSL failure.
  bool UseCertificate(SSL* ssl, size_t index) const;

  // Client session cache (see TlsOptions::session_resumption). The session
  // is referenced (SSL_SESSION_up_ref) by the cache; Take returns a new
  // reference the caller owns, or nullptr.
  void StoreSession(const std::string& key, SSL_SESSION* session) const;
  SSL_SESSION* TakeSession(const std::string& key) const;

 private:
  TlsContext(TlsRole role, TlsOptions options);
  absl::Status Init();

  struct Identity;

  const TlsRole role_;
  const TlsOptions options_;
  SSL_CTX* ctx_ = nullptr;
  std::vector<std::unique_ptr<Identity>> identities_;

  mutable std::mutex sessions_mu_;
  // Keyed by server name; `session_order_` lists keys oldest first.
  mutable std::map<std::string, SSL_SESSION*> sessions_;
  mutable std::list<std::string> session_order_;
};

}  // namespace ember::tls

#endif  // EMBER_PROTOCOLS_TLS_TLS_CONTEXT_H_
