#include "protocols/tls/tls_engine.h"

#include <sys/time.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/ssl.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"
#include "protocols/tls/internal/callbacks.h"

namespace ember::tls {
namespace {

// The wall-clock time of the engine call in progress on this thread, for
// BoringSSL's time callback (which is given no SSL to ask). Every engine
// entry point that can reach BoringSSL sets it first.
thread_local absl::Time t_wall_now = absl::UnixEpoch();

int EngineIndex() {
  static const int index =
      SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

TlsEngine* EngineOf(const SSL* ssl) {
  return static_cast<TlsEngine*>(SSL_get_ex_data(ssl, EngineIndex()));
}

TlsFailure FailureForVerifyError(int error) {
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return TlsFailure::kExpiredCertificate;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return TlsFailure::kCertificateNotYetValid;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
    case X509_V_ERR_EMAIL_MISMATCH:
      return TlsFailure::kNameMismatch;
    case X509_V_ERR_APPLICATION_VERIFICATION:
      return TlsFailure::kRejectedByVerifyHook;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return TlsFailure::kUntrustedCertificate;
    default:
      return TlsFailure::kBadCertificate;
  }
}

TlsFailure FailureForReason(int reason) {
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return TlsFailure::kVersionMismatch;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUP:
    case SSL_R_NO_COMMON_SIGNATURE_ALGORITHMS:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
    case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
    case SSL_R_NO_APPLICATION_PROTOCOL:
    case SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY:
      return TlsFailure::kNoCommonParameters;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_CERTIFICATE_REQUIRED:
      return TlsFailure::kPeerCertificateMissing;
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
      return TlsFailure::kRejectedByPeer;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
    case SSL_R_DATA_LENGTH_TOO_LONG:
    case SSL_R_DECODE_ERROR:
    case SSL_R_EXCESSIVE_MESSAGE_SIZE:
    case SSL_R_BAD_LENGTH:
    case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
      return TlsFailure::kMalformedInput;
    default:
      return TlsFailure::kProtocolError;
  }
}

std::string NameText(X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio, &data, &len);
  std::string out(reinterpret_cast<const char*>(data), len);
  BIO_free(bio);
  return out;
}

absl::Time AsnTime(const ASN1_TIME* t) {
  int days = 0;
  int seconds = 0;
  ASN1_TIME* epoch = ASN1_TIME_set(nullptr, 0);
  const bool ok = ASN1_TIME_diff(&days, &seconds, epoch, t) == 1;
  ASN1_TIME_free(epoch);
  if (!ok) return absl::InfinitePast();
  return absl::UnixEpoch() + absl::Hours(24) * days + absl::Seconds(seconds);
}

std::string IpText(const ASN1_OCTET_STRING* ip) {
  const uint8_t* b = ASN1_STRING_get0_data(ip);
  const int n = ASN1_STRING_length(ip);
  if (n == 4) return absl::StrFormat("%d.%d.%d.%d", b[0], b[1], b[2], b[3]);
  if (n == 16) {
    std::string out;
    for (int i = 0; i < 16; i += 2) {
      if (i > 0) out += ':';
      absl::StrAppendFormat(&out, "%x", (b[i] << 8) | b[i + 1]);
    }
    return out;
  }
  return absl::StrCat("<", n, "-byte address>");
}

TlsPeerCertificate Describe(X509* cert) {
  TlsPeerCertificate info;
  info.subject = NameText(X509_get_subject_name(cert));
  info.issuer = NameText(X509_get_issuer_name(cert));
  info.not_before = AsnTime(X509_get0_notBefore(cert));
  info.not_after = AsnTime(X509_get0_notAfter(cert));
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (size_t i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type == GEN_DNS) {
        const ASN1_STRING* s = name->d.dNSName;
        info.dns_names.emplace_back(
            reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
            ASN1_STRING_length(s));
      } else if (name->type == GEN_IPADD) {
        info.ip_addresses.push_back(IpText(name->d.iPAddress));
      }
    }
    GENERAL_NAMES_free(names);
  }
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned digest_len = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &digest_len)) {
    for (unsigned i = 0; i < digest_len; ++i) {
      absl::StrAppendFormat(&info.sha256_fingerprint, "%02x", digest[i]);
    }
  }
  return info;
}

}  // namespace

