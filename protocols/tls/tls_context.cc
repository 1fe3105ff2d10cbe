#include "protocols/tls/tls_context.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/ssl.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"
#include "protocols/tls/internal/callbacks.h"

namespace ember::tls {

struct TlsContext::Identity {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // Intermediates, without the leaf.
  EVP_PKEY* key = nullptr;

  ~Identity() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

namespace {

// The last BoringSSL error queued, as text, and the queue cleared.
std::string SslErrorText() {
  const uint32_t code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "no details";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

absl::StatusOr<std::string> ReadWholeFile(std::string_view path) {
  std::ifstream in{std::string(path), std::ios::binary};
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open ", AbslView(path)));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Every certificate in `pem`, in order. kInvalidArgument when there is none
// or one does not parse.
absl::StatusOr<std::vector<X509*>> ParseCertificates(std::string_view pem,
                                                     std::string_view what) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<ssize_t>(pem.size()));
  std::vector<X509*> certs;
  while (true) {
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    certs.push_back(cert);
  }
  const uint32_t err = ERR_peek_last_error();
  const bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM &&
                         ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  BIO_free(bio);
  if (certs.empty() || (err != 0 && !clean_end)) {
    for (X509* c : certs) X509_free(c);
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(what), ": no PEM certificate could be read"));
  }
  return certs;
}

}  // namespace

absl::StatusOr<TlsCertificate> TlsCertificate::FromFiles(
    std::string_view chain_path, std::string_view key_path) {
  TlsCertificate out;
  EMBER_ASSIGN_OR_RETURN(out.chain_pem, ReadWholeFile(chain_path));
  EMBER_ASSIGN_OR_RETURN(out.key_pem, ReadWholeFile(key_path));
  return out;
}

TlsContext::TlsContext(TlsRole role, TlsOptions options)
    : role_(role), options_(std::move(options)) {}

TlsContext::~TlsContext() {
  for (auto& [key, session] : sessions_) SSL_SESSION_free(session);
  SSL_CTX_free(ctx_);
}

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::Create(
    TlsRole role, TlsOptions options) {
  std::shared_ptr<TlsContext> context(new TlsContext(role, std::move(options)));
  EMBER_RETURN_IF_ERROR(context->Init());
  return std::shared_ptr<const TlsContext>(std::move(context));
}

