// Helpers for unit tests: temporary directories and CSRs built in-process.
#pragma once

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ossl/check.hpp"
#include "ossl/handles.hpp"
#include "pki/key.hpp"

namespace pki::test {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    m_path = std::filesystem::temp_directory_path() /
             ("devpki-unit-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(m_path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

struct CsrOptions {
  std::string cn = "device";
  std::string sans;  // OpenSSL config syntax, e.g. "DNS:a.example,IP:10.0.0.1"
  bool ca = false;
  const EVP_MD* md = EVP_sha256();
  long version = X509_REQ_VERSION_1;

  // Chainable setters: designated initializers with omitted members trip -Wextra.
  CsrOptions& with_cn(std::string v) {
    cn = std::move(v);
    return *this;
  }
  CsrOptions& with_sans(std::string v) {
    sans = std::move(v);
    return *this;
  }
  CsrOptions& with_ca() {
    ca = true;
    return *this;
  }
  CsrOptions& with_md(const EVP_MD* v) {
    md = v;
    return *this;
  }
  CsrOptions& with_version(long v) {
    version = v;
    return *this;
  }
};

inline std::vector<std::uint8_t> make_csr_der(const PrivateKey& key, const CsrOptions& o = {}) {
  auto* pkey = static_cast<EVP_PKEY*>(key.native_handle());
  ossl::X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), o.version);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (!o.cn.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(o.cn.c_str()), -1, -1, 0);
  }
  X509_REQ_set_pubkey(req.get(), pkey);
  ossl::ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
  if (!o.sans.empty()) {
    sk_X509_EXTENSION_push(
        exts.get(), X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, o.sans.c_str()));
  }
  if (o.ca) {
    sk_X509_EXTENSION_push(exts.get(), X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints,
                                                           "critical,CA:TRUE"));
  }
  if (sk_X509_EXTENSION_num(exts.get()) > 0) X509_REQ_add_extensions(req.get(), exts.get());
  const bool eddsa = EVP_PKEY_is_a(pkey, "ED25519");
  X509_REQ_sign(req.get(), pkey, eddsa ? nullptr : o.md);
  return ossl::to_der<X509_REQ>(i2d_X509_REQ, req.get(), "csr");
}

}  // namespace pki::test