// The BoringSSL callbacks; a struct so that TlsEngine can befriend them.
struct EngineCallbacks {
  static void Time(const SSL* /*ssl*/, struct timeval* out) {
    const absl::Duration since = t_wall_now - absl::UnixEpoch();
    *out = absl::ToTimeval(since);
  }

  static int Verify(int ok, X509_STORE_CTX* store) {
    SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(
        store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    TlsEngine* engine = ssl != nullptr ? EngineOf(ssl) : nullptr;
    if (engine == nullptr) return 0;
    if (!ok) {
      if (engine->verify_error_ == 0) {
        engine->verify_error_ = X509_STORE_CTX_get_error(store);
      }
      return 0;
    }
    const auto& hook = engine->context_->options().verify_hook;
    if (X509_STORE_CTX_get_error_depth(store) != 0 || !hook) return 1;
    absl::Status verdict;
    try {
      verdict = hook(Describe(X509_STORE_CTX_get_current_cert(store)));
    } catch (...) {
      verdict = absl::UnknownError("the verify hook threw");
    }
    if (verdict.ok()) return 1;
    engine->hook_error_ = std::string(verdict.message());
    engine->verify_error_ = X509_V_ERR_APPLICATION_VERIFICATION;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }

  // Server: switches to the certificate for the client's SNI name.
  static int Certificate(SSL* ssl, void* /*arg*/) {
    TlsEngine* engine = EngineOf(ssl);
    if (engine == nullptr || engine->role() != TlsRole::kServer) return 1;
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const size_t index =
        engine->context_->CertificateFor(name == nullptr ? "" : name);
    if (index == 0) return 1;  // The context's default is already set.
    return engine->context_->UseCertificate(ssl, index) ? 1 : 0;
  }

  static int SelectAlpn(SSL* ssl, const uint8_t** out, uint8_t* out_len,
                        const uint8_t* in, unsigned in_len, void* /*arg*/) {
    TlsEngine* engine = EngineOf(ssl);
    if (engine == nullptr) return SSL_TLSEXT_ERR_NOACK;
    const auto& ours = engine->context_->options().alpn_protocols;
    if (ours.empty()) return SSL_TLSEXT_ERR_NOACK;
    for (const std::string& want : ours) {
      unsigned i = 0;
      while (i < in_len) {
        const unsigned len = in[i];
        if (i + 1 + len > in_len) break;
        if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) ==
            want) {
          *out = in + i + 1;
          *out_len = static_cast<uint8_t>(len);
          return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
      }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }

  static int NewSession(SSL* ssl, SSL_SESSION* session) {
    TlsEngine* engine = EngineOf(ssl);
    if (engine != nullptr && !engine->options_.server_name.empty()) {
      engine->context_->StoreSession(engine->options_.server_name, session);
    }
    return 0;  // The caller keeps its reference; the cache took its own.
  }
};

namespace internal {

void InstallContextCallbacks(SSL_CTX* ctx, TlsRole role) {
  SSL_CTX_set_current_time_cb(ctx, &EngineCallbacks::Time);
  if (role == TlsRole::kServer) {
    SSL_CTX_set_cert_cb(ctx, &EngineCallbacks::Certificate, nullptr);
    SSL_CTX_set_alpn_select_cb(ctx, &EngineCallbacks::SelectAlpn, nullptr);
  } else {
    SSL_CTX_sess_set_new_cb(ctx, &EngineCallbacks::NewSession);
  }
}

}  // namespace internal

TlsEngine::TlsEngine(std::shared_ptr<const TlsContext> context,
                     const TlsSessionOptions& options, WallClock wall_clock)
    : context_(std::move(context)),
      options_(options),
      wall_clock_(std::move(wall_clock)) {}

TlsEngine::~TlsEngine() { SSL_free(ssl_); }

absl::StatusOr<std::unique_ptr<TlsEngine>> TlsEngine::Create(
    std::shared_ptr<const TlsContext> context, const TlsSessionOptions& options,
    WallClock wall_clock) {
  EMBER_CHECK(context != nullptr);
  EMBER_CHECK(wall_clock != nullptr);
  if (context->role() == TlsRole::kClient && context->options().verify_peer &&
      options.server_name.empty()) {
    return absl::InvalidArgumentError(
        "a verifying TLS client needs the server's name (or IP) to check");
  }
  std::unique_ptr<TlsEngine> engine(
      new TlsEngine(std::move(context), options, std::move(wall_clock)));
  EMBER_RETURN_IF_ERROR(engine->Init());
  return engine;
}

absl::Status TlsEngine::Init() {
  ssl_ = SSL_new(context_->ssl_ctx());
  if (ssl_ == nullptr) {
    ERR_clear_error();
    return absl::ResourceExhaustedError("SSL_new failed");
  }
  SSL_set_ex_data(ssl_, EngineIndex(), this);
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_, rbio_, wbio_);
  const TlsOptions& o = context_->options();
  int mode = SSL_VERIFY_NONE;
  if (context_->role() == TlsRole::kClient) {
    if (o.verify_peer) mode = SSL_VERIFY_PEER;
  } else if (o.client_certificates == ClientCertificates::kRequest) {
    mode = SSL_VERIFY_PEER;
  } else if (o.client_certificates == ClientCertificates::kRequire) {
    mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_set_verify(ssl_, mode, &EngineCallbacks::Verify);
  if (context_->role() == TlsRole::kClient) {
    SSL_set_connect_state(ssl_);
    const std::string& name = options_.server_name;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!name.empty()) {
      if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
        ERR_clear_error();
        // Not an IP literal: a host name, checked and sent as SNI.
        if (o.verify_peer &&
            X509_VERIFY_PARAM_set1_host(param, name.data(), name.size()) != 1) {
          ERR_clear_error();
          return absl::InvalidArgumentError(
              absl::StrCat("bad TLS server name \"", name, "\""));
        }
        SSL_set_tlsext_host_name(ssl_, name.c_str());
      } else if (!o.verify_peer) {
        X509_VERIFY_PARAM_set1_ip(param, nullptr, 0);
      }
      if (o.session_resumption) {
        SSL_SESSION* session = context_->TakeSession(name);
        if (session != nullptr) {
          SSL_set_session(ssl_, session);
          SSL_SESSION_free(session);
        }
      }
    }
  } else {
    SSL_set_accept_state(ssl_);
  }
  return absl::OkStatus();
}

