// Goal: the TLS engine on its own, with no reactor and no sockets: two
// engines shuttling bytes complete a handshake however the bytes are cut
// (down to one byte at a time) and carry data both ways; records are at most
// 16 KiB of plaintext; close_notify is an orderly end and its absence, or a
// cut record, is an error; plaintext written before the handshake is kept
// and sent after it; engines destroyed mid-handshake free everything (ASan);
// and bad configuration is refused up front, with its code.

#include "protocols/tls/tls_engine.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "protocols/tls/tls_context.h"
#include "protocols/tls/tls_failure.h"
#include "tests/protocols/tls/test_certs.h"

namespace ember::tls {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

class TlsEngineTest : public ::testing::Test {
 protected:
  TlsEngineTest() : ca_("CA", kNow - absl::Hours(1), kNow + absl::Hours(100)) {
    TlsOptions server;
    server.certificates.push_back(ca_.Issue(testing::ServerSpec(kNow)));
    server_context_ = *TlsContext::Create(TlsRole::kServer, server);
    TlsOptions client;
    client.ca_pem = ca_.cert_pem();
    client_context_ = *TlsContext::Create(TlsRole::kClient, client);
  }

  void MakePair() {
    auto clock = [] { return kNow; };
    client_ = *TlsEngine::Create(client_context_, {"localhost"}, clock);
    server_ = *TlsEngine::Create(server_context_, {}, clock);
    ASSERT_TRUE(client_->Start().ok());
    ASSERT_TRUE(server_->Start().ok());
  }

  // Moves ciphertext each way, in pieces of at most `piece` bytes, until
  // nothing moves.
  void Shuttle(size_t piece) {
    for (bool moved = true; moved;) {
      moved = false;
      for (auto [from, to] : {std::pair{client_.get(), server_.get()},
                              std::pair{server_.get(), client_.get()}}) {
        std::string bytes;
        from->TakeCiphertext([&](std::string_view b) { bytes.append(b); });
        for (size_t i = 0; i < bytes.size(); i += piece) {
          to->FeedCiphertext(std::string_view(bytes).substr(i, piece))
              .IgnoreError();
          moved = true;
        }
      }
    }
  }

  static std::string ReadAll(TlsEngine& e) {
    std::string out;
    char buf[100000];
    while (true) {
      auto n = e.ReadPlaintext(buf, sizeof(buf));
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok() || *n == 0) return out;
      EXPECT_LE(*n, 16384u);  // One record at most per read.
      out.append(buf, *n);
    }
  }

  testing::TestCa ca_;
  std::shared_ptr<const TlsContext> server_context_, client_context_;
  std::unique_ptr<TlsEngine> client_, server_;
};

TEST_F(TlsEngineTest, HandshakeAndDataHoweverTheBytesAreCut) {
  for (size_t piece : {size_t{1}, size_t{7}, size_t{100}, size_t{1} << 20}) {
    SCOPED_TRACE(piece);
    MakePair();
    // Written before the handshake: kept, then sent.
    ASSERT_TRUE(client_->WritePlaintext("early").ok());
    EXPECT_EQ(client_->pending_plaintext_bytes(), 5u);
    Shuttle(piece);
    ASSERT_TRUE(client_->established());
    ASSERT_TRUE(server_->established());
    EXPECT_EQ(client_->pending_plaintext_bytes(), 0u);
    EXPECT_EQ(ReadAll(*server_), "early");
    const std::string big(100000, 'z');
    ASSERT_TRUE(server_->WritePlaintext(big).ok());
    Shuttle(piece);
    EXPECT_EQ(ReadAll(*client_), big);
  }
}

TEST_F(TlsEngineTest, CloseNotifyIsAnOrderlyEnd) {
  MakePair();
  Shuttle(1 << 20);
  ASSERT_TRUE(client_->WritePlaintext("bye").ok());
  ASSERT_TRUE(client_->CloseWrite().ok());
  EXPECT_EQ(client_->WritePlaintext("more").code(),
            absl::StatusCode::kFailedPrecondition);
  Shuttle(1 << 20);
  EXPECT_EQ(ReadAll(*server_), "bye");
  EXPECT_TRUE(server_->peer_closed());
  EXPECT_TRUE(server_->EndOfInput().ok());
}

