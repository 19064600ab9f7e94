// Batch fast path (devpki-mint): per P-256 device, KeyGenerator::generate()
// + CertTemplate::tbs() + CertTemplate::sign(), against the crypto floor
// measured in the same run (keygen + one ECDSA P-256 signature over a
// ~300-byte TBS, contexts reused). Best of several rounds: machines here are
// noisy and shared, only same-run ratios mean anything.
//
// Usage: fastpath_bench [N] [ROUNDS]   (default 3000 devices, 5 rounds)
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cert/builder.hpp"
#include "fastpath/fastpath.hpp"
#include "pki/authority.hpp"

using clk = std::chrono::steady_clock;
using namespace pki;

namespace {

double us_per(clk::time_point t0, int n) {
  return std::chrono::duration<double, std::micro>(clk::now() - t0).count() / n;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 3000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());

  // A P-256 root as the CA, the shipped IDevID profile.
  const PrivateKey ca_key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const auto signer = std::make_shared<KeySigner>(ca_key, "bench");
  CertificateSpec root;
  root.profile = load_profile(DEVPKI_SOURCE_PROFILES "/root-ca.yaml");
  root.subject = DistinguishedName::parse("/O=Acme/CN=Bench Root");
  root.public_key = ca_key.public_key();
  root.not_before = now - std::chrono::hours(1);
  root.not_after = now + std::chrono::years(20);
  const Authority ca("root", {Authority::self_sign(root, *signer)}, signer);

  auto subject = [](int i) {
    const std::string id = "dev-" + std::to_string(100000 + i);
    return DistinguishedName({{"O", "Acme"}, {"CN", id}, {"serialNumber", id}});
  };
  fastpath::KeyGenerator gen(KeyAlgorithm::ec_p256);
  CertificateSpec proto;
  proto.profile = load_profile(DEVPKI_SOURCE_PROFILES "/device-idevid.yaml");
  proto.subject = subject(0);
  const fastpath::DeviceKey proto_key = gen.generate();
  proto.public_key = PublicKey::adopt(proto_key.key.get(), proto_key.spki_der);
  proto.not_before = now - std::chrono::minutes(5);
  proto.not_after = forever();
  proto.variables = {{"ca", "root"}};
  const fastpath::CertTemplate tmpl(ca, proto);

  std::vector<DistinguishedName> subjects;
  for (int i = 0; i < n; ++i)
    subjects.push_back(subject(i));
  const std::vector<SubjectAltName> no_sans;
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  auto* ca_pkey = static_cast<EVP_PKEY*>(ca_key.native_handle());

  double best_floor = 1e9, best_fast = 1e9, best_gen = 1e9, best_tbs = 1e9, best_sign = 1e9;
  std::size_t cert_bytes = 0;
  for (int r = 0; r < rounds; ++r) {
    // Floor: keygen + one signature, contexts reused (bench/README.md's floor).
    {
      EVP_PKEY_CTX* kc = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
      EVP_PKEY_keygen_init(kc);
      EVP_PKEY_CTX_set_group_name(kc, "P-256");
      unsigned char tbs[300] = {1};
      unsigned char sig[80];
      const auto t0 = clk::now();
      for (int i = 0; i < n; ++i) {
        EVP_PKEY* k = nullptr;
        EVP_PKEY_keygen(kc, &k);
        std::size_t sl = sizeof sig;
        EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, ca_pkey, nullptr);
        EVP_DigestSign(ctx.get(), sig, &sl, tbs, sizeof tbs);
        EVP_PKEY_free(k);
      }
      best_floor = std::min(best_floor, us_per(t0, n));
      EVP_PKEY_CTX_free(kc);
    }
    // The fast path, end to end (serial included).
    {
      const auto t0 = clk::now();
      for (int i = 0; i < n; ++i) {
        const fastpath::DeviceKey k = gen.generate();
        const auto serial = random_serial();
        const auto tbs =
            tmpl.tbs({serial, &subjects[static_cast<std::size_t>(i)], k.spki_der, &no_sans});
        cert_bytes = tmpl.sign(tbs, ctx.get()).size();
      }
      best_fast = std::min(best_fast, us_per(t0, n));
    }
    // Its parts.
    std::vector<fastpath::DeviceKey> keys;
    keys.reserve(static_cast<std::size_t>(n));
    {
      const auto t0 = clk::now();
      for (int i = 0; i < n; ++i)
        keys.push_back(gen.generate());
      best_gen = std::min(best_gen, us_per(t0, n));
    }
    std::vector<std::vector<std::uint8_t>> tbss;
    tbss.reserve(static_cast<std::size_t>(n));
    const auto serial = random_serial();
    {
      const auto t0 = clk::now();
      for (int i = 0; i < n; ++i) {
        const auto j = static_cast<std::size_t>(i);
        tbss.push_back(tmpl.tbs({serial, &subjects[j], keys[j].spki_der, &no_sans}));
      }
      best_tbs = std::min(best_tbs, us_per(t0, n));
    }
    {
      const auto t0 = clk::now();
      for (int i = 0; i < n; ++i)
        cert_bytes = tmpl.sign(tbss[static_cast<std::size_t>(i)], ctx.get()).size();
      best_sign = std::min(best_sign, us_per(t0, n));
    }
  }
  std::printf("P-256 devices, best of %d rounds of %d (certificate %zu bytes)\n", rounds, n,
              cert_bytes);
  std::printf("  floor keygen + sign        %7.1f us/device  %8.0f /s\n", best_floor,
              1e6 / best_floor);
  std::printf("  generate + tbs + sign      %7.1f us/device  %8.0f /s  (%.2fx floor, +%.1f us)\n",
              best_fast, 1e6 / best_fast, best_fast / best_floor, best_fast - best_floor);
  std::printf("    generate (keygen+encode) %7.1f us\n", best_gen);
  std::printf("    tbs                      %7.1f us\n", best_tbs);
  std::printf("    sign                     %7.1f us\n", best_sign);
  return 0;
}