void TlsEngine::UpdateTime() {
  const absl::Time now = wall_clock_();
  t_wall_now = now;
  X509_VERIFY_PARAM_set_time(SSL_get0_param(ssl_), absl::ToTimeT(now));
}

absl::Status TlsEngine::Start() {
  EMBER_CHECK_MSG(!started_, "TlsEngine::Start called twice");
  started_ = true;
  if (context_->role() == TlsRole::kServer) return absl::OkStatus();
  return DriveHandshake();
}

absl::Status TlsEngine::DriveHandshake() {
  UpdateTime();
  for (;;) {
    const int ret = SSL_do_handshake(ssl_);
    if (ret == 1) return OnEstablished();
    const int err = SSL_get_error(ssl_, ret);
    if (err == SSL_ERROR_WANT_READ && TopUpReadBio()) continue;
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      return absl::OkStatus();
    }
    return Fail(ret, "handshake");
  }
}

bool TlsEngine::TopUpReadBio() {
  // BoringSSL's memory BIO moves what it still holds to its front on every
  // read (two per record), so a BIO filled with a whole 64 KiB read costs a
  // copy of the rest per record. It is given about one record at a time.
  constexpr size_t kBioFillBytes = 18 * 1024;  // A record is at most ~16.6 KiB.
  if (inbox_pos_ >= inbox_.size()) return false;
  const size_t have = BIO_pending(rbio_);
  if (have >= kBioFillBytes) return false;
  const size_t n = std::min(kBioFillBytes, inbox_.size() - inbox_pos_);
  BIO_write(rbio_, inbox_.data() + inbox_pos_, static_cast<int>(n));
  inbox_pos_ += n;
  if (inbox_pos_ == inbox_.size()) {
    inbox_.clear();
    inbox_pos_ = 0;
  }
  return true;
}

