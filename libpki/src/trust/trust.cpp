// Bootstrap trust anchors and the check of a device certificate against a
// set of anchors (pki/trust.hpp). Chain building and signature checks are
// OpenSSL's X509_verify_cert; revocation is devpki's own: the store for the
// home's CAs (the inventory is the authority, fresher than any CRL), a CRL
// of the issuer for anyone else's.
#include "pki/trust.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cert/asn1_time.hpp"
#include "ossl/check.hpp"
#include "ossl/der.hpp"
#include "pki/hierarchy.hpp"
#include "pki/revocation.hpp"

namespace pki {

namespace {

X509* raw(const Certificate& c) {
  return static_cast<X509*>(c.native_handle());
}

bool has_key_cert_sign(const Certificate& c) {
  const auto ku = c.key_usage();
  return std::find(ku.begin(), ku.end(), KeyUsage::key_cert_sign) != ku.end();
}

std::string default_anchor_name(const Certificate& ca) {
  std::string name;
  if (auto cn = ca.subject().get("CN")) {
    for (char ch : *cn) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
      if (ok) {
        name += c;
      } else if (!name.empty() && name.back() != '-') {
        name += '-';
      }
    }
    while (!name.empty() && (name.back() == '-' || name.back() == '.' || name.back() == '_'))
      name.pop_back();
    if (name.size() > 64) name.resize(64);
  }
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name.front()))) {
    name = "anchor-";
    name += ca.fingerprint_sha256_hex().substr(0, 8);
  }
  return name;
}

AuditEvent trust_event(const std::string& action, const TrustAnchorRecord& a, TimePoint at,
                       const std::string& actor) {
  AuditEvent ev;
  ev.at = at;
  ev.actor = actor;
  ev.action = action;
  ev.subject = "trust/" + a.name;
  ev.detail = nlohmann::json{
      {"name", a.name},
      {"purpose", a.purpose},
      {"subject", a.subject},
      {"sha256", a.sha256},
      {"source",
       a.source}}.dump();
  return ev;
}

std::string cert_label(const Certificate& c) {
  return "certificate " + c.subject().to_string() + " (serial " + c.serial_hex() + ")";
}

// The CRL entry for the certificate in the issuer's CRL, checked for
// freshness at `at`. Of several full CRLs of the issuer (each must be signed
// by it), the newest one issued by `at` (highest CRL number, thisUpdate <=
// at) decides, whatever order they are given in: an older CRL neither hides
// a revocation a newer one lists nor makes a current one count as expired.
// Returns the revocation source text and throws for a revoked certificate.
struct CrlVerdict {
  bool matched = false;  // a CRL of this issuer was given and checked
  std::string source;
};

CrlVerdict check_crls(const std::vector<std::vector<std::uint8_t>>& crls, const Certificate& cert,
                      const Certificate& issuer, TimePoint at) {
  CrlVerdict v;
  X509_NAME* issuer_name = X509_get_subject_name(raw(issuer));
  EVP_PKEY* issuer_key = X509_get0_pubkey(raw(issuer));
  const std::string issuer_text = issuer.subject().to_string();
  ossl::X509CrlPtr newest;  // the newest CRL of the issuer with thisUpdate <= at
  std::uint64_t newest_number = 0;
  std::optional<Error> not_yet;  // the first CRL issued after `at`, when no other is
  int crit = 0;
  for (const auto& bytes : crls) {
    const std::vector<std::uint8_t> der = ossl::pem_or_der(bytes, {PEM_STRING_X509_CRL}, "CRL");
    const unsigned char* p = der.data();
    ossl::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
    if (!crl || p != der.data() + der.size()) ossl::fail(ErrorCode::invalid_input, "not a CRL");
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), issuer_name) != 0) continue;
    ossl::Asn1IntegerPtr delta(
        static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_delta_crl, &crit, nullptr)));
    ossl::clear_errors();
    if (delta) continue;  // a delta CRL alone says nothing about what its base lists
    if (issuer_key == nullptr || X509_CRL_verify(crl.get(), issuer_key) != 1) {
      ossl::clear_errors();
      throw Error(ErrorCode::policy, "the CRL given for " + issuer_text +
                                         " is not signed by that CA: get its CRL from the CA");
    }
    ossl::Asn1IntegerPtr number(static_cast<ASN1_INTEGER*>(
        X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, &crit, nullptr)));
    ossl::clear_errors();
    std::uint64_t n = 0;
    if (number) ASN1_INTEGER_get_uint64(&n, number.get());
    const TimePoint this_update = from_asn1_time(X509_CRL_get0_lastUpdate(crl.get()));
    if (this_update > at) {
      if (!not_yet) {
        not_yet = Error(ErrorCode::policy, "CRL " + std::to_string(n) + " of " + issuer_text +
                                               " is not valid yet (thisUpdate " +
                                               format_time(this_update) + ")");
      }
      continue;
    }
    if (!newest || n > newest_number) {
      newest = std::move(crl);
      newest_number = n;
    }
  }
  if (!newest) {
    if (not_yet) throw *not_yet;
    return v;
  }
  X509_CRL* crl = newest.get();
  const std::string name = "CRL " + std::to_string(newest_number) + " of " + issuer_text;
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
  if (next == nullptr) {
    throw Error(ErrorCode::policy, name + " has no nextUpdate: its freshness cannot be known");
  }
  const TimePoint next_update = from_asn1_time(next);
  if (next_update <= at) {
    throw Error(ErrorCode::policy,
                name + " expired at " + format_time(next_update) + ": get the CA's current CRL");
  }
  X509_REVOKED* entry = nullptr;
  if (X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(raw(cert))) == 1 &&
      entry != nullptr) {
    std::string reason = "unspecified";
    ossl::Asn1EnumeratedPtr code(static_cast<ASN1_ENUMERATED*>(
        X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &crit, nullptr)));
    ossl::clear_errors();
    if (code) {
      const long r = ASN1_ENUMERATED_get(code.get());
      if (r >= 0 && r <= 10 && r != 7) {
        reason = std::string(to_string(static_cast<RevocationReason>(r)));
      }
    }
    throw Error(ErrorCode::policy,
                cert_label(cert) + " is revoked (" + reason + ") at " +
                    format_time(from_asn1_time(X509_REVOKED_get0_revocationDate(entry))) +
                    " according to " + name);
  }
  v.matched = true;
  v.source = name;
  return v;
}

}  // namespace

