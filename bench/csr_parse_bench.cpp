// CertificationRequest::parse on a P-256 request against what it replaced
// (d2i_X509_REQ + X509_REQ_verify and the same checks) and against the floor
// (X509_REQ_verify on an already decoded request), all in one run: the machine
// is shared and noisy, so each figure is the best of several rounds.
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cert/general_name.hpp"
#include "name/name_der.hpp"
#include "ossl/check.hpp"
#include "ossl/der.hpp"
#include "ossl/handles.hpp"
#include "pki/csr.hpp"
#include "pki/key.hpp"

using namespace pki;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::uint8_t> make_csr(const PrivateKey& key) {
  auto* pkey = static_cast<EVP_PKEY*>(key.native_handle());
  ossl::X509ReqPtr req(X509_REQ_new());
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("dev-000123"), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), pkey);
  ossl::ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
  sk_X509_EXTENSION_push(exts.get(), X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name,
                                                         "DNS:dev-000123.devices.example"));
  X509_REQ_add_extensions(req.get(), exts.get());
  X509_REQ_sign(req.get(), pkey, EVP_sha256());
  return ossl::to_der<X509_REQ>(i2d_X509_REQ, req.get(), "csr");
}

// The parser before the split: d2i_X509_REQ, then the same checks.
bool old_parse(const std::vector<std::uint8_t>& input) {
  const auto der = ossl::pem_or_der(input, {"CERTIFICATE REQUEST"}, "CSR");
  ossl::check_der_structure(der, "CSR");
  const unsigned char* p = der.data();
  ossl::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req || X509_REQ_get_version(req.get()) != 0) return false;
  int md = 0, pk = 0;
  if (OBJ_find_sigid_algs(X509_REQ_get_signature_nid(req.get()), &md, &pk) != 1) return false;
  EVP_PKEY* pkey = X509_REQ_get0_pubkey(req.get());
  if (pkey == nullptr) return false;
  const PublicKey key = PublicKey::adopt(
      pkey,
      ossl::to_der<X509_PUBKEY>(i2d_X509_PUBKEY, X509_REQ_get_X509_PUBKEY(req.get()), "spki"));
  if (key.describe().explicit_params) return false;
  if (X509_REQ_verify(req.get(), pkey) != 1) return false;
  const DistinguishedName subject = from_x509_name(X509_REQ_get_subject_name(req.get()));
  if (subject.validate().has_errors()) return false;
  ossl::ExtensionStackPtr exts(X509_REQ_get_extensions(req.get()));
  std::set<std::string> seen;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    char buf[128];
    OBJ_obj2txt(buf, sizeof buf, X509_EXTENSION_get_object(ext), 1);
    seen.insert(buf);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name) {
      ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
      if (from_general_names(names.get()).empty()) return false;
    }
  }
  ossl::clear_errors();
  return true;
}

double best_us(int rounds, int n, const std::function<void()>& f) {
  double best = 1e300;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i)
      f();
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / n;
    best = std::min(best, us);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::stoi(argv[1]) : 2000;
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const auto der = make_csr(key);
  const unsigned char* p = der.data();
  ossl::X509ReqPtr decoded(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  EVP_PKEY* pub = X509_REQ_get0_pubkey(decoded.get());
  auto* priv = static_cast<EVP_PKEY*>(key.native_handle());
  const std::vector<std::uint8_t> tbs(300, 0x5a);

  int sink = 0;
  for (int round = 0; round < 3; ++round) {  // interleaved, best of 3 each
    const double now =
        best_us(1, n, [&] { sink += CertificationRequest::parse(der).sans().size() > 0; });
    const double before = best_us(1, n, [&] { sink += old_parse(der); });
    const double verify = best_us(1, n, [&] { sink += X509_REQ_verify(decoded.get(), pub); });
    const double sign = best_us(1, n, [&] {
      ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
      std::size_t len = 80;
      unsigned char sig[80];
      EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, priv, nullptr);
      sink += EVP_DigestSign(ctx.get(), sig, &len, tbs.data(), tbs.size());
    });
    std::printf(
        "round %d: parse %.1f us | before (d2i_X509_REQ path) %.1f us | X509_REQ_verify %.1f us | "
        "ECDSA sign %.1f us | parse/verify %.2f | (parse+sign)/(verify+sign) %.2f\n",
        round + 1, now, before, verify, sign, now / verify, (now + sign) / (verify + sign));
  }
  return sink == 0 ? 1 : 0;
}
