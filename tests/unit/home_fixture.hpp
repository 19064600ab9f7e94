// A PKI home for the tests that issue through the store: a root and an
// issuing CA "factory" (P-384 root, P-256 factory, passphrase "pw"), a
// FixedClock, and the helpers those tests share (SQL on the store file,
// JSONL outputs, chain verification at the fixture's time, expected errors).
#pragma once

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ossl/handles.hpp"
#include "pki/batch.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/issuance.hpp"
#include "test_util.hpp"

namespace pki::test {

inline const std::filesystem::path kShippedProfiles =
    std::filesystem::path(DEVPKI_SOURCE_DIR) / "profiles";

struct HomeFixture {
  TempDir dir;
  FixedClock clock;
  Home home = Home::create(dir.path() / "pki", kShippedProfiles);
  BatchSecrets secrets;

  explicit HomeFixture(TimePoint now) : clock(now) {
    RootOptions root;
    root.name = "root";
    root.subject = DistinguishedName::parse("/O=Acme/CN=Acme Root CA");
    root.protection.passphrase = "pw";
    root.protection.encryption.pbkdf2_iterations = 1000;
    create_root(home, root, clock);
    IssuingCaOptions ica;
    ica.name = "factory";
    ica.parent = "root";
    ica.subject = DistinguishedName::parse("/O=Acme/CN=Acme Factory CA");
    ica.protection = root.protection;
    ica.parent_passphrase = "pw";
    create_issuing_ca(home, ica, clock);
    secrets.ca_passphrase = "pw";
  }

  // The first column of every row of `q`, run on the store file, one per line.
  std::string sql(const std::string& q) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((home.root() / "store.db").c_str(), &db, SQLITE_OPEN_READWRITE,
                            nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, q.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (!out.empty()) out += "\n";
      if (sqlite3_column_text(st, 0))
        out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    CHECK(rc == SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
};

inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line))
    out.push_back(nlohmann::json::parse(line));
  return out;
}

inline std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Verifies `cert_pem` with X509_V_FLAG_X509_STRICT at `at`, trusting the
// last certificate of `chain_pem` and taking the others as untrusted.
inline bool verifies(const std::string& cert_pem, const std::string& chain_pem, TimePoint at) {
  ossl::BioPtr cb(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  ossl::X509Ptr cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!cert) return false;
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  ossl::X509StackPtr untrusted(sk_X509_new_null());
  ossl::BioPtr chb(BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size())));
  std::vector<X509*> chain;
  while (X509* c = PEM_read_bio_X509(chb.get(), nullptr, nullptr, nullptr))
    chain.push_back(c);
  ERR_clear_error();
  REQUIRE(chain.size() >= 2);
  X509_STORE_add_cert(store.get(), chain.back());
  X509_free(chain.back());
  chain.pop_back();
  for (X509* c : chain)
    sk_X509_push(untrusted.get(), c);
  X509_STORE_set_flags(store.get(), X509_V_FLAG_X509_STRICT);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      &X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), untrusted.get());
  X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(at));
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  if (!ok) MESSAGE(std::string(X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
  return ok;
}

// One certificate for `device` from CA `ca` under `profile`, for `key`,
// through sign_csr (the CA key's passphrase "pw"), written to `out`.
inline Certificate issue(Home& home, const Clock& clock, const std::string& ca,
                         const std::string& profile, const std::string& device,
                         const PrivateKey& key, const std::filesystem::path& out) {
  SignRequest r;
  r.ca = ca;
  r.profile = profile;
  r.csr = make_csr_der(key);
  r.device_id = device;
  r.out = out;
  r.passphrase = "pw";
  return sign_csr(home, r, clock).certificate;
}

// `f()` must throw pki::Error with `code` and a message containing `text`.
template <class F>
void require_error(F&& f, ErrorCode code, const std::string& text) {
  try {
    f();
    FAIL("expected pki::Error(" << to_string(code) << ") containing '" << text << "'");
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(e.code() == code);
    CHECK(std::string(e.what()).find(text) != std::string::npos);
  }
}

}  // namespace pki::test
