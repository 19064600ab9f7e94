#include <doctest/doctest.h>

#include "pki/csr.hpp"
#include "pki/error.hpp"
#include "test_util.hpp"

using namespace pki;

namespace {
ErrorCode code_of(const std::vector<std::uint8_t>& der, const CsrLimits& limits = {}) {
  try {
    CertificationRequest::parse(der, limits);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal;  // "no error"
}
CsrLimits limits_with(std::size_t max_bytes, std::size_t max_sans) {
  CsrLimits l;
  l.max_bytes = max_bytes;
  l.max_sans = max_sans;
  return l;
}
}  // namespace

TEST_CASE("a good CSR parses, for every key algorithm") {
  for (KeyAlgorithm alg : all_key_algorithms()) {
    if (alg == KeyAlgorithm::rsa_4096) continue;  // slow keygen; rsa-2048/3072 cover RSA
    CAPTURE(to_string(alg));
    const PrivateKey key = PrivateKey::generate(alg);
    const auto der = test::make_csr_der(
        key, test::CsrOptions().with_cn("dev-1").with_sans("DNS:dev-1.example,IP:192.0.2.7"));
    const CertificationRequest csr = CertificationRequest::parse(der);
    CHECK(csr.public_key() == key.public_key());
    CHECK(csr.subject().get("CN") == "dev-1");
    REQUIRE(csr.sans().size() == 2);
    CHECK(csr.sans()[0] == SubjectAltName{SanType::dns, "dev-1.example"});
    CHECK(csr.sans()[1] == SubjectAltName{SanType::ip, "192.0.2.7"});
    CHECK_FALSE(csr.asks_ca());
    CHECK(csr.der() == der);
  }
}

TEST_CASE("PEM input is accepted, and what the CSR asks for is recorded") {
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const auto der = test::make_csr_der(key, test::CsrOptions().with_ca());
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  const unsigned char* p = der.data();
  ossl::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  const std::string pem = ossl::bio_string(bio.get());
  const auto csr =
      CertificationRequest::parse({reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()});
  CHECK(csr.asks_ca());
}

TEST_CASE("CSRs that are refused, and the kind of error") {
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const auto good = test::make_csr_der(key);

  SUBCASE("trailing bytes") {
    auto der = good;
    der.push_back(0);
    CHECK(code_of(der) == ErrorCode::invalid_input);
  }
  SUBCASE("truncated") {
    auto der = good;
    der.resize(der.size() / 2);
    CHECK(code_of(der) == ErrorCode::invalid_input);
  }
  SUBCASE("a flipped signature bit fails proof of possession") {
    auto der = good;
    der[der.size() - 3] ^= 0x01;
    CHECK(code_of(der) == ErrorCode::policy);
  }
  SUBCASE("version 1") {
    CHECK(code_of(test::make_csr_der(key, test::CsrOptions().with_version(1))) ==
          ErrorCode::invalid_input);
  }
  SUBCASE("SHA-1 signature") {
    CHECK(code_of(test::make_csr_der(key, test::CsrOptions().with_md(EVP_sha1()))) ==
          ErrorCode::policy);
  }
  SUBCASE("over the size cap") {
    CHECK(code_of(good, limits_with(good.size() - 1, 64)) == ErrorCode::invalid_input);
  }
  SUBCASE("too many SANs") {
    CHECK(code_of(test::make_csr_der(key, test::CsrOptions().with_sans(
                                              "DNS:a.example,DNS:b.example,DNS:c.example")),
                  limits_with(32 * 1024, 2)) == ErrorCode::invalid_input);
  }
  SUBCASE("RSA 1024") {
    ossl::EvpPkeyPtr small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
    const PrivateKey weak = PrivateKey::adopt(small.get());
    CHECK(code_of(test::make_csr_der(weak)) == ErrorCode::policy);
  }
}

// ---- The parser against OpenSSL's own PKCS#10 decoding ---------------------
// CertificationRequest::parse splits the request itself (d2i_X509_REQ decodes
// the key through the slow provider decoders). The reference below is the
// parser as it was, on d2i_X509_REQ + X509_REQ_verify: for every request, both
// must accept or both refuse with the same ErrorCode, and an accepted request
// must read the same.

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <optional>
#include <set>

#include "cert/general_name.hpp"
#include "name/name_der.hpp"
#include "ossl/der.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Outcome {
  std::optional<ErrorCode> error;  // nullopt: accepted
  std::string message;
  DistinguishedName subject;
  std::vector<SubjectAltName> sans;
  bool ca = false;
  bool cert_sign = false;
  Bytes spki;
  std::string sig_alg;
};

