#include "cert/builder.hpp"

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>

#include "cert/asn1_time.hpp"
#include "cert/general_name.hpp"
#include "name/name_der.hpp"
#include "ossl/check.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace {

int key_usage_bit(KeyUsage u) {
  switch (u) {
    case KeyUsage::digital_signature:
      return 0;
    case KeyUsage::non_repudiation:
      return 1;
    case KeyUsage::key_encipherment:
      return 2;
    case KeyUsage::data_encipherment:
      return 3;
    case KeyUsage::key_agreement:
      return 4;
    case KeyUsage::key_cert_sign:
      return 5;
    case KeyUsage::crl_sign:
      return 6;
  }
  return 0;
}

// RFC 5480 3 (EC) and RFC 8410 5 (Ed25519) forbid some bits for some keys;
// RSA keys cannot agree keys. The profile states intent; the key type decides
// which of its bits are meaningful.
bool usage_fits_key(KeyUsage u, KeyDescription::Type type) {
  using T = KeyDescription::Type;
  switch (u) {
    case KeyUsage::key_encipherment:
    case KeyUsage::data_encipherment:
      return type == T::rsa;
    case KeyUsage::key_agreement:
      return type == T::ec;
    default:
      return true;
  }
}

template <class T>
void add_ext(X509* x, int nid, T* value, bool critical, const char* what) {
  ossl::check(X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_APPEND), what);
}

