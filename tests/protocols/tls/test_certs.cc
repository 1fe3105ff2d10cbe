#include "tests/protocols/tls/test_certs.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "io/check.h"
#include "openssl/bio.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"

namespace ember::tls::testing {
namespace {

EVP_PKEY* NewKey() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  EVP_PKEY* key = nullptr;
  EMBER_CHECK(ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 &&
              EVP_PKEY_keygen(ctx, &key) == 1);
  EVP_PKEY_CTX_free(ctx);
  return key;
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &v3, nid, value.c_str());
  EMBER_CHECK_MSG(ext != nullptr, value.c_str());
  EMBER_CHECK(X509_add_ext(cert, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

X509* NewCert(long serial, const std::string& cn, absl::Time not_before,
              absl::Time not_after, EVP_PKEY* key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after));
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const uint8_t*>("Ember tests"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const uint8_t*>(cn.c_str()), -1,
                             -1, 0);
  X509_set_pubkey(cert, key);
  return cert;
}

std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio, &data, &len);
  std::string out(reinterpret_cast<const char*>(data), len);
  BIO_free(bio);
  return out;
}

std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio, &data, &len);
  std::string out(reinterpret_cast<const char*>(data), len);
  BIO_free(bio);
  return out;
}

}  // namespace

TestCa::TestCa(const std::string& name, absl::Time not_before,
               absl::Time not_after) {
  EVP_PKEY* key = NewKey();
  X509* cert = NewCert(1, name, not_before, not_after, key);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  AddExtension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(cert, cert, NID_subject_key_identifier, "hash");
  EMBER_CHECK(X509_sign(cert, key, nullptr) > 0);
  key_ = key;
  cert_ = cert;
  cert_pem_ = CertPem(cert);
}

TestCa::~TestCa() {
  X509_free(static_cast<X509*>(cert_));
  EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
}

TlsCertificate TestCa::Issue(const CertSpec& spec) {
  X509* ca = static_cast<X509*>(cert_);
  EVP_PKEY* key = NewKey();
  X509* cert = NewCert(serial_++, spec.common_name, spec.not_before,
                       spec.not_after, key);
  X509_set_issuer_name(cert, X509_get_subject_name(ca));
  AddExtension(cert, ca, NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(cert, ca, NID_key_usage, "critical,digitalSignature");
  std::vector<std::string> usages;
  if (spec.server_auth) usages.push_back("serverAuth");
  if (spec.client_auth) usages.push_back("clientAuth");
  if (!usages.empty()) {
    AddExtension(cert, ca, NID_ext_key_usage, absl::StrJoin(usages, ","));
  }
  std::vector<std::string> sans;
  for (const std::string& d : spec.dns_names) sans.push_back("DNS:" + d);
  for (const std::string& ip : spec.ip_addresses) sans.push_back("IP:" + ip);
  if (!sans.empty()) {
    AddExtension(cert, ca, NID_subject_alt_name, absl::StrJoin(sans, ","));
  }
  AddExtension(cert, ca, NID_authority_key_identifier, "keyid:always");
  EMBER_CHECK(X509_sign(cert, static_cast<EVP_PKEY*>(key_), nullptr) > 0);
  TlsCertificate out{CertPem(cert), KeyPem(key)};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

CertSpec ServerSpec(absl::Time now, std::vector<std::string> dns_names,
                    std::vector<std::string> ips) {
  CertSpec spec;
  spec.common_name = dns_names.empty() ? "server" : dns_names[0];
  spec.dns_names = std::move(dns_names);
  spec.ip_addresses = std::move(ips);
  spec.not_before = now - absl::Hours(24);
  spec.not_after = now + absl::Hours(24 * 365);
  return spec;
}

std::string WriteTempFile(const std::string& name,
                          const std::string& contents) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  EMBER_CHECK_MSG(out.good(), path.c_str());
  return path;
}

}  // namespace ember::tls::testing