Outcome outcome_of(const CertificationRequest& csr) {
  Outcome o;
  o.subject = csr.subject();
  o.sans = csr.sans();
  o.ca = csr.asks_ca();
  o.cert_sign = csr.asks_cert_sign();
  o.spki = csr.public_key().spki_der();
  o.sig_alg = csr.signature_algorithm();
  return o;
}

Outcome new_parse(const Bytes& der) {
  try {
    return outcome_of(CertificationRequest::parse(der));
  } catch (const Error& e) {
    Outcome o;
    o.error = e.code();
    o.message = e.what();
    return o;
  }
}

// The previous CertificationRequest::parse, kept as the reference.
Outcome reference_parse_or_throw(const Bytes& input) {
  const CsrLimits limits;
  auto bad = [](const std::string& m) { return Error(ErrorCode::invalid_input, "CSR " + m); };
  auto refused = [](const std::string& m) { return Error(ErrorCode::policy, "CSR " + m); };
  Outcome out;
  const Bytes der = ossl::pem_or_der(input, {"CERTIFICATE REQUEST"}, "CSR");
  ossl::check_der_structure(der, "CSR");
  const unsigned char* p = der.data();
  ossl::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) ossl::fail(ErrorCode::invalid_input, "malformed CSR");
  if (X509_REQ_get_version(req.get()) != X509_REQ_VERSION_1) throw bad("version");
  const int sig_nid = X509_REQ_get_signature_nid(req.get());
  out.sig_alg = sig_nid == NID_undef ? "unknown" : OBJ_nid2ln(sig_nid);
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  if (sig_nid == NID_undef || OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid) != 1) {
    throw refused("signature algorithm not supported");
  }
  if (md_nid == NID_md5 || md_nid == NID_sha1 || md_nid == NID_md4 || md_nid == NID_md2 ||
      md_nid == NID_md5_sha1 || md_nid == NID_mdc2 || md_nid == NID_ripemd160) {
    throw refused("weak digest");
  }
  EVP_PKEY* pkey = X509_REQ_get0_pubkey(req.get());
  if (pkey == nullptr) ossl::fail(ErrorCode::invalid_input, "CSR public key cannot be decoded");
  const PublicKey key = PublicKey::adopt(
      pkey,
      ossl::to_der<X509_PUBKEY>(i2d_X509_PUBKEY, X509_REQ_get_X509_PUBKEY(req.get()), "spki"));
  const KeyDescription d = key.describe();
  if (d.explicit_params) throw refused("explicit");
  if (d.type == KeyDescription::Type::rsa && (d.bits < 2048 || d.bits > 4096)) {
    throw refused("rsa size");
  }
  if (d.type == KeyDescription::Type::other) throw refused("key type");
  out.spki = key.spki_der();
  if (X509_REQ_verify(req.get(), pkey) != 1) throw refused("signature does not verify");
  try {
    out.subject = from_x509_name(X509_REQ_get_subject_name(req.get()));
  } catch (const Error& e) {
    throw Error(e.code(), std::string("CSR subject: ") + e.what());
  }
  if (out.subject.validate().has_errors()) throw bad("subject");
  if (X509_REQ_get_attr_by_NID(req.get(), NID_ext_req, -1) >= 0) {
    const int first = X509_REQ_get_attr_by_NID(req.get(), NID_ext_req, -1);
    if (X509_REQ_get_attr_by_NID(req.get(), NID_ext_req, first) >= 0) throw bad("two ext_req");
    ossl::ExtensionStackPtr exts(X509_REQ_get_extensions(req.get()));
    if (!exts) ossl::fail(ErrorCode::invalid_input, "CSR extensionRequest cannot be decoded");
    const int n = sk_X509_EXTENSION_num(exts.get());
    if (static_cast<std::size_t>(n) > limits.max_extensions) throw bad("too many extensions");
    std::set<int> seen_nids;
    std::set<std::string> seen;
    for (int i = 0; i < n; ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
      const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
      char buf[128];
      OBJ_obj2txt(buf, sizeof buf, obj, 1);
      if (!seen.insert(buf).second) throw bad("duplicate extension");
      const int nid = OBJ_obj2nid(obj);
      if (nid == NID_subject_alt_name) {
        ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
        if (!names) ossl::fail(ErrorCode::invalid_input, "SAN");
        if (static_cast<std::size_t>(sk_GENERAL_NAME_num(names.get())) > limits.max_sans) {
          throw bad("too many SANs");
        }
        int unsupported = 0;
        out.sans = from_general_names(names.get(), &unsupported);
        if (unsupported > 0) throw refused("SAN type");
      } else if (nid == NID_basic_constraints) {
        ossl::BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(ext)));
        if (!bc) ossl::fail(ErrorCode::invalid_input, "bc");
        out.ca = bc->ca != 0;
      } else if (nid == NID_key_usage) {
        ossl::Asn1BitStringPtr ku(static_cast<ASN1_BIT_STRING*>(X509V3_EXT_d2i(ext)));
        if (!ku) ossl::fail(ErrorCode::invalid_input, "ku");
        out.cert_sign =
            ASN1_BIT_STRING_get_bit(ku.get(), 5) != 0 || ASN1_BIT_STRING_get_bit(ku.get(), 6) != 0;
      } else if (nid != NID_ext_key_usage && nid != NID_subject_key_identifier &&
                 X509_EXTENSION_get_critical(ext) != 0) {
        throw refused("unknown critical");
      }
    }
  }
  ossl::clear_errors();
  return out;
}