ossl::Asn1OctetStringPtr octets(std::span<const std::uint8_t> bytes) {
  ossl::Asn1OctetStringPtr s(ossl::check_ptr(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new"));
  ossl::check(ASN1_OCTET_STRING_set(s.get(), bytes.data(), static_cast<int>(bytes.size())),
              "ASN1_OCTET_STRING_set");
  return s;
}

ossl::GeneralNamePtr uri_name(const std::string& uri) {
  return to_general_name({SanType::uri, uri});
}

std::optional<int> issuer_path_len(const X509* issuer) {
  const long pl = X509_get_pathlen(const_cast<X509*>(issuer));
  if (pl < 0) return std::nullopt;
  return static_cast<int>(pl);
}

void add_name_constraints(X509* x, const NameConstraintsSpec& spec) {
  ossl::NameConstraintsPtr nc(ossl::check_ptr(NAME_CONSTRAINTS_new(), "NAME_CONSTRAINTS_new"));
  auto fill = [](STACK_OF(GENERAL_SUBTREE) * *stack, const std::vector<SubjectAltName>& names) {
    if (names.empty()) return;
    *stack = ossl::check_ptr(sk_GENERAL_SUBTREE_new_null(), "sk_GENERAL_SUBTREE_new_null");
    for (const auto& n : names) {
      GENERAL_SUBTREE* st = ossl::check_ptr(GENERAL_SUBTREE_new(), "GENERAL_SUBTREE_new");
      GENERAL_NAME_free(st->base);
      st->base = to_constraint_name(n).release();
      if (sk_GENERAL_SUBTREE_push(*stack, st) == 0) {
        GENERAL_SUBTREE_free(st);
        ossl::fail(ErrorCode::crypto, "sk_GENERAL_SUBTREE_push");
      }
    }
  };
  fill(&nc->permittedSubtrees, spec.permitted);
  fill(&nc->excludedSubtrees, spec.excluded);
  // RFC 5280 4.2.1.10: conforming CAs MUST mark this extension as critical.
  add_ext(x, NID_name_constraints, nc.get(), true, "nameConstraints");
}

void add_policies(X509* x, const std::vector<std::string>& oids) {
  ossl::CertPoliciesPtr pols(ossl::check_ptr(sk_POLICYINFO_new_null(), "sk_POLICYINFO_new_null"));
  for (const auto& oid : oids) {
    POLICYINFO* pi = ossl::check_ptr(POLICYINFO_new(), "POLICYINFO_new");
    ASN1_OBJECT_free(pi->policyid);
    pi->policyid = OBJ_txt2obj(oid == "anyPolicy" ? "2.5.29.32.0" : oid.c_str(), 1);
    if (pi->policyid == nullptr || sk_POLICYINFO_push(pols.get(), pi) == 0) {
      POLICYINFO_free(pi);
      ossl::fail(ErrorCode::invalid_input, "invalid certificate policy OID '" + oid + "'");
    }
  }
  add_ext(x, NID_certificate_policies, pols.get(), false, "certificatePolicies");
}

void add_crl_dps(X509* x, const std::vector<std::string>& urls) {
  ossl::CrlDistPointsPtr dps(ossl::check_ptr(sk_DIST_POINT_new_null(), "sk_DIST_POINT_new_null"));
  for (const auto& url : urls) {
    DIST_POINT* dp = ossl::check_ptr(DIST_POINT_new(), "DIST_POINT_new");
    dp->distpoint = DIST_POINT_NAME_new();
    GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
    if (dp->distpoint == nullptr || names == nullptr) {
      GENERAL_NAMES_free(names);
      DIST_POINT_free(dp);
      ossl::fail(ErrorCode::crypto, "DIST_POINT_NAME_new");
    }
    dp->distpoint->type = 0;  // fullName
    dp->distpoint->name.fullname = names;
    sk_GENERAL_NAME_push(names, uri_name(url).release());
    if (sk_DIST_POINT_push(dps.get(), dp) == 0) {
      DIST_POINT_free(dp);
      ossl::fail(ErrorCode::crypto, "sk_DIST_POINT_push");
    }
  }
  add_ext(x, NID_crl_distribution_points, dps.get(), false, "cRLDistributionPoints");
}

void add_aia(X509* x, const std::vector<std::string>& ca_issuers,
             const std::vector<std::string>& ocsp) {
  ossl::AuthorityInfoAccessPtr aia(
      ossl::check_ptr(sk_ACCESS_DESCRIPTION_new_null(), "sk_ACCESS_DESCRIPTION_new_null"));
  auto push = [&](int method_nid, const std::string& url) {
    ACCESS_DESCRIPTION* ad = ossl::check_ptr(ACCESS_DESCRIPTION_new(), "ACCESS_DESCRIPTION_new");
    ASN1_OBJECT_free(ad->method);
    ad->method = OBJ_nid2obj(method_nid);
    GENERAL_NAME_free(ad->location);
    ad->location = uri_name(url).release();
    if (sk_ACCESS_DESCRIPTION_push(aia.get(), ad) == 0) {
      ACCESS_DESCRIPTION_free(ad);
      ossl::fail(ErrorCode::crypto, "sk_ACCESS_DESCRIPTION_push");
    }
  };
  for (const auto& u : ocsp)
    push(NID_ad_OCSP, u);
  for (const auto& u : ca_issuers)
    push(NID_ad_ca_issuers, u);
  add_ext(x, NID_info_access, aia.get(), false, "authorityInfoAccess");
}

// URL templates expanded; a template that starts with a variable is checked
// here, once its value is known (the profile validator could not).
std::vector<std::string> expand_urls(const std::vector<std::string>& templates,
                                     const std::map<std::string, std::string>& vars) {
  std::vector<std::string> out;
  for (const auto& t : templates) {
    std::string url = expand_template(t, vars);
    if (const auto problem = profile_detail::url_problem(url)) {
      throw Error(ErrorCode::invalid_input,
                  "URL '" + url + "' from template '" + t + "': " + *problem);
    }
    out.push_back(std::move(url));
  }
  return out;
}

int time_type_for(TimePoint t) {
  using namespace std::chrono;
  const year y = year_month_day{floor<days>(t)}.year();
  return (y >= year{1950} && y <= year{2049}) ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME;
}

}  // namespace

std::vector<std::uint8_t> random_serial() {
  // 8 bytes of wall-clock nanoseconds, then 8 from the CSPRNG. The time
  // prefix keeps serials of one issuer nearly ordered, so the store's
  // (issuer, serial) index grows at its right edge instead of taking a random
  // page write per certificate (a 1M-device batch would rewrite the index);
  // the 64 random bits are what the CA/Browser Forum asks of a serial and
  // make serials unguessable. Top bit clear until the year 2262.
  std::vector<std::uint8_t> s(16);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  auto t = static_cast<std::uint64_t>(ns);
  for (int i = 7; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t & 0xff);
    t >>= 8;
  }
  do {
    ossl::check(RAND_bytes(s.data() + 8, 8), "RAND_bytes");
    s[0] &= 0x7f;  // positive (RFC 5280 4.1.2.2)
  } while (std::all_of(s.begin(), s.end(), [](std::uint8_t b) { return b == 0; }));
  return s;
}