absl::Status TlsEngine::OnEstablished() {
  state_ = State::kEstablished;
  if (pending_.empty()) return absl::OkStatus();
  std::string pending;
  pending.swap(pending_);
  return WritePlaintext(pending);
}

absl::Status TlsEngine::FeedCiphertext(std::string_view bytes) {
  EMBER_CHECK_MSG(started_, "TlsEngine: FeedCiphertext before Start");
  if (state_ == State::kFailed) return failure_;
  if (bytes.empty()) return absl::OkStatus();
  TrackRecords(bytes);
  if (inbox_pos_ > 0 && inbox_pos_ * 2 >= inbox_.size()) {
    inbox_.erase(0, inbox_pos_);
    inbox_pos_ = 0;
  }
  inbox_.append(bytes.data(), bytes.size());
  TopUpReadBio();
  if (state_ == State::kHandshaking) return DriveHandshake();
  return absl::OkStatus();
}

absl::StatusOr<size_t> TlsEngine::ReadPlaintext(char* buf, size_t len) {
  EMBER_CHECK(len > 0);
  if (state_ == State::kFailed) return failure_;
  if (state_ != State::kEstablished || peer_closed_) return 0;
  UpdateTime();
  int ret = 0;
  int err = 0;
  for (;;) {
    TopUpReadBio();
    ret = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(len, INT_MAX)));
    if (ret > 0) return static_cast<size_t>(ret);
    err = SSL_get_error(ssl_, ret);
    if (err == SSL_ERROR_WANT_READ && TopUpReadBio()) continue;
    break;
  }
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return 0;
  if (err == SSL_ERROR_ZERO_RETURN) {
    peer_closed_ = true;
    return 0;
  }
  return Fail(ret, "read");
}

bool TlsEngine::HasBufferedInput() const {
  if (state_ != State::kEstablished || peer_closed_) return false;
  return SSL_pending(ssl_) > 0 || BIO_pending(rbio_) > 0 ||
         inbox_pos_ < inbox_.size();
}

absl::Status TlsEngine::WritePlaintext(std::string_view bytes) {
  if (state_ == State::kFailed) return failure_;
  if (write_closed_) {
    return absl::FailedPreconditionError(
        "TLS: write after close_notify was sent");
  }
  if (bytes.empty()) return absl::OkStatus();
  if (state_ == State::kHandshaking) {
    pending_.append(bytes.data(), bytes.size());
    return absl::OkStatus();
  }
  UpdateTime();
  while (!bytes.empty()) {
    const int n = static_cast<int>(std::min<size_t>(bytes.size(), 1 << 30));
    const int ret = SSL_write(ssl_, bytes.data(), n);
    if (ret <= 0) return Fail(ret, "write");
    bytes.remove_prefix(static_cast<size_t>(ret));
  }
  return absl::OkStatus();
}

absl::Status TlsEngine::CloseWrite() {
  if (write_closed_) return absl::OkStatus();
  write_closed_ = true;
  if (state_ != State::kEstablished) return absl::OkStatus();
  UpdateTime();
  SSL_shutdown(ssl_);
  ERR_clear_error();
  return absl::OkStatus();
}

absl::Status TlsEngine::EndOfInput() {
  if (state_ == State::kFailed) return failure_;
  if (peer_closed_) return absl::OkStatus();
  absl::Status status;
  if (state_ == State::kHandshaking) {
    status = MakeTlsError(TlsFailure::kClosedDuringHandshake,
                          "the peer closed the stream during the handshake");
  } else if (header_bytes_seen_ > 0) {
    status = MakeTlsError(
        TlsFailure::kTruncated,
        header_bytes_seen_ < 5
            ? absl::StrCat("the stream ended inside a record header (",
                           header_bytes_seen_, " of 5 bytes)")
            : absl::StrCat("the stream ended inside a record (",
                           body_bytes_left_, " bytes missing)"));
  } else {
    status = MakeTlsError(TlsFailure::kNoCloseNotify,
                          "the peer ended the stream without close_notify");
  }
  return FailWith(std::move(status));
}