Outcome reference_parse(const Bytes& der) {
  try {
    return reference_parse_or_throw(der);
  } catch (const Error& e) {
    ossl::clear_errors();
    Outcome o;
    o.error = e.code();
    o.message = e.what();
    return o;
  }
}

// Both parsers agree on `der`; returns whether it was accepted.
bool agree(const Bytes& der) {
  const Outcome ref = reference_parse(der);
  const Outcome got = new_parse(der);
  INFO("reference: " << (ref.error ? ref.message : "accepted"));
  INFO("new:       " << (got.error ? got.message : "accepted"));
  INFO("DER: " << ossl::hex(der));
  REQUIRE(ref.error.has_value() == got.error.has_value());
  if (ref.error) {
    CHECK(*ref.error == *got.error);
    return false;
  }
  CHECK(ref.subject == got.subject);
  CHECK(ref.sans == got.sans);
  CHECK(ref.ca == got.ca);
  CHECK(ref.cert_sign == got.cert_sign);
  CHECK(ref.spki == got.spki);
  CHECK(ref.sig_alg == got.sig_alg);
  return true;
}

std::optional<ErrorCode> error_of(const Bytes& der) {
  return new_parse(der).error;
}

// ---- Hand-built requests: DER surgery on what OpenSSL wrote, re-signed ----