ossl::X509Ptr build_tbs(const CertificateSpec& spec, const IssuerView& issuer,
                        std::span<const std::uint8_t> serial, Findings& notes) {
  const ProfileSpec& profile = spec.profile;
  auto* pubkey = static_cast<EVP_PKEY*>(spec.public_key.native_handle());
  if (pubkey == nullptr) throw Error(ErrorCode::internal, "certificate spec without a public key");

  ossl::X509Ptr x(ossl::check_ptr(X509_new(), "X509_new"));
  ossl::check(X509_set_version(x.get(), X509_VERSION_3), "X509_set_version");

  ossl::BignumPtr bn(ossl::check_ptr(
      BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr), "BN_bin2bn"));
  ossl::Asn1IntegerPtr serial_int(
      ossl::check_ptr(BN_to_ASN1_INTEGER(bn.get(), nullptr), "BN_to_ASN1_INTEGER"));
  ossl::check(X509_set_serialNumber(x.get(), serial_int.get()), "X509_set_serialNumber");

  ossl::X509NamePtr subject = to_x509_name(spec.subject);
  ossl::check(X509_set_subject_name(x.get(), subject.get()), "X509_set_subject_name");
  ossl::check(
      X509_set_issuer_name(
          x.get(), issuer.cert != nullptr ? X509_get_subject_name(issuer.cert) : subject.get()),
      "X509_set_issuer_name");

  // Validity inside the issuer's (DESIGN.md "check"): a certificate that
  // outlives its CA would stop validating before its own notAfter anyway.
  // The one exception is "no well-defined expiration" (RFC 5280 4.1.2.5,
  // IEEE 802.1AR IDevIDs), which is meant to outlive every date.
  TimePoint not_before = spec.not_before;
  TimePoint not_after = spec.not_after;
  if (issuer.cert != nullptr) {
    const TimePoint inb = from_asn1_time(X509_get0_notBefore(issuer.cert));
    const TimePoint ina = from_asn1_time(X509_get0_notAfter(issuer.cert));
    if (not_before < inb) not_before = inb;
    if (not_after > ina && !is_forever(not_after)) {
      notes.warning("validity.clamped",
                    "notAfter clamped to the issuer's notAfter " + format_time(ina));
      not_after = ina;
    }
  }
  ossl::check(X509_set1_notBefore(x.get(), to_asn1_time(not_before).get()), "X509_set1_notBefore");
  ossl::check(X509_set1_notAfter(x.get(), to_asn1_time(not_after).get()), "X509_set1_notAfter");
  // X509_set_pubkey round-trips the key through OpenSSL 3's provider encoder
  // and decoder (~175 us for P-256); setting the SPKI fields directly would
  // leave the certificate without the decoded key that X509_get0_pubkey and
  // every consumer of native_handle() expect. The mint fast path is where
  // that cost is worth designing away.
  ossl::check(X509_set_pubkey(x.get(), pubkey), "X509_set_pubkey");

  // basicConstraints, always critical here (RFC 5280 4.2.1.9 requires it for CAs).
  ossl::BasicConstraintsPtr bc(ossl::check_ptr(BASIC_CONSTRAINTS_new(), "BASIC_CONSTRAINTS_new"));
  if (profile.is_ca) {
    bc->ca = 0xff;
    std::optional<int> pl = profile.path_len;
    if (issuer.cert != nullptr) {
      if (const auto ipl = issuer_path_len(issuer.cert); ipl && *ipl > 0) {
        // The child may allow at most one level less than its parent.
        if (!pl || *pl > *ipl - 1) {
          notes.warning("path_len.clamped", "pathLenConstraint set to " + std::to_string(*ipl - 1) +
                                                " to fit under the issuer's " +
                                                std::to_string(*ipl));
          pl = *ipl - 1;
        }
      }
    }
    if (pl) {
      bc->pathlen = ossl::check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new");
      ossl::check(ASN1_INTEGER_set(bc->pathlen, *pl), "ASN1_INTEGER_set");
    }
  }
  add_ext(x.get(), NID_basic_constraints, bc.get(), true, "basicConstraints");

  // keyUsage, critical (RFC 5280 4.2.1.3 SHOULD; devpki always).
  const KeyDescription key_desc = spec.public_key.describe();
  const KeyDescription::Type key_type = key_desc.type;
  ossl::Asn1BitStringPtr ku(ossl::check_ptr(ASN1_BIT_STRING_new(), "ASN1_BIT_STRING_new"));
  bool any_usage = false;
  for (KeyUsage u : profile.key_usage) {
    if (!usage_fits_key(u, key_type)) {
      notes.warning("key_usage.adapted", std::string(to_string(u)) +
                                             " left out: it does not apply to a " +
                                             spec.public_key.describe().to_string() + " key");
      continue;
    }
    ossl::check(ASN1_BIT_STRING_set_bit(ku.get(), key_usage_bit(u), 1), "ASN1_BIT_STRING_set_bit");
    any_usage = true;
  }
  if (any_usage) add_ext(x.get(), NID_key_usage, ku.get(), true, "keyUsage");

  if (!profile.extended_key_usage.empty()) {
    ossl::ExtendedKeyUsagePtr eku(
        ossl::check_ptr(sk_ASN1_OBJECT_new_null(), "sk_ASN1_OBJECT_new_null"));
    for (const auto& name : profile.extended_key_usage) {
      ASN1_OBJECT* obj = OBJ_txt2obj(name.c_str(), 0);
      if (obj == nullptr || sk_ASN1_OBJECT_push(eku.get(), obj) == 0) {
        ASN1_OBJECT_free(obj);
        ossl::fail(ErrorCode::invalid_input, "unknown extended key usage '" + name + "'");
      }
    }
    add_ext(x.get(), NID_ext_key_usage, eku.get(), profile.extended_key_usage_critical,
            "extendedKeyUsage");
  }

  // SKI: RFC 5280 4.2.1.2 method (1), SHA-1 of the subjectPublicKey BIT STRING.
  const ASN1_BIT_STRING* spk = X509_get0_pubkey_bitstr(x.get());
  const auto ski =
      ossl::sha1({ASN1_STRING_get0_data(spk), static_cast<std::size_t>(ASN1_STRING_length(spk))});
  add_ext(x.get(), NID_subject_key_identifier, octets(ski).get(), false, "subjectKeyIdentifier");

  // AKI = the issuer's SKI (RFC 5280 4.2.1.1); a root's is its own.
  ossl::AuthorityKeyIdPtr aki(ossl::check_ptr(AUTHORITY_KEYID_new(), "AUTHORITY_KEYID_new"));
  if (issuer.cert != nullptr) {
    const ASN1_OCTET_STRING* iski = X509_get0_subject_key_id(const_cast<X509*>(issuer.cert));
    if (iski == nullptr) {
      throw Error(ErrorCode::policy, "issuer certificate has no subjectKeyIdentifier");
    }
    aki->keyid = ASN1_OCTET_STRING_dup(iski);
  } else {
    aki->keyid = octets(ski).release();
  }
  add_ext(x.get(), NID_authority_key_identifier, aki.get(), false, "authorityKeyIdentifier");

  if (!spec.sans.empty()) {
    ossl::GeneralNamesPtr names(
        ossl::check_ptr(sk_GENERAL_NAME_new_null(), "sk_GENERAL_NAME_new_null"));
    for (const auto& san : spec.sans) {
      auto gn = to_general_name(san);
      ossl::check(sk_GENERAL_NAME_push(names.get(), gn.get()), "sk_GENERAL_NAME_push");
      gn.release();
    }
    // RFC 5280 4.2.1.6: critical when the subject is empty.
    add_ext(x.get(), NID_subject_alt_name, names.get(), spec.subject.empty(), "subjectAltName");
  }

  if (profile.is_ca && !profile.name_constraints.empty()) {
    add_name_constraints(x.get(), profile.name_constraints);
  }
  if (!profile.policies.empty()) add_policies(x.get(), profile.policies);
  if (!profile.crl_distribution_points.empty()) {
    add_crl_dps(x.get(), expand_urls(profile.crl_distribution_points, spec.variables));
  }
  if (!profile.aia.ca_issuers.empty() || !profile.aia.ocsp.empty()) {
    add_aia(x.get(), expand_urls(profile.aia.ca_issuers, spec.variables),
            expand_urls(profile.aia.ocsp, spec.variables));
  }
  return x;
}