Certificate home_ca_certificate(Home& home, const std::string& ca_name) {
  const auto ca = home.store().find_ca(ca_name);
  if (!ca) throw Error(ErrorCode::not_found, "no CA named '" + ca_name + "' in this home");
  return Certificate::from_der(ca->cert_der);
}

TrustAnchorRecord add_bootstrap_anchor(Home& home, const Certificate& ca, const std::string& name,
                                       const std::string& source, const Clock& clock,
                                       const std::string& actor) {
  const std::string what = "CA certificate " + ca.subject().to_string();
  if (!ca.is_ca()) {
    throw Error(ErrorCode::invalid_input,
                what +
                    " is not a CA certificate (basicConstraints cA is not TRUE): a bootstrap "
                    "anchor is the CA that issued the IDevIDs");
  }
  if (!has_key_cert_sign(ca)) {
    throw Error(ErrorCode::invalid_input,
                what + " has no keyCertSign key usage: it cannot have issued certificates");
  }
  const TimePoint now = clock.now();
  if (now < ca.not_before()) {
    throw Error(ErrorCode::invalid_input,
                what + " is not valid before " + format_time(ca.not_before()));
  }
  if (now > ca.not_after()) {
    throw Error(ErrorCode::invalid_input, what + " expired at " + format_time(ca.not_after()));
  }
  TrustAnchorRecord rec;
  rec.name = name.empty() ? default_anchor_name(ca) : name;
  validate_ca_name(rec.name);
  rec.purpose = "bootstrap";
  rec.subject = ca.subject().to_string();
  rec.der = ca.der();
  rec.sha256 = ca.fingerprint_sha256_hex();
  rec.spki_sha256 = ca.public_key().spki_sha256_hex();
  rec.not_before = ca.not_before();
  rec.not_after = ca.not_after();
  rec.source = source;
  rec.added_at = now;
  home.store().add_trust_anchor(rec, trust_event("trust.add", rec, now, actor));
  return rec;
}

TrustAnchorRecord add_bootstrap_ca(Home& home, const std::string& ca_name, const std::string& name,
                                   const Clock& clock, const std::string& actor) {
  const Certificate cert = home_ca_certificate(home, ca_name);
  return add_bootstrap_anchor(home, cert, name.empty() ? ca_name : name, "ca:" + ca_name, clock,
                              actor);
}

void remove_trust_anchor(Home& home, const std::string& name, const Clock& clock,
                         const std::string& actor) {
  const auto all = home.store().list_trust_anchors();
  const auto it = std::find_if(all.begin(), all.end(),
                               [&](const TrustAnchorRecord& a) { return a.name == name; });
  if (it == all.end()) {
    std::string known;
    for (const auto& a : all) {
      known += known.empty() ? "" : ", ";
      known += a.name;
    }
    throw Error(ErrorCode::not_found, "no trust anchor named '" + name + "'" +
                                          (known.empty() ? std::string(" (there are none)")
                                                         : " (there are: " + known + ")"));
  }
  if (!home.store().remove_trust_anchor(name,
                                        trust_event("trust.remove", *it, clock.now(), actor))) {
    throw Error(ErrorCode::not_found, "no trust anchor named '" + name + "'");
  }
}

std::vector<TrustAnchorRecord> bootstrap_anchors(Home& home) {
  return home.store().list_trust_anchors(std::string_view("bootstrap"));
}