Bytes tlv(std::uint8_t tag, const Bytes& content) {
  Bytes out{tag};
  const std::size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    Bytes len;
    for (std::size_t v = n; v > 0; v >>= 8)
      len.insert(len.begin(), static_cast<std::uint8_t>(v & 0xff));
    out.push_back(static_cast<std::uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The TLVs inside the content of the constructed TLV `der` (well-formed input).
std::vector<Bytes> children(const Bytes& der) {
  std::size_t pos = 1;
  std::size_t len = der[pos++];
  if (len >= 0x80) {
    const std::size_t n = len & 0x7f;
    len = 0;
    for (std::size_t i = 0; i < n; ++i)
      len = (len << 8) | der[pos++];
  }
  std::vector<Bytes> out;
  const std::size_t end = pos + len;
  while (pos < end) {
    const std::size_t start = pos++;
    std::size_t l = der[pos++];
    if (l >= 0x80) {
      const std::size_t n = l & 0x7f;
      l = 0;
      for (std::size_t i = 0; i < n; ++i)
        l = (l << 8) | der[pos++];
    }
    pos += l;
    out.emplace_back(der.begin() + static_cast<std::ptrdiff_t>(start),
                     der.begin() + static_cast<std::ptrdiff_t>(pos));
  }
  return out;
}

// A signature over `info` with `key` (DER ECDSA-Sig-Value for EC keys), as a
// BIT STRING with no unused bits.
Bytes sign_bits(const PrivateKey& key, const Bytes& info, const EVP_MD* md) {
  auto* pkey = static_cast<EVP_PKEY*>(key.native_handle());
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool eddsa = EVP_PKEY_is_a(pkey, "ED25519");
  REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, eddsa ? nullptr : md, nullptr, pkey) == 1);
  std::size_t len = 0;
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, info.data(), info.size()) == 1);
  Bytes sig(len + 1, 0);
  REQUIRE(EVP_DigestSign(ctx.get(), sig.data() + 1, &len, info.data(), info.size()) == 1);
  sig.resize(len + 1);
  return tlv(0x03, sig);
}

// A request from CertificationRequestInfo fields, signed by `key`.
struct Parts {
  Bytes version, subject, spki;
  std::optional<Bytes> attributes;  // the whole [0] TLV
  Bytes extra;                      // appended inside the CertificationRequestInfo
  Bytes sig_alg;

  static Parts of(const Bytes& csr) {
    const auto top = children(csr);
    const auto info = children(top[0]);
    Parts p;
    p.version = info[0];
    p.subject = info[1];
    p.spki = info[2];
    if (info.size() > 3) p.attributes = info[3];
    p.sig_alg = top[1];
    return p;
  }
  Bytes info() const {
    return tlv(0x30, cat({version, subject, spki, attributes.value_or(Bytes{}), extra}));
  }
  Bytes signed_by(const PrivateKey& key, const EVP_MD* md = EVP_sha256()) const {
    const Bytes i = info();
    return tlv(0x30, cat({i, sig_alg, sign_bits(key, i, md)}));
  }
};

// An Attribute { type, SET { value } } and the [0] holding some.
Bytes attribute(const Bytes& oid_tlv, const Bytes& value_set_content) {
  return tlv(0x30, cat({oid_tlv, tlv(0x31, value_set_content)}));
}
const Bytes kExtReqOid = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e};
const Bytes kChallengePwOid = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07};

// basicConstraints cA=TRUE, critical, as Extensions.
Bytes extensions_ca() {
  const Bytes bc = {0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01,
                    0xff, 0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff};
  return tlv(0x30, bc);
}

PrivateKey ec_key_with_encoding(const char* curve, const char* encoding, const char* format) {
  ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  REQUIRE(EVP_PKEY_keygen_init(ctx.get()) == 1);
  std::string c = curve, e = encoding, f = format;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, c.data(), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, e.data(), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, f.data(), 0),
      OSSL_PARAM_construct_end(),
  };
  REQUIRE(EVP_PKEY_CTX_set_params(ctx.get(), params) == 1);
  EVP_PKEY* raw = nullptr;
  REQUIRE(EVP_PKEY_generate(ctx.get(), &raw) == 1);
  ossl::EvpPkeyPtr owned(raw);
  return PrivateKey::adopt(owned.get());
}

Bytes rsa_pss_csr(const PrivateKey& key) {
  auto* pkey = static_cast<EVP_PKEY*>(key.native_handle());
  ossl::X509ReqPtr req(X509_REQ_new());
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("pss"), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), pkey);
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  REQUIRE(EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, pkey) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
  REQUIRE(X509_REQ_sign_ctx(req.get(), ctx.get()) > 0);
  return ossl::to_der<X509_REQ>(i2d_X509_REQ, req.get(), "csr");
}

}  // namespace