TEST_F(TlsEngineTest, MissingCloseNotifyAndCutRecordsAreErrors) {
  MakePair();
  Shuttle(1 << 20);
  ASSERT_TRUE(server_->WritePlaintext("abc").ok());
  std::string record;
  server_->TakeCiphertext([&](std::string_view b) { record.append(b); });
  // Whole records, then the end: no close_notify.
  ASSERT_TRUE(client_->FeedCiphertext(record).ok());
  EXPECT_EQ(ReadAll(*client_), "abc");
  absl::Status end = client_->EndOfInput();
  EXPECT_EQ(end.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(TlsFailureOf(end), TlsFailure::kNoCloseNotify);

  MakePair();
  Shuttle(1 << 20);
  ASSERT_TRUE(server_->WritePlaintext("abc").ok());
  record.clear();
  server_->TakeCiphertext([&](std::string_view b) { record.append(b); });
  ASSERT_TRUE(
      client_->FeedCiphertext(record.substr(0, record.size() - 1)).ok());
  EXPECT_EQ(ReadAll(*client_), "");
  end = client_->EndOfInput();
  EXPECT_EQ(TlsFailureOf(end), TlsFailure::kTruncated) << end;
  // Cut inside the 5-byte header.
  MakePair();
  Shuttle(1 << 20);
  ASSERT_TRUE(client_->FeedCiphertext(std::string("\x17\x03", 2)).ok());
  EXPECT_EQ(TlsFailureOf(client_->EndOfInput()), TlsFailure::kTruncated);
}

TEST_F(TlsEngineTest, DestroyedMidHandshakeLeaksNothing) {
  // Run under ASan (LeakSanitizer): every partial state is freed.
  for (int step = 0; step < 4; ++step) {
    MakePair();
    for (int i = 0; i < step; ++i) {
      std::string bytes;
      TlsEngine* from = i % 2 == 0 ? client_.get() : server_.get();
      TlsEngine* to = i % 2 == 0 ? server_.get() : client_.get();
      from->TakeCiphertext([&](std::string_view b) { bytes.append(b); });
      to->FeedCiphertext(bytes).IgnoreError();
    }
    client_.reset();
    server_.reset();
  }
}

TEST_F(TlsEngineTest, CipherListPicksTheTls12Suite) {
  for (const char* suite :
       {"ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES256-GCM-SHA384"}) {
    SCOPED_TRACE(suite);
    TlsOptions server;
    server.certificates.push_back(ca_.Issue(testing::ServerSpec(kNow)));
    server.cipher_list = suite;
    server.max_version = TlsVersion::kTls12;
    server_context_ = *TlsContext::Create(TlsRole::kServer, server);
    MakePair();
    Shuttle(1 << 20);
    ASSERT_TRUE(client_->established());
    EXPECT_EQ(client_->version(), "TLSv1.2");
    EXPECT_EQ(client_->cipher(), suite);
    EXPECT_EQ(server_->cipher(), suite);
  }
}

TEST_F(TlsEngineTest, GarbageFailsWithMalformedInputAndStaysFailed) {
  MakePair();
  absl::Status s = server_->FeedCiphertext("not a TLS record at all");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(TlsFailureOf(s), TlsFailure::kMalformedInput) << s;
  EXPECT_EQ(server_->state(), TlsEngine::State::kFailed);
  EXPECT_EQ(server_->FeedCiphertext("more").code(), s.code());
  EXPECT_EQ(server_->WritePlaintext("x").code(), s.code());
}

TEST_F(TlsEngineTest, BadConfigurationIsRefusedUpFront) {
  TlsOptions no_cert;
  EXPECT_EQ(TlsContext::Create(TlsRole::kServer, no_cert).status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsOptions bad_pem;
  bad_pem.certificates.push_back({"not pem", "not pem"});
  EXPECT_EQ(TlsContext::Create(TlsRole::kServer, bad_pem).status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsOptions mismatched;
  TlsCertificate a = ca_.Issue(testing::ServerSpec(kNow));
  TlsCertificate b = ca_.Issue(testing::ServerSpec(kNow));
  mismatched.certificates.push_back({a.chain_pem, b.key_pem});
  auto m = TlsContext::Create(TlsRole::kServer, mismatched);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("does not match"),
            absl::string_view::npos);
  TlsOptions versions;
  versions.min_version = TlsVersion::kTls13;
  versions.max_version = TlsVersion::kTls12;
  EXPECT_EQ(TlsContext::Create(TlsRole::kClient, versions).status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsOptions alpn;
  alpn.alpn_protocols = {std::string(256, 'a')};
  EXPECT_EQ(TlsContext::Create(TlsRole::kClient, alpn).status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsOptions ciphers;
  ciphers.cipher_list = "NO-SUCH-CIPHER";
  EXPECT_EQ(TlsContext::Create(TlsRole::kClient, ciphers).status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsOptions missing_ca;
  missing_ca.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(TlsContext::Create(TlsRole::kClient, missing_ca).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(TlsCertificate::FromFiles("/nonexistent/a", "/nonexistent/b")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  // A verifying client must know whom it verifies.
  EXPECT_EQ(TlsEngine::Create(client_context_, {}, [] { return kNow; })
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TlsFailureTest, EveryFailureRoundTripsThroughItsStatus) {
  for (int i = 1; i <= static_cast<int>(TlsFailure::kClosedDuringHandshake);
       ++i) {
    const auto f = static_cast<TlsFailure>(i);
    absl::Status s = MakeTlsError(f, "detail");
    EXPECT_EQ(TlsFailureOf(s), f) << s;
    EXPECT_EQ(s.code(), TlsFailureCode(f));
    EXPECT_FALSE(s.ok());
  }
  EXPECT_EQ(TlsFailureOf(absl::UnavailableError("reset")), TlsFailure::kNone);
  EXPECT_EQ(TlsFailureOf(absl::OkStatus()), TlsFailure::kNone);
}

}  // namespace
}  // namespace ember::tls