VerifiedDeviceCert verify_device_certificate(Home& home, const Certificate& cert,
                                             const DeviceCertCheck& check) {
  if (check.anchors.empty()) {
    throw Error(ErrorCode::invalid_input, "no trusted CA to check the certificate against");
  }
  const std::string label = cert_label(cert);
  if (cert.is_ca()) {
    throw Error(ErrorCode::policy, label + " is a CA certificate, not a device certificate");
  }

  ossl::X509StorePtr store(ossl::check_ptr(X509_STORE_new(), "X509_STORE_new"));
  for (const auto& a : check.anchors)
    ossl::check(X509_STORE_add_cert(store.get(), raw(a)), "X509_STORE_add_cert");
  ossl::X509StackPtr untrusted(ossl::check_ptr(sk_X509_new_null(), "sk_X509_new_null"));
  for (const auto& c : check.intermediates) {
    X509_up_ref(raw(c));
    if (sk_X509_push(untrusted.get(), raw(c)) <= 0) {
      X509_free(raw(c));
      ossl::fail(ErrorCode::internal, "sk_X509_push");
    }
  }
  ossl::X509StoreCtxPtr ctx(ossl::check_ptr(X509_STORE_CTX_new(), "X509_STORE_CTX_new"));
  ossl::check(X509_STORE_CTX_init(ctx.get(), store.get(), raw(cert), untrusted.get()),
              "X509_STORE_CTX_init");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // Partial chains: an anchor may be an issuing CA without its root (a
  // manufacturer's IDevID CA). Strict: RFC 5280 rules OpenSSL otherwise lets pass.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(check.at.time_since_epoch().count()));
  const int rc = X509_verify_cert(ctx.get());
  if (rc != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
    ossl::clear_errors();
    std::string who = label;
    if (depth > 0 && bad != nullptr) {
      X509_up_ref(bad);
      who = "its issuer " + Certificate::adopt(bad).subject().to_string();
    }
    if (err == X509_V_ERR_CERT_HAS_EXPIRED) {
      const TimePoint na =
          depth > 0 && bad != nullptr ? from_asn1_time(X509_get0_notAfter(bad)) : cert.not_after();
      throw Error(ErrorCode::policy, who + " expired at " + format_time(na));
    }
    if (err == X509_V_ERR_CERT_NOT_YET_VALID) {
      const TimePoint nb = depth > 0 && bad != nullptr ? from_asn1_time(X509_get0_notBefore(bad))
                                                       : cert.not_before();
      throw Error(ErrorCode::policy, who + " is not valid before " + format_time(nb));
    }
    throw Error(ErrorCode::policy, label + " does not chain to a trusted CA (" +
                                       X509_verify_cert_error_string(err) +
                                       (depth > 0 ? " at " + who : std::string()) + ")");
  }

  VerifiedDeviceCert out{cert, {}, {}, {}, {}, {}};
  {
    ossl::X509StackPtr chain(X509_STORE_CTX_get1_chain(ctx.get()));
    if (!chain) ossl::fail(ErrorCode::internal, "X509_STORE_CTX_get1_chain");
    for (int i = 0; i < sk_X509_num(chain.get()); ++i) {
      X509* c = sk_X509_value(chain.get(), i);
      X509_up_ref(c);
      out.chain.push_back(Certificate::adopt(c));
    }
  }
  if (out.chain.size() < 2) {
    throw Error(ErrorCode::policy, label + " is itself a trusted CA certificate");
  }
  out.anchor_sha256 = out.chain.back().fingerprint_sha256_hex();
  out.anchor_subject = out.chain.back().subject().to_string();

  // Revocation of the device certificate. Its issuer is chain[1].
  const Certificate& issuer = out.chain[1];
  const auto issuer_der = issuer.der();
  std::optional<CaRecord> home_ca;
  for (auto& ca : home.store().list_cas()) {
    if (ca.cert_der == issuer_der) {
      home_ca = std::move(ca);
      break;
    }
  }
  if (home_ca) {
    out.home_issuer = home_ca->name;
    out.revocation_source = "store";
    const auto row = home.store().find_cert(home_ca->name, cert.serial_hex());
    if (!row) {
      throw Error(ErrorCode::policy, label + " is signed by CA '" + home_ca->name +
                                         "' of this home but is not in its inventory");
    }
    if (row->status == CertStatus::revoked) {
      const auto r = home.store().find_revocation(home_ca->name, row->serial_hex);
      std::string reason = "unspecified";
      std::string when;
      if (r) {
        reason = std::string(to_string(static_cast<RevocationReason>(r->reason)));
        when = " at " + format_time(r->revoked_at);
      }
      throw Error(ErrorCode::policy, label + " is revoked (" + reason + ")" + when);
    }
    if (row->status != CertStatus::issued && row->status != CertStatus::superseded) {
      throw Error(ErrorCode::policy, label + " was never issued (inventory status " +
                                         std::string(to_string(row->status)) + ")");
    }
    return out;
  }
  const CrlVerdict v = check_crls(check.crls, cert, issuer, check.at);
  if (!v.matched) {
    throw Error(ErrorCode::policy, "no revocation information for " + label + ": its issuer " +
                                       issuer.subject().to_string() +
                                       " is not a CA of this home; pass the issuer's current CRL "
                                       "(--crl FILE)");
  }
  out.revocation_source = v.source;
  return out;
}

}  // namespace pki