TEST_CASE("differential: good requests for every key type read as OpenSSL reads them") {
  const PrivateKey p256 = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const PrivateKey p384 = PrivateKey::generate(KeyAlgorithm::ec_p384);
  const PrivateKey ed = PrivateKey::generate(KeyAlgorithm::ed25519);
  const PrivateKey rsa = PrivateKey::generate(KeyAlgorithm::rsa_2048);
  const auto opts = test::CsrOptions().with_cn("dev-7").with_sans(
      "DNS:dev-7.example,IP:192.0.2.7,email:a@b.example,URI:urn:x");
  for (const PrivateKey* key : {&p256, &p384, &ed, &rsa}) {
    for (const EVP_MD* md : {EVP_sha256(), EVP_sha384(), EVP_sha512()}) {
      CAPTURE(EVP_MD_get0_name(md));
      CHECK(agree(test::make_csr_der(*key, test::CsrOptions(opts).with_md(md))));
      CHECK(agree(test::make_csr_der(*key, test::CsrOptions().with_md(md).with_ca())));
      CHECK(agree(test::make_csr_der(*key, test::CsrOptions().with_md(md))));
    }
  }
  // The general decoder's shapes: compressed points, other curves. Accepted
  // as before (the profile decides about P-521).
  CHECK(agree(test::make_csr_der(ec_key_with_encoding("P-256", "named_curve", "compressed"))));
  CHECK(agree(test::make_csr_der(ec_key_with_encoding("P-384", "named_curve", "compressed"))));
  CHECK(agree(test::make_csr_der(ec_key_with_encoding("P-521", "named_curve", "uncompressed"))));
  CHECK_FALSE(agree(test::make_csr_der(ec_key_with_encoding("P-256", "explicit", "uncompressed"))));
  CHECK(agree(rsa_pss_csr(rsa)));
}

TEST_CASE("differential: every byte of a request flipped, truncated or extended") {
  const auto sans = test::CsrOptions().with_sans("DNS:a.example,IP:10.0.0.1").with_ca();
  for (KeyAlgorithm alg : {KeyAlgorithm::ec_p256, KeyAlgorithm::ed25519, KeyAlgorithm::ec_p384}) {
    CAPTURE(to_string(alg));
    const PrivateKey key = PrivateKey::generate(alg);
    const Bytes good = test::make_csr_der(key, sans);
    REQUIRE(agree(good));
    int accepted = 0;
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (std::uint8_t mask : {0x01, 0x80, 0xff}) {
        Bytes der = good;
        der[i] ^= mask;
        accepted += agree(der) ? 1 : 0;
      }
      agree(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(i)));
    }
    for (std::uint8_t b : {0x00, 0x05, 0x30}) {
      Bytes der = good;
      der.push_back(b);
      agree(der);
    }
    MESSAGE(to_string(alg) << ": " << accepted << " of " << good.size() * 3
                           << " one-byte changes still accepted by both");
  }
}

