// A TLS session as a pure state machine: ciphertext in, plaintext out, and
// back. No sockets, no clocks of its own, no reactor.
//
// `TlsEngine` wraps one BoringSSL `SSL` fed through memory BIOs. The caller
// moves bytes:
//   - `FeedCiphertext(bytes)` with what the peer sent (any chunking). It
//     advances the handshake; an error status is final (the engine failed).
//   - `ReadPlaintext(buf, len)` pulls decrypted application bytes, so a
//     caller that pauses leaves the rest inside the engine.
//   - `WritePlaintext(bytes)` encrypts (or, before the handshake finished,
//     keeps the bytes and encrypts them once it has).
//   - `TakeCiphertext(sink)` hands the bytes to send to the peer (handshake
//     flights, records, alerts, close_notify) to `sink` and forgets them.
//   - `CloseWrite()` sends close_notify; `EndOfInput()` reports the peer's
//     end of stream and says whether it was orderly.
// This is what the reactor's TLS filter drives, and what the fuzz targets
// and unit tests drive directly.
//
// Time: certificate validity and session ages are judged by the wall clock
// given at creation (the backend's `WallNow()`), never by the system clock,
// so a simulated test can run a connection past a certificate's expiry.
//
// Failures carry a `TlsFailure` (see tls_failure.h). After one, the engine
// only hands out the alert it may have queued for the peer.

#ifndef EMBER_PROTOCOLS_TLS_TLS_ENGINE_H_
#define EMBER_PROTOCOLS_TLS_TLS_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "openssl/base.h"
#include "protocols/tls/tls_context.h"
#include "protocols/tls/tls_failure.h"

namespace ember::tls {

// Per-connection settings.
struct TlsSessionOptions {
  // Client: the name (or IP literal) the certificate must match, also sent
  // as SNI unless it is an IP. Empty is allowed only with verify_peer off.
  // Server: ignored.
  std::string server_name;
};

class TlsEngine {
 public:
  using WallClock = std::function<absl::Time()>;

  // kInvalidArgument when a verifying client has no server_name.
  static absl::StatusOr<std::unique_ptr<TlsEngine>> Create(
      std::shared_ptr<const TlsContext> context,
      const TlsSessionOptions& options, WallClock wall_clock);
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  enum class State : uint8_t {
    kHandshaking,
    kEstablished,
    kFailed,
  };

  // Starts the handshake: a client queues its ClientHello. Call once.
  absl::Status Start();

  // Takes bytes the peer sent. Returns the failure that ended the session,
  // if one did (also on later calls).
  absl::Status FeedCiphertext(std::string_view bytes);

  // Copies up to `len` (> 0) decrypted bytes into `buf`. 0 when none is
  // ready now (more ciphertext needed, or the peer sent close_notify: see
  // peer_closed()). An error is final.
  absl::StatusOr<size_t> ReadPlaintext(char* buf, size_t len);

  // True when ReadPlaintext may return bytes without more ciphertext.
  bool HasBufferedInput() const;

  // Encrypts `bytes` into the ciphertext queue, or keeps them until the
  // handshake finishes. kFailedPrecondition after CloseWrite or a failure.
  absl::Status WritePlaintext(std::string_view bytes);
  // Plaintext kept for after the handshake.
  size_t pending_plaintext_bytes() const { return pending_.size(); }

  // Queues close_notify (once; only after the handshake, before it there
  // is nothing to protect and nothing is sent). Later writes fail.
  absl::Status CloseWrite();
  bool write_closed() const { return write_closed_; }

  // The peer's stream ended. OK if close_notify came first; otherwise
  // kTruncated (inside a record), kNoCloseNotify (between records) or
  // kClosedDuringHandshake.
  absl::Status EndOfInput();

  // Hands queued ciphertext to `sink` (possibly in several pieces) and
  // clears it. Returns the bytes handed over.
  size_t TakeCiphertext(absl::FunctionRef<void(std::string_view)> sink);
  size_t ciphertext_bytes() const;

  // The failure status for a handshake that outlived `timeout`.
  absl::Status HandshakeTimeoutError(absl::Duration timeout) const;

  State state() const { return state_; }
  bool established() const { return state_ == State::kEstablished; }
  // close_notify arrived: no more plaintext will.
  bool peer_closed() const { return peer_closed_; }
  const absl::Status& failure() const { return failure_; }
  TlsRole role() const { return context_->role(); }
  const TlsContext& context() const { return *context_; }

  // ---- After the handshake (empty or false before). ----
  std::string_view version() const;      // "TLSv1.3"
  std::string_view cipher() const;       // "TLS_AES_128_GCM_SHA256"
  std::string_view alpn() const;         // Negotiated protocol, or empty.
  std::string_view server_name() const;  // SNI: sent (client) / received.
  bool resumed() const;
  // The peer's leaf certificate, if it sent one.
  std::optional<TlsPeerCertificate> PeerCertificate() const;

 private:
  TlsEngine(std::shared_ptr<const TlsContext> context,
            const TlsSessionOptions& options, WallClock wall_clock);
  absl::Status Init();
  // Runs SSL_do_handshake while it makes progress.
  absl::Status DriveHandshake();
  // Moves up to about one record of inbox_ into rbio_ when it runs low;
  // false when nothing moved.
  bool TopUpReadBio();
  absl::Status OnEstablished();
  // Sets the verification time on the SSL from the wall clock.
  void UpdateTime();
  // Records and returns the failure for an SSL call's `ret`.
  absl::Status Fail(int ret, std::string_view during);
  absl::Status FailWith(absl::Status status);
  void TrackRecords(std::string_view bytes);

  friend struct EngineCallbacks;

  std::shared_ptr<const TlsContext> context_;
  TlsSessionOptions options_;
  WallClock wall_clock_;
  SSL* ssl_ = nullptr;
  BIO* rbio_ = nullptr;  // Owned by ssl_.
  // Ciphertext fed and not yet in rbio_ (from inbox_pos_ on): rbio_ gets it
  // about a record at a time (TopUpReadBio).
  std::string inbox_;
  size_t inbox_pos_ = 0;
  BIO* wbio_ = nullptr;  // Owned by ssl_.
  State state_ = State::kHandshaking;
  bool started_ = false;
  bool write_closed_ = false;
  bool peer_closed_ = false;
  absl::Status failure_;
  std::string pending_;
  // Set by the verify callback: why the chain (or hook) failed.
  int verify_error_ = 0;
  std::string hook_error_;
  // Record framing of the input, to tell a truncated record at end of
  // stream: bytes left of the current header (5..1) or body.
  size_t header_bytes_seen_ = 0;
  uint8_t header_[5] = {};
  size_t body_bytes_left_ = 0;
};

}  // namespace ember::tls

#endif  // EMBER_PROTOCOLS_TLS_TLS_ENGINE_H_
