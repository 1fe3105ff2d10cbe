// Connections for TLS tests: an echo server and a probing client that record
// what the handshake negotiated, what arrived, and how the connection ended,
// into records that outlive the connections.

#ifndef EMBER_TESTS_PROTOCOLS_TLS_TLS_TEST_PEERS_H_
#define EMBER_TESTS_PROTOCOLS_TLS_TLS_TEST_PEERS_H_

#include <optional>
#include <string>
#include <string_view>

#include "protocols/tls/tls_connection.h"
#include "protocols/tls/tls_context.h"
#include "reactor/connection.h"

namespace ember::tls::testing {

struct PeerRecord {
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
};

class RecordingConnection : public Connection {
 public:
  explicit RecordingConnection(PeerRecord* record) : record_(record) {}

  void ConnectionCompleted() override { record_->connected = true; }
  void HandshakeCompleted() override {
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
    record_->received.append(data.data(), data.size());
  }
  void ReceiveEof() override {
    record_->eof = true;
    Connection::ReceiveEof();
  }
  void ShutdownRequested() override {}
  void Unbind(const UnbindReason& reason) override { record_->unbind = reason; }

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
    if (record_->received.size() >= payload_.size()) CloseAfterWriting();
  }

 private:
  std::string payload_;
};

}  // namespace ember::tls::testing

#endif  // EMBER_TESTS_PROTOCOLS_TLS_TLS_TEST_PEERS_H_