Findings lint_tbs(const X509* tbs_const, const IssuerView& issuer) {
  Findings f;
  X509* tbs = const_cast<X509*>(tbs_const);  // OpenSSL getters are not all const-correct
  const X509* iss = issuer.cert != nullptr ? issuer.cert : tbs_const;

  // RFC 5280 4.1.2.2: positive, at most 20 octets; CA/B BR: >= 64 bits of entropy.
  const ASN1_INTEGER* serial = X509_get0_serialNumber(tbs);
  const int serial_len = ASN1_STRING_length(serial);
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER)
    f.error("serial.negative", "serial number is negative");
  if (serial_len > 20) f.error("serial.too_long", "serial number is longer than 20 octets");
  if (serial_len < 8) f.error("serial.too_short", "serial number has fewer than 64 bits");
  if (X509_get_version(tbs) != X509_VERSION_3) f.error("version", "certificate is not version 3");

  const ASN1_TIME* nb = X509_get0_notBefore(tbs);
  const ASN1_TIME* na = X509_get0_notAfter(tbs);
  for (const ASN1_TIME* t : {nb, na}) {
    if (ASN1_STRING_type(t) != time_type_for(from_asn1_time(t))) {
      f.error("validity.encoding",
              "validity time " + format_time(from_asn1_time(t)) +
                  " must be UTCTime through 2049 and GeneralizedTime from 2050");
    }
  }
  if (from_asn1_time(nb) >= from_asn1_time(na))
    f.error("validity.empty", "notBefore is not before notAfter");
  if (issuer.cert != nullptr) {
    if ((from_asn1_time(na) > from_asn1_time(X509_get0_notAfter(issuer.cert)) &&
         !is_forever(from_asn1_time(na))) ||
        from_asn1_time(nb) < from_asn1_time(X509_get0_notBefore(issuer.cert))) {
      f.error("validity.outside_issuer", "validity is not inside the issuer's");
    }
  }

  if (X509_NAME_cmp(X509_get_issuer_name(tbs), X509_get_subject_name(const_cast<X509*>(iss))) !=
      0) {
    f.error("issuer.name", "issuer name differs from the issuer's subject");
  }

  // Extensions: at most one of each (RFC 5280 4.2).
  for (int i = 0; i < X509_get_ext_count(tbs); ++i) {
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(X509_get_ext(tbs, i));
    if (X509_get_ext_by_OBJ(tbs, obj, i) >= 0)
      f.error("extension.duplicate", "an extension appears twice");
  }
  auto critical = [&](int nid) {
    const int idx = X509_get_ext_by_NID(tbs, nid, -1);
    return idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(tbs, idx)) != 0;
  };
  auto present = [&](int nid) { return X509_get_ext_by_NID(tbs, nid, -1) >= 0; };

  // The to-be-signed certificate has no signature yet, so OpenSSL's cached
  // extension getters (X509_get0_subject_key_id, X509_get_extension_flags, ...)
  // consider it invalid: decode each extension explicitly instead.
  auto decode = [&](const X509* cert, int nid) {
    return X509_get_ext_d2i(cert, nid, nullptr, nullptr);
  };
  ossl::Asn1OctetStringPtr ski(
      static_cast<ASN1_OCTET_STRING*>(decode(tbs, NID_subject_key_identifier)));
  ossl::AuthorityKeyIdPtr aki(
      static_cast<AUTHORITY_KEYID*>(decode(tbs, NID_authority_key_identifier)));
  const ASN1_OCTET_STRING* iski = nullptr;
  if (issuer.cert != nullptr) {
    iski = X509_get0_subject_key_id(const_cast<X509*>(issuer.cert));
  } else {
    iski = ski.get();
  }
  if (!ski) f.error("ski.missing", "subjectKeyIdentifier missing");
  if (!aki || aki->keyid == nullptr || iski == nullptr ||
      ASN1_OCTET_STRING_cmp(aki->keyid, iski) != 0) {
    f.error("aki.mismatch", "authorityKeyIdentifier is not the issuer's subjectKeyIdentifier");
  }

  ossl::BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(decode(tbs, NID_basic_constraints)));
  ossl::Asn1BitStringPtr ku(static_cast<ASN1_BIT_STRING*>(decode(tbs, NID_key_usage)));
  const bool is_ca = bc && bc->ca != 0;
  const bool cert_sign = ku && ASN1_BIT_STRING_get_bit(ku.get(), 5) != 0;
  const bool crl_sign = ku && ASN1_BIT_STRING_get_bit(ku.get(), 6) != 0;
  if (present(NID_key_usage) && !critical(NID_key_usage))
    f.error("key_usage.not_critical", "keyUsage is not critical");
  if (is_ca) {
    if (!critical(NID_basic_constraints))
      f.error("basic_constraints.not_critical", "basicConstraints is not critical on a CA");
    if (!cert_sign) f.error("key_usage.ca", "a CA certificate needs keyCertSign");
  } else if (cert_sign || crl_sign) {
    f.error("key_usage.end_entity", "keyCertSign or cRLSign on a certificate that is not a CA");
  }

  if (issuer.cert != nullptr && is_ca) {
    const long ipl = X509_get_pathlen(const_cast<X509*>(issuer.cert));
    const long pl = bc->pathlen != nullptr ? ASN1_INTEGER_get(bc->pathlen) : -1;
    if (ipl == 0)
      f.error("path_len.exceeded",
              "the issuer's pathLenConstraint is 0: it cannot issue CA certificates");
    else if (ipl > 0 && (pl < 0 || pl >= ipl))
      f.error("path_len.exceeded", "pathLenConstraint must be below the issuer's");
  }
  if (!is_ca && present(NID_name_constraints))
    f.error("name_constraints.end_entity", "nameConstraints on an end-entity certificate");

  // RFC 5280 4.1.2.6 / 4.2.1.6: an empty subject needs a critical SAN.
  if (X509_NAME_entry_count(X509_get_subject_name(tbs)) == 0) {
    if (!present(NID_subject_alt_name)) {
      f.error("subject.empty", "the subject is empty and there is no subjectAltName");
    } else if (!critical(NID_subject_alt_name)) {
      f.error("san.not_critical", "subjectAltName must be critical when the subject is empty");
    }
  }

  // Name constraints of every CA above (RFC 5280 4.2.1.10, 6.1.3 (b)).
  // NAME_CONSTRAINTS_check reads the SANs OpenSSL caches on an X509 object.
  // Filling that cache on the TBS itself would also cache a verdict and a
  // fingerprint of the unsigned certificate, so the check runs on a probe
  // holding only the subject and the subjectAltName.
  ossl::X509Ptr probe;
  bool has_dns_san = false;
  for (const X509* ca : issuer.chain) {
    int crit = 0;
    ossl::NameConstraintsPtr nc(
        static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(ca, NID_name_constraints, &crit, nullptr)));
    if (!nc) continue;
    if (!probe) {
      probe.reset(ossl::check_ptr(X509_new(), "X509_new"));
      ossl::check(X509_set_subject_name(probe.get(), X509_get_subject_name(tbs)),
                  "X509_set_subject_name");
      const int idx = X509_get_ext_by_NID(tbs, NID_subject_alt_name, -1);
      if (idx >= 0)
        ossl::check(X509_add_ext(probe.get(), X509_get_ext(tbs, idx), -1), "X509_add_ext");
      X509_check_purpose(probe.get(), -1, 0);
      if (ossl::GeneralNamesPtr sans{
              static_cast<GENERAL_NAMES*>(decode(tbs, NID_subject_alt_name))}) {
        for (const auto& san : from_general_names(sans.get())) {
          has_dns_san = has_dns_san || san.type == SanType::dns;
        }
      }
    }
    int rc = NAME_CONSTRAINTS_check(probe.get(), nc.get());
    // As `openssl verify` does for a leaf: with no DNS SAN, a host-name-like
    // CN is checked against the DNS constraints too.
    if (rc == X509_V_OK && !is_ca && !has_dns_san)
      rc = NAME_CONSTRAINTS_check_CN(probe.get(), nc.get());
    if (rc != X509_V_OK) {
      char cn[256] = {};
      X509_NAME_oneline(X509_get_subject_name(ca), cn, sizeof cn);
      f.error("name_constraints.violated",
              std::string("subject or subjectAltName outside the name constraints of ") + cn +
                  ": " + X509_verify_cert_error_string(rc));
    }
  }
  ossl::clear_errors();
  return f;
}

void sign_tbs(X509* tbs, EVP_PKEY* key, const std::string& digest) {
  const bool no_digest = EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448");
  const EVP_MD* md = no_digest ? nullptr : EVP_get_digestbyname(digest.c_str());
  if (!no_digest && md == nullptr) {
    throw Error(ErrorCode::invalid_input, "unknown signature digest '" + digest + "'");
  }
  if (X509_sign(tbs, key, md) <= 0) ossl::fail(ErrorCode::crypto, "signing the certificate failed");
}

}  // namespace pki