TEST_CASE("differential: requests re-signed after changes to their structure") {
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const Bytes good = test::make_csr_der(key, test::CsrOptions().with_sans("DNS:a.example"));
  const Parts parts = Parts::of(good);
  REQUIRE(agree(parts.signed_by(key)));
  REQUIRE(parts.attributes.has_value());
  const Bytes ext_req_attr = children(*parts.attributes)[0];

  SUBCASE("no attributes field at all: accepted, as OpenSSL does") {
    Parts p = parts;
    p.attributes.reset();
    CHECK(agree(p.signed_by(key)));
  }
  SUBCASE("an empty attributes field") {
    Parts p = parts;
    p.attributes = Bytes{0xa0, 0x00};
    CHECK(agree(p.signed_by(key)));
  }
  SUBCASE("attributes under a wrong tag") {
    Parts p = parts;
    (*p.attributes)[0] = 0xa1;
    CHECK_FALSE(agree(p.signed_by(key)));
    (*p.attributes)[0] = 0x31;
    CHECK_FALSE(agree(p.signed_by(key)));
  }
  SUBCASE("trailing fields after the attributes") {
    Parts p = parts;
    p.extra = {0x05, 0x00};
    CHECK_FALSE(agree(p.signed_by(key)));
    CHECK(error_of(p.signed_by(key)) == ErrorCode::invalid_input);
    p.extra = {0xa0, 0x00};
    CHECK_FALSE(agree(p.signed_by(key)));
  }
  SUBCASE("trailing field after the key, no attributes") {
    Parts p = parts;
    p.attributes.reset();
    p.extra = {0x02, 0x01, 0x00};
    CHECK_FALSE(agree(p.signed_by(key)));
  }
  SUBCASE("two extensionRequest attributes") {
    Parts p = parts;
    p.attributes = tlv(0xa0, cat({ext_req_attr, ext_req_attr}));
    CHECK_FALSE(agree(p.signed_by(key)));
    CHECK(error_of(p.signed_by(key)) == ErrorCode::invalid_input);
  }
  SUBCASE("extensionRequest with no value, a non-SEQUENCE value, two values") {
    Parts p = parts;
    p.attributes = tlv(0xa0, attribute(kExtReqOid, {}));
    CHECK(agree(p.signed_by(key)));
    p.attributes = tlv(0xa0, attribute(kExtReqOid, {0x05, 0x00}));
    CHECK_FALSE(agree(p.signed_by(key)));
    p.attributes = tlv(0xa0, attribute(kExtReqOid, cat({extensions_ca(), tlv(0x30, {})})));
    CHECK(agree(p.signed_by(key)));
    CHECK(CertificationRequest::parse(p.signed_by(key)).asks_ca());
  }
  SUBCASE("other attributes are carried and ignored") {
    Parts p = parts;
    p.attributes = tlv(0xa0, cat({attribute(kChallengePwOid, tlv(0x0c, {'x'})), ext_req_attr}));
    CHECK(agree(p.signed_by(key)));
  }
  SUBCASE("version 1, version 0 in a non-minimal INTEGER, no version") {
    Parts p = parts;
    p.version = {0x02, 0x01, 0x01};
    CHECK_FALSE(agree(p.signed_by(key)));
    CHECK(error_of(p.signed_by(key)) == ErrorCode::invalid_input);
    p.version = {0x02, 0x02, 0x00, 0x00};
    CHECK_FALSE(agree(p.signed_by(key)));
    p.version = {};
    CHECK_FALSE(agree(p.signed_by(key)));
  }
  SUBCASE("a point not on the curve") {
    Parts p = parts;
    p.spki.back() ^= 0x01;
    CHECK_FALSE(agree(p.signed_by(key)));
    CHECK(error_of(p.signed_by(key)) == ErrorCode::invalid_input);
    // x >= p: all-ones coordinates.
    std::fill(p.spki.end() - 64, p.spki.end(), std::uint8_t{0xff});
    CHECK_FALSE(agree(p.signed_by(key)));
    CHECK(error_of(p.signed_by(key)) == ErrorCode::invalid_input);
  }
  SUBCASE("the point with a hybrid (06) or compressed marker, or unused bits in its BIT STRING") {
    Parts p = parts;
    p.spki[26] = 0x06;
    agree(p.signed_by(key));
    p = parts;
    p.spki[25] = 0x01;
    agree(p.signed_by(key));
  }
  SUBCASE("an Ed25519 key with parameters") {
    const PrivateKey ed = PrivateKey::generate(KeyAlgorithm::ed25519);
    Parts p = Parts::of(test::make_csr_der(ed));
    const Bytes raw(p.spki.end() - 32, p.spki.end());
    p.spki = tlv(0x30, cat({tlv(0x30, {0x06, 0x03, 0x2b, 0x65, 0x70, 0x05, 0x00}),
                            tlv(0x03, cat({{0x00}, raw}))}));
    CHECK_FALSE(agree(p.signed_by(ed)));
  }
  SUBCASE("signature algorithm not matching the key") {
    Parts p = parts;
    // sha256WithRSAEncryption, NULL parameters, over an EC key's signature.
    p.sig_alg = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
    CHECK_FALSE(agree(p.signed_by(key)));
    CHECK(error_of(p.signed_by(key)) == ErrorCode::policy);
    // Ed25519 over an EC key.
    p.sig_alg = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
    CHECK_FALSE(agree(p.signed_by(key)));
    // ecdsa-with-SHA384 over a SHA-256 signature.
    p.sig_alg = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
    CHECK_FALSE(agree(p.signed_by(key)));
    // An OID nobody knows.
    p.sig_alg = {0x30, 0x06, 0x06, 0x04, 0x2a, 0x03, 0x04, 0x05};
    CHECK_FALSE(agree(p.signed_by(key)));
  }
  SUBCASE("ECDSA algorithm identifier with NULL parameters: as OpenSSL") {
    Parts p = parts;
    p.sig_alg = {0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48,
                 0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00};
    agree(p.signed_by(key));
  }
  SUBCASE("a corrupted signature, and one with unused bits") {
    Bytes der = parts.signed_by(key);
    der[der.size() - 5] ^= 0x10;
    CHECK_FALSE(agree(der));
    CHECK(error_of(der) == ErrorCode::policy);
    const Bytes i = parts.info();
    Bytes bits = sign_bits(key, i, EVP_sha256());
    bits[2] = 0x01;
    CHECK_FALSE(agree(tlv(0x30, cat({i, parts.sig_alg, bits}))));
  }
  SUBCASE("fields after the signature") {
    const Bytes i = parts.info();
    CHECK_FALSE(agree(
        tlv(0x30, cat({i, parts.sig_alg, sign_bits(key, i, EVP_sha256()), Bytes{0x05, 0x00}}))));
  }
}