size_t TlsEngine::TakeCiphertext(
    absl::FunctionRef<void(std::string_view)> sink) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(wbio_, &data, &len);
  if (len == 0) return 0;
  sink(std::string_view(reinterpret_cast<const char*>(data), len));
  BIO_reset(wbio_);
  return len;
}

size_t TlsEngine::ciphertext_bytes() const { return BIO_pending(wbio_); }

absl::Status TlsEngine::HandshakeTimeoutError(absl::Duration timeout) const {
  return MakeTlsError(TlsFailure::kHandshakeTimeout,
                      absl::StrCat("the handshake did not finish within ",
                                   absl::FormatDuration(timeout)));
}

absl::Status TlsEngine::Fail(int ret, std::string_view during) {
  const int err = SSL_get_error(ssl_, ret);
  if (err == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    return FailWith(
        MakeTlsError(TlsFailure::kClosedDuringHandshake,
                     "the peer sent close_notify during the handshake"));
  }
  const uint32_t code = ERR_peek_error();
  char text[256] = "no details";
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  const int reason = code != 0 ? ERR_GET_REASON(code) : 0;
  if (verify_error_ != 0 &&
      (code == 0 || reason == SSL_R_CERTIFICATE_VERIFY_FAILED)) {
    const TlsFailure failure = FailureForVerifyError(verify_error_);
    std::string message =
        failure == TlsFailure::kRejectedByVerifyHook
            ? hook_error_
            : std::string(X509_verify_cert_error_string(verify_error_));
    return FailWith(MakeTlsError(
        failure, absl::StrCat(message, " (verifying the ",
                              role() == TlsRole::kClient ? "server" : "client",
                              "'s certificate)")));
  }
  return FailWith(MakeTlsError(FailureForReason(reason),
                               absl::StrCat(AbslView(during), ": ", text)));
}

absl::Status TlsEngine::FailWith(absl::Status status) {
  state_ = State::kFailed;
  failure_ = std::move(status);
  pending_.clear();
  return failure_;
}

void TlsEngine::TrackRecords(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (header_bytes_seen_ < 5) {
      header_[header_bytes_seen_++] = static_cast<uint8_t>(bytes[i++]);
      if (header_bytes_seen_ == 5) {
        body_bytes_left_ = (size_t{header_[3]} << 8) | header_[4];
        if (body_bytes_left_ == 0) header_bytes_seen_ = 0;
      }
      continue;
    }
    const size_t take = std::min(body_bytes_left_, bytes.size() - i);
    i += take;
    body_bytes_left_ -= take;
    if (body_bytes_left_ == 0) header_bytes_seen_ = 0;
  }
}

std::string_view TlsEngine::version() const {
  if (state_ != State::kEstablished) return {};
  return SSL_get_version(ssl_);
}

std::string_view TlsEngine::cipher() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
  if (state_ != State::kEstablished || c == nullptr) return {};
  return SSL_CIPHER_get_name(c);
}

std::string_view TlsEngine::alpn() const {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return std::string_view(reinterpret_cast<const char*>(data), len);
}

std::string_view TlsEngine::server_name() const {
  if (role() == TlsRole::kClient) return options_.server_name;
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name == nullptr ? std::string_view() : std::string_view(name);
}

bool TlsEngine::resumed() const {
  return state_ == State::kEstablished && SSL_session_reused(ssl_) == 1;
}

std::optional<TlsPeerCertificate> TlsEngine::PeerCertificate() const {
  X509* cert = SSL_get_peer_certificate(ssl_);
  if (cert == nullptr) return std::nullopt;
  TlsPeerCertificate info = Describe(cert);
  X509_free(cert);
  return info;
}

}  // namespace ember::tls
