// Single-CSR signing: how far the sign path (devpki-ca sign, libpki sign_csr)
// is from the cryptography it cannot skip. Prints each rate and its ratio to
// the floor measured in this same run (machines here are noisy: only
// same-run ratios mean anything).
//
//   floor      ECDSA P-256 verify (the CSR's proof of possession) + one
//              ECDSA P-256 signature over a ~300-byte TBS, contexts reused
//   authority  CSR parse + checks, build, lint, sign (Authority::draft/sign)
//   pipeline   sign_csr(): the above plus the store (reserve + commit, each a
//              durable SQLite transaction) and the atomic PEM write
//
// Usage: sign_bench [N]   (default 2000; the pipeline runs N/10, it fsyncs)
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <unistd.h>

#include "pki/authority.hpp"
#include "pki/csr.hpp"
#include "pki/hierarchy.hpp"
#include "pki/issuance.hpp"

using clk = std::chrono::steady_clock;
using namespace pki;

namespace {

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

std::vector<std::uint8_t> make_csr(EVP_PKEY* key) {
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_pubkey(req, key);
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("device"), -1, -1, 0);
  X509_REQ_sign(req, key, EVP_sha256());
  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req, &der);
  std::vector<std::uint8_t> out(der, der + len);
  OPENSSL_free(der);
  X509_REQ_free(req);
  return out;
}

double floor_rate(int n, const std::vector<std::uint8_t>& csr_der, EVP_PKEY* ca_key) {
  const unsigned char* p = csr_der.data();
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(csr_der.size()));
  EVP_PKEY* dev = X509_REQ_get0_pubkey(req);
  unsigned char tbs[300] = {1};
  unsigned char sig[128];
  EVP_MD_CTX* mc = EVP_MD_CTX_new();
  const auto t0 = clk::now();
  for (int i = 0; i < n; ++i) {
    X509_REQ_verify(req, dev);
    size_t sl = sizeof sig;
    EVP_DigestSignInit_ex(mc, nullptr, "SHA256", nullptr, nullptr, ca_key, nullptr);
    EVP_DigestSign(mc, sig, &sl, tbs, sizeof tbs);
  }
  const double s = seconds_since(t0);
  EVP_MD_CTX_free(mc);
  X509_REQ_free(req);
  return n / s;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const auto dir =
      std::filesystem::temp_directory_path() / ("devpki-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  SystemClock clock;
  Home home = Home::create(dir / "pki", DEVPKI_SOURCE_PROFILES);
  RootOptions root;
  root.name = "root";
  root.key = KeyAlgorithm::ec_p256;
  root.subject = DistinguishedName::parse("/O=Bench/CN=Root");
  root.protection.plaintext = true;
  create_root(home, root, clock);
  IssuingCaOptions ica;
  ica.name = "factory";
  ica.parent = "root";
  ica.subject = DistinguishedName::parse("/O=Bench/CN=Factory");
  ica.protection.plaintext = true;
  create_issuing_ca(home, ica, clock);
  const Authority authority = load_authority(home, "factory", std::nullopt);
  const ProfileSpec profile = home.profile("device-ldevid");

  EVP_PKEY* dev = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  const auto csr = make_csr(dev);

  const double floor = floor_rate(
      n, csr,
      static_cast<EVP_PKEY*>(PrivateKey::load(dir / "pki/keys/factory.key.pem").native_handle()));

  auto t0 = clk::now();
  for (int i = 0; i < n; ++i) {
    const CertificationRequest req = CertificationRequest::parse(csr);
    CertificateSpec spec;
    spec.profile = profile;
    spec.public_key = req.public_key();
    spec.variables = {
        {"device_id", "D" + std::to_string(i)}, {"ca", "factory"}, {"profile", profile.name}};
    spec.subject = build_subject(profile, spec.variables);
    spec.sans = build_sans(profile, req.sans(), spec.variables);
    spec.not_before = clock.now();
    spec.not_after = clock.now() + profile.validity.duration;
    authority.sign(authority.draft(spec));
  }
  const double authority_rate = n / seconds_since(t0);

  const int np = std::max(1, n / 10);
  std::filesystem::create_directories(dir / "out");
  t0 = clk::now();
  for (int i = 0; i < np; ++i) {
    SignRequest r;
    r.ca = "factory";
    r.profile = "device-ldevid";
    r.csr = csr;
    r.device_id = "P" + std::to_string(i);
    r.out = dir / "out" / (r.device_id + ".pem");
    sign_csr(home, r, clock);
  }
  const double pipeline_rate = np / seconds_since(t0);

  std::printf("sign-bench p256 n=%d\n", n);
  std::printf("  floor     (CSR verify + sign)      %8.0f /s\n", floor);
  std::printf("  authority (parse, build, lint, sign) %6.0f /s  ratio to floor %.2f\n",
              authority_rate, authority_rate / floor);
  std::printf(
      "  pipeline  (sign_csr, store, file)  %8.0f /s  ratio to floor %.2f  (n=%d, fsync-bound)\n",
      pipeline_rate, pipeline_rate / floor, np);
  EVP_PKEY_free(dev);
  std::filesystem::remove_all(dir);
}