absl::Status TlsContext::Init() {
  const TlsOptions& o = options_;
  if (static_cast<uint16_t>(o.min_version) >
      static_cast<uint16_t>(o.max_version)) {
    return absl::InvalidArgumentError(
        "TlsOptions: min_version is above max_version");
  }
  if (role_ == TlsRole::kServer && o.certificates.empty()) {
    return absl::InvalidArgumentError(
        "TlsOptions: a server needs a certificate and key");
  }
  if (o.handshake_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "TlsOptions: handshake_timeout must be positive");
  }
  ctx_ = SSL_CTX_new(TLS_method());
  if (ctx_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("SSL_CTX_new: ", SslErrorText()));
  }
  SSL_CTX_set_min_proto_version(ctx_, static_cast<uint16_t>(o.min_version));
  SSL_CTX_set_max_proto_version(ctx_, static_cast<uint16_t>(o.max_version));
  if (!o.cipher_list.empty() &&
      !SSL_CTX_set_strict_cipher_list(ctx_, o.cipher_list.c_str())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TlsOptions: cipher_list \"", o.cipher_list, "\": ", SslErrorText()));
  }
  // Verify the signature algorithms in use today, Ed25519 included (not in
  // BoringSSL's default list).
  static constexpr uint16_t kVerifyPrefs[] = {
      SSL_SIGN_ED25519,
      SSL_SIGN_ECDSA_SECP256R1_SHA256,
      SSL_SIGN_RSA_PSS_RSAE_SHA256,
      SSL_SIGN_RSA_PKCS1_SHA256,
      SSL_SIGN_ECDSA_SECP384R1_SHA384,
      SSL_SIGN_RSA_PSS_RSAE_SHA384,
      SSL_SIGN_RSA_PKCS1_SHA384,
      SSL_SIGN_RSA_PSS_RSAE_SHA512,
      SSL_SIGN_RSA_PKCS1_SHA512,
  };
  SSL_CTX_set_verify_algorithm_prefs(ctx_, kVerifyPrefs,
                                     sizeof(kVerifyPrefs) / sizeof(uint16_t));

  // Identities.
  for (size_t i = 0; i < o.certificates.size(); ++i) {
    const TlsCertificate& cert = o.certificates[i];
    const std::string what = absl::StrCat("certificate ", i);
    EMBER_ASSIGN_OR_RETURN(std::vector<X509*> certs,
                           ParseCertificates(cert.chain_pem, what));
    auto identity = std::make_unique<Identity>();
    identity->leaf = certs[0];
    identity->chain = sk_X509_new_null();
    for (size_t j = 1; j < certs.size(); ++j) {
      sk_X509_push(identity->chain, certs[j]);
    }
    BIO* bio = BIO_new_mem_buf(cert.key_pem.data(),
                               static_cast<ssize_t>(cert.key_pem.size()));
    identity->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (identity->key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the private key is not PEM: ", SslErrorText()));
    }
    if (!X509_check_private_key(identity->leaf, identity->key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": the private key does not match the certificate: ",
          SslErrorText()));
    }
    identities_.push_back(std::move(identity));
  }
  if (!identities_.empty()) {
    const Identity& first = *identities_[0];
    if (!SSL_CTX_use_certificate(ctx_, first.leaf) ||
        !SSL_CTX_use_PrivateKey(ctx_, first.key) ||
        !SSL_CTX_set1_chain(ctx_, first.chain)) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificate 0: ", SslErrorText()));
    }
  }

  // Trust.
  X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
  bool have_trust = false;
  if (!o.ca_pem.empty()) {
    EMBER_ASSIGN_OR_RETURN(std::vector<X509*> cas,
                           ParseCertificates(o.ca_pem, "ca_pem"));
    for (X509* ca : cas) {
      X509_STORE_add_cert(store, ca);
      X509_free(ca);
    }
    have_trust = true;
  }
  if (!o.ca_file.empty() || !o.ca_dir.empty()) {
    if (!o.ca_file.empty()) {
      EMBER_RETURN_IF_ERROR(ReadWholeFile(o.ca_file).status());
    }
    if (!SSL_CTX_load_verify_locations(
            ctx_, o.ca_file.empty() ? nullptr : o.ca_file.c_str(),
            o.ca_dir.empty() ? nullptr : o.ca_dir.c_str())) {
      return absl::NotFoundError(absl::StrCat("CA file \"", o.ca_file,
                                              "\" / directory \"", o.ca_dir,
                                              "\": ", SslErrorText()));
    }
    have_trust = true;
  }
  if (!have_trust) {
    // The system store: where SSL_CERT_FILE / SSL_CERT_DIR point, as with
    // OpenSSL, else as Debian lays it out. A store that is missing leaves
    // nothing trusted, so every peer fails as untrusted.
    const char* file = std::getenv("SSL_CERT_FILE");
    const char* dir = std::getenv("SSL_CERT_DIR");
    if (file == nullptr && dir == nullptr) {
      file = "/etc/ssl/certs/ca-certificates.crt";
      dir = "/etc/ssl/certs";
    }
    if (!SSL_CTX_load_verify_locations(ctx_, file, dir)) ERR_clear_error();
  }

  if (role_ == TlsRole::kServer) {
    static constexpr uint8_t kSessionContext[] = {'e', 'm', 'b', 'e', 'r'};
    SSL_CTX_set_session_id_context(ctx_, kSessionContext,
                                   sizeof(kSessionContext));
    if (!o.session_resumption) {
      SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
      SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
    } else {
      // Tickets only: no server-side cache to bound.
      SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
    }
    const uint32_t lifetime =
        static_cast<uint32_t>(absl::ToInt64Seconds(o.session_lifetime));
    SSL_CTX_set_timeout(ctx_, lifetime);
    SSL_CTX_set_session_psk_dhe_timeout(ctx_, lifetime);
  } else {
    SSL_CTX_set_session_cache_mode(
        ctx_, o.session_resumption
                  ? (SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL)
                  : SSL_SESS_CACHE_OFF);
    if (!o.session_resumption) SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
  }

  // ALPN.
  if (!o.alpn_protocols.empty()) {
    std::string wire;
    for (const std::string& p : o.alpn_protocols) {
      if (p.empty() || p.size() > 255) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TlsOptions: ALPN protocol \"", p, "\" must be 1 to 255 bytes"));
      }
      wire.push_back(static_cast<char>(p.size()));
      wire += p;
    }
    if (role_ == TlsRole::kClient &&
        SSL_CTX_set_alpn_protos(ctx_,
                                reinterpret_cast<const uint8_t*>(wire.data()),
                                wire.size()) != 0) {
      return absl::InvalidArgumentError("TlsOptions: bad ALPN list");
    }
  }
  internal::InstallContextCallbacks(ctx_, role_);
  return absl::OkStatus();
}

size_t TlsContext::CertificateFor(std::string_view server_name) const {
  if (server_name.empty()) return 0;
  for (size_t i = 0; i < identities_.size(); ++i) {
    if (X509_check_host(identities_[i]->leaf, server_name.data(),
                        server_name.size(), 0, nullptr) == 1) {
      return i;
    }
  }
  return 0;
}

bool TlsContext::UseCertificate(SSL* ssl, size_t index) const {
  EMBER_CHECK(index < identities_.size());
  const Identity& id = *identities_[index];
  return SSL_use_certificate(ssl, id.leaf) && SSL_use_PrivateKey(ssl, id.key) &&
         SSL_set1_chain(ssl, id.chain);
}

void TlsContext::StoreSession(const std::string& key,
                              SSL_SESSION* session) const {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  if (options_.session_cache_entries == 0) return;
  SSL_SESSION_up_ref(session);
  auto it = sessions_.find(key);
  if (it != sessions_.end()) {
    SSL_SESSION_free(it->second);
    it->second = session;
    session_order_.remove(key);
  } else {
    sessions_.emplace(key, session);
  }
  session_order_.push_back(key);
  while (sessions_.size() > options_.session_cache_entries) {
    auto oldest = sessions_.find(session_order_.front());
    SSL_SESSION_free(oldest->second);
    sessions_.erase(oldest);
    session_order_.pop_front();
  }
}

SSL_SESSION* TlsContext::TakeSession(const std::string& key) const {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return nullptr;
  SSL_SESSION* session = it->second;  // The cache's reference moves out.
  sessions_.erase(it);
  session_order_.remove(key);
  return session;
}

}  // namespace ember::tls