TEST_CASE("differential: MD5 and SHA-1 signatures stay refused, with the same message") {
  const PrivateKey ec = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const PrivateKey rsa = PrivateKey::generate(KeyAlgorithm::rsa_2048);
  const Bytes sha1_ec = test::make_csr_der(ec, test::CsrOptions().with_md(EVP_sha1()));
  const Bytes sha1_rsa = test::make_csr_der(rsa, test::CsrOptions().with_md(EVP_sha1()));
  const Bytes md5_rsa = test::make_csr_der(rsa, test::CsrOptions().with_md(EVP_md5()));
  for (const Bytes* der : {&sha1_ec, &sha1_rsa, &md5_rsa}) {
    CHECK_FALSE(agree(*der));
    CHECK(error_of(*der) == ErrorCode::policy);
    CHECK(new_parse(*der).message.find("MD5 and SHA-1 signatures are refused") !=
          std::string::npos);
  }
  CHECK(new_parse(md5_rsa).message.find("signed with md5WithRSAEncryption") != std::string::npos);
  CHECK(new_parse(sha1_ec).message.find("signed with ecdsa-with-SHA1") != std::string::npos);
}

TEST_CASE("a request's key from the fast path is the key OpenSSL decodes") {
  for (KeyAlgorithm alg : {KeyAlgorithm::ec_p256, KeyAlgorithm::ec_p384, KeyAlgorithm::ed25519}) {
    CAPTURE(to_string(alg));
    const PrivateKey key = PrivateKey::generate(alg);
    const CertificationRequest csr = CertificationRequest::parse(test::make_csr_der(key));
    // Canonical SPKI bytes, and the same key under OpenSSL's own encoder.
    const Bytes encoded = ossl::to_der(
        i2d_PUBKEY, static_cast<const EVP_PKEY*>(csr.public_key().native_handle()), "spki");
    CHECK(encoded == csr.public_key().spki_der());
    CHECK(csr.public_key() == key.public_key());
    CHECK(csr.public_key().describe().algorithm() == alg);
    CHECK_FALSE(csr.public_key().describe().explicit_params);
  }
}
