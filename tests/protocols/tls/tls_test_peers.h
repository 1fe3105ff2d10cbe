// Connections for TLS tests: an echo server and a probing client that record
// what the handshake negotiated, what arrived, and how the connection ended,
// into records. A record may die before its connections (a test's local
// whose reactor, a fixture member, outlives it): it detaches them first, and
// they record nothing more.

#ifndef EMBER_TESTS_PROTOCOLS_TLS_TLS_TEST_PEERS_H_
#define EMBER_TESTS_PROTOCOLS_TLS_TLS_TEST_PEERS_H_

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/tls/tls_connection.h"
#include "protocols/tls/tls_context.h"
#include "reactor/connection.h"

namespace ember::tls::testing {

class RecordingConnection;

struct PeerRecord {
  PeerRecord() = default;
  PeerRecord(const PeerRecord&) = delete;
  // Takes `other`'s contents; connections attached to `other` are detached
  // (they record nothing more), this record's own stay attached.
  PeerRecord(PeerRecord&& other) { *this = std::move(other); }
  PeerRecord& operator=(PeerRecord&& other);
  ~PeerRecord();

  bool connected = false;
  int handshakes = 0;
  std::string received;
  bool eof = false;
  std::optional<UnbindReason> unbind;
  // Negotiated, as seen at HandshakeCompleted.
  std::string version;
  std::string cipher;
  std::string alpn;
  std::string server_name;
  bool resumed = false;
  std::optional<TlsPeerCertificate> peer;

  bool done() const { return unbind.has_value(); }

  std::vector<RecordingConnection*> attached;
};

class RecordingConnection : public Connection {
 public:
  explicit RecordingConnection(PeerRecord* record) : record_(record) {
    record_->attached.push_back(this);
  }
  ~RecordingConnection() override {
    if (record_ == nullptr) return;
    auto& a = record_->attached;
    a.erase(std::remove(a.begin(), a.end(), this), a.end());
  }
  void Detach() { record_ = nullptr; }

  void ConnectionCompleted() override {
    if (record_ != nullptr) record_->connected = true;
  }
  void HandshakeCompleted() override {
    if (record_ == nullptr) return;
    record_->handshakes++;
    const TlsEngine* tls = TlsOf(*this);
    if (tls == nullptr) return;
    record_->version = std::string(tls->version());
    record_->cipher = std::string(tls->cipher());
    record_->alpn = std::string(tls->alpn());
    record_->server_name = std::string(tls->server_name());
    record_->resumed = tls->resumed();
    record_->peer = tls->PeerCertificate();
  }
  void ReceiveData(std::string_view data) override {
    if (record_ != nullptr) record_->received.append(data.data(), data.size());
  }
  void ReceiveEof() override {
    if (record_ != nullptr) record_->eof = true;
    Connection::ReceiveEof();
  }
  void ShutdownRequested() override {}
  void Unbind(const UnbindReason& reason) override {
    if (record_ != nullptr) record_->unbind = reason;
  }

 protected:
  PeerRecord* record_;
};

// Echoes every byte back.
class EchoConnection : public RecordingConnection {
 public:
  using RecordingConnection::RecordingConnection;
  void ReceiveData(std::string_view data) override {
    RecordingConnection::ReceiveData(data);
    SendData(data).IgnoreError();
  }
};

// Sends `payload` once connected (queued before the handshake finishes, so
// it also tests that path), and closes once it has it all back.
class ProbeConnection : public RecordingConnection {
 public:
  ProbeConnection(PeerRecord* record, std::string payload)
      : RecordingConnection(record), payload_(std::move(payload)) {}
  void ConnectionCompleted() override {
    RecordingConnection::ConnectionCompleted();
    if (!payload_.empty()) SendData(payload_).IgnoreError();
  }
  void ReceiveData(std::string_view data) override {
    RecordingConnection::ReceiveData(data);
    if (record_ != nullptr && record_->received.size() >= payload_.size()) {
      CloseAfterWriting();
    }
  }

 private:
  std::string payload_;
};

inline PeerRecord& PeerRecord::operator=(PeerRecord&& other) {
  std::vector<RecordingConnection*> keep = std::move(attached);
  for (RecordingConnection* c : other.attached) c->Detach();
  connected = other.connected;
  handshakes = other.handshakes;
  received = std::move(other.received);
  eof = other.eof;
  unbind = std::move(other.unbind);
  version = std::move(other.version);
  cipher = std::move(other.cipher);
  alpn = std::move(other.alpn);
  server_name = std::move(other.server_name);
  resumed = other.resumed;
  peer = std::move(other.peer);
  attached = std::move(keep);
  other.attached.clear();
  return *this;
}

inline PeerRecord::~PeerRecord() {
  for (RecordingConnection* c : attached) c->Detach();
}

}  // namespace ember::tls::testing

#endif  // EMBER_TESTS_PROTOCOLS_TLS_TLS_TEST_PEERS_H_
