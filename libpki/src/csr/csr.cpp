#include "pki/csr.hpp"

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cert/general_name.hpp"
#include "csr/spki_fast.hpp"
#include "name/name_der.hpp"
#include "ossl/check.hpp"
#include "ossl/der.hpp"
#include "ossl/handles.hpp"

namespace pki {

namespace {

Error bad(const std::string& msg) {
  return Error(ErrorCode::invalid_input, "CSR " + msg);
}
Error refused(const std::string& msg) {
  return Error(ErrorCode::policy, "CSR " + msg);
}

std::string oid_text(const ASN1_OBJECT* obj) {
  char buf[128];
  OBJ_obj2txt(buf, sizeof buf, obj, 1);
  return buf;
}

// RFC 5280 4.1.1.2 / CA/B BR 7.1.3: MD5 and SHA-1 signatures are not accepted,
// even as proof of possession (a collision lets a forged request pass).
void check_signature_algorithm(int sig_nid, std::string& name) {
  name = sig_nid == NID_undef ? "unknown" : OBJ_nid2ln(sig_nid);
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  if (sig_nid == NID_undef || OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid) != 1) {
    throw refused("signature algorithm " + name + " is not supported");
  }
  if (md_nid == NID_md5 || md_nid == NID_sha1 || md_nid == NID_md4 || md_nid == NID_md2 ||
      md_nid == NID_md5_sha1 || md_nid == NID_mdc2 || md_nid == NID_ripemd160) {
    throw refused("is signed with " + name +
                  ": MD5 and SHA-1 signatures are refused; sign it with SHA-256 or better");
  }
}

void check_key(const PublicKey& key) {
  const KeyDescription d = key.describe();
  if (d.explicit_params) {
    throw refused(
        "key uses explicit EC parameters; only named curves are accepted (RFC 5480 2.1.1)");
  }
  switch (d.type) {
    case KeyDescription::Type::rsa:
      if (d.bits < 2048 || d.bits > 4096) {
        throw refused("key is RSA " + std::to_string(d.bits) +
                      " bits; RSA keys must be 2048 to 4096 bits");
      }
      return;
    case KeyDescription::Type::ec:
    case KeyDescription::Type::ed25519:
      return;
    case KeyDescription::Type::other:
      break;
  }
  throw refused("key type " + d.to_string() + " is not supported (EC, Ed25519 or RSA)");
}

// ---- Decoding -----------------------------------------------------------
// d2i_X509_REQ decodes the public key through OpenSSL 3's provider decoders
// (~110 of its ~130 us for a P-256 request). The request is split here
// instead, each part decoded by the same OpenSSL item d2i_X509_REQ uses for
// it (so the same encodings are accepted), except the SubjectPublicKeyInfo
// of the common key shapes, built directly (csr/spki_fast.hpp).

using X509AttributePtr =
    std::unique_ptr<X509_ATTRIBUTE, ossl::Free<X509_ATTRIBUTE, X509_ATTRIBUTE_free>>;
using X509PubkeyPtr = std::unique_ptr<X509_PUBKEY, ossl::Free<X509_PUBKEY, X509_PUBKEY_free>>;
using Asn1TypePtr = std::unique_ptr<ASN1_TYPE, ossl::Free<ASN1_TYPE, ASN1_TYPE_free>>;

[[noreturn]] void malformed() {
  ossl::fail(ErrorCode::invalid_input, "malformed CSR (not a PKCS#10 CertificationRequest)");
}

using Bytes = std::span<const std::uint8_t>;

// One TLV of DER that ossl::check_der_structure has walked (definite, minimal
// lengths that fit): the bounds checks here are a second line, not the strict
// DER check.
struct Tlv {
  std::uint8_t tag = 0;
  Bytes whole;  // tag, length and content
  Bytes content;
};

class TlvReader {
 public:
  explicit TlvReader(Bytes in) : m_in(in) {}
  bool done() const { return m_pos == m_in.size(); }
  Tlv next() {
    if (m_in.size() - m_pos < 2) malformed();
    const std::size_t start = m_pos;
    Tlv t;
    t.tag = m_in[m_pos++];
    std::size_t len = m_in[m_pos++];
    if (len >= 0x80) {
      const std::size_t n = len & 0x7f;
      if (n == 0 || n > 4 || m_in.size() - m_pos < n) malformed();
      len = 0;
      for (std::size_t i = 0; i < n; ++i)
        len = (len << 8) | m_in[m_pos++];
    }
    if (m_in.size() - m_pos < len) malformed();
    t.content = m_in.subspan(m_pos, len);
    m_pos += len;
    t.whole = m_in.subspan(start, m_pos - start);
    return t;
  }
  // The next TLV, which must carry `tag`.
  Tlv next(std::uint8_t tag) {
    Tlv t = next();
    if (t.tag != tag) malformed();
    return t;
  }

 private:
  Bytes m_in;
  std::size_t m_pos = 0;
};

// d2i of exactly the bytes of one TLV: anything unconsumed is malformed.
template <class Ptr, class T>
Ptr d2i_exact(T* (*d2i)(T**, const unsigned char**, long), Bytes der) {
  const unsigned char* p = der.data();
  Ptr obj(d2i(nullptr, &p, static_cast<long>(der.size())));
  if (!obj || p != der.data() + der.size()) malformed();
  return obj;
}

constexpr std::uint8_t kSequence = 0x30;
constexpr std::uint8_t kInteger = 0x02;
constexpr std::uint8_t kBitString = 0x03;
constexpr std::uint8_t kAttributesTag = 0xa0;  // [0] IMPLICIT SET OF Attribute, constructed

struct Decoded {
  Asn1TypePtr info;  // CertificationRequestInfo as ANY: i2d gives back the exact bytes
  ossl::Asn1IntegerPtr version;
  ossl::X509NamePtr subject;
  Bytes spki;            // within the request's DER
  X509PubkeyPtr pubkey;  // decoded by OpenSSL; empty for the fixed shapes (spki_fast.hpp)
  std::vector<X509AttributePtr> attributes;
  ossl::X509AlgorPtr sig_alg;
  ossl::Asn1BitStringPtr signature;
};

// RFC 2986 4:
//   CertificationRequest ::= SEQUENCE { certificationRequestInfo,
//       signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
//   CertificationRequestInfo ::= SEQUENCE { version INTEGER, subject Name,
//       subjectPKInfo SubjectPublicKeyInfo, attributes [0] Attributes }
// Like OpenSSL, a request without the attributes field is accepted.
Decoded decode(Bytes der) {
  Decoded d;
  TlvReader top(der);
  const Tlv request = top.next(kSequence);
  if (!top.done()) malformed();

  TlvReader fields(request.content);
  const Tlv info = fields.next(kSequence);
  const Tlv sig_alg = fields.next(kSequence);
  const Tlv signature = fields.next(kBitString);
  if (!fields.done()) malformed();

  TlvReader info_fields(info.content);
  d.version = d2i_exact<ossl::Asn1IntegerPtr>(d2i_ASN1_INTEGER, info_fields.next(kInteger).whole);
  d.subject = d2i_exact<ossl::X509NamePtr>(d2i_X509_NAME, info_fields.next(kSequence).whole);
  d.spki = info_fields.next(kSequence).whole;
  if (!info_fields.done()) {
    const Tlv attrs = info_fields.next(kAttributesTag);
    TlvReader items(attrs.content);
    while (!items.done()) {
      d.attributes.push_back(
          d2i_exact<X509AttributePtr>(d2i_X509_ATTRIBUTE, items.next(kSequence).whole));
    }
  }
  if (!info_fields.done()) malformed();

  d.sig_alg = d2i_exact<ossl::X509AlgorPtr>(d2i_X509_ALGOR, sig_alg.whole);
  d.signature = d2i_exact<ossl::Asn1BitStringPtr>(d2i_ASN1_BIT_STRING, signature.whole);
  d.info = d2i_exact<Asn1TypePtr>(d2i_ASN1_TYPE, info.whole);

  // Any key but the fixed shapes: OpenSSL's SubjectPublicKeyInfo decoder, as
  // d2i_X509_REQ ran it. A key it cannot decode leaves the structure decoded
  // and the key empty (reported later by X509_PUBKEY_get0). The fixed shapes
  // are decoded with the other key checks, in parse().
  if (!csr_detail::is_known_spki(d.spki)) {
    d.pubkey = d2i_exact<X509PubkeyPtr>(d2i_X509_PUBKEY, d.spki);
  }
  return d;
}

// What X509_REQ_get_extensions does with the extensionRequest attribute: its
// first value, which must be a SEQUENCE, decoded as Extensions; an empty set
// of values is no extensions.
ossl::ExtensionStackPtr requested_extensions(X509_ATTRIBUTE* attr) {
  const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr, 0);
  if (value == nullptr) return ossl::ExtensionStackPtr(sk_X509_EXTENSION_new_null());
  if (value->type != V_ASN1_SEQUENCE) return nullptr;
  const unsigned char* p = value->value.sequence->data;
  return ossl::ExtensionStackPtr(d2i_X509_EXTENSIONS(nullptr, &p, value->value.sequence->length));
}

}  // namespace

CertificationRequest CertificationRequest::parse(std::span<const std::uint8_t> data,
                                                 const CsrLimits& limits) {
  if (data.size() > limits.max_bytes) {
    throw bad("is " + std::to_string(data.size()) + " bytes, over the limit of " +
              std::to_string(limits.max_bytes));
  }
  CertificationRequest out;
  out.m_der = ossl::pem_or_der(data, {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}, "CSR");
  ossl::check_der_structure(out.m_der, "CSR");
  // Every piece decoded before any check, as d2i_X509_REQ did: a malformed
  // request is reported as such whatever else is wrong with it.
  const Decoded req = decode(out.m_der);

  // RFC 2986 4.1: version is 0 ("v1"); nothing else is defined.
  if (const long v = ASN1_INTEGER_get(req.version.get()); v != X509_REQ_VERSION_1) {
    throw bad("version is " + std::to_string(v) + "; PKCS#10 defines only version 0");
  }
  const ASN1_OBJECT* sig_oid = nullptr;
  X509_ALGOR_get0(&sig_oid, nullptr, nullptr, req.sig_alg.get());
  check_signature_algorithm(OBJ_obj2nid(sig_oid), out.m_sig_alg);

  EVP_PKEY* pkey = nullptr;
  ossl::EvpPkeyPtr fast_key;
  if (!req.pubkey) {
    // Fixed-shape SPKI: its bytes are the canonical DER of the key (what
    // i2d_X509_PUBKEY would write), kept as they are.
    fast_key = csr_detail::decode_known_spki(req.spki);
    pkey = fast_key.get();
    out.m_key = PublicKey::adopt(pkey, {req.spki.begin(), req.spki.end()});
  } else {
    pkey = X509_PUBKEY_get0(req.pubkey.get());
    if (pkey == nullptr) ossl::fail(ErrorCode::invalid_input, "CSR public key cannot be decoded");
    // The SPKI exactly as the request carries it (a template re-encoding, no
    // provider encoder): what the certificate will hold, and hash.
    out.m_key = PublicKey::adopt(pkey, ossl::to_der<X509_PUBKEY>(i2d_X509_PUBKEY, req.pubkey.get(),
                                                                 "CSR SubjectPublicKeyInfo"));
  }
  check_key(out.m_key);

  // Proof of possession: the requester holds the private key. The same call
  // X509_REQ_verify makes (signature algorithm to digest and key type, the key
  // type must match, the BIT STRING must have no unused bits), over the
  // CertificationRequestInfo exactly as received.
  if (ASN1_item_verify_ex(ASN1_ITEM_rptr(ASN1_ANY), req.sig_alg.get(), req.signature.get(),
                          req.info.get(), nullptr, pkey, nullptr, nullptr) != 1) {
    ossl::clear_errors();
    throw refused("signature does not verify: no proof of possession of the private key");
  }

  try {
    out.m_subject = from_x509_name(req.subject.get());
  } catch (const Error& e) {
    throw Error(e.code(), std::string("CSR subject: ") + e.what());
  }
  if (const Findings f = out.m_subject.validate(); f.has_errors()) {
    throw bad("subject: " + f.error_summary());
  }

  X509_ATTRIBUTE* ext_req = nullptr;
  for (const auto& attr : req.attributes) {
    if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr.get())) != NID_ext_req) continue;
    if (ext_req != nullptr) throw bad("has more than one extensionRequest attribute");
    ext_req = attr.get();
  }
  if (ext_req != nullptr) {
    ossl::ExtensionStackPtr exts = requested_extensions(ext_req);
    if (!exts) ossl::fail(ErrorCode::invalid_input, "CSR extensionRequest cannot be decoded");
    const int n = sk_X509_EXTENSION_num(exts.get());
    if (static_cast<std::size_t>(n) > limits.max_extensions) {
      throw bad("requests " + std::to_string(n) + " extensions, over the limit of " +
                std::to_string(limits.max_extensions));
    }
    std::set<std::string> seen;
    for (int i = 0; i < n; ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
      const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
      const std::string oid = oid_text(obj);
      // RFC 5280 4.2: a certificate MUST NOT include more than one instance of
      // a particular extension; a request that does is malformed.
      if (!seen.insert(oid).second) throw bad("requests extension " + oid + " twice");
      const int nid = OBJ_obj2nid(obj);
      const bool critical = X509_EXTENSION_get_critical(ext) != 0;
      switch (nid) {
        case NID_subject_alt_name: {
          ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
          if (!names) ossl::fail(ErrorCode::invalid_input, "CSR subjectAltName cannot be decoded");
          const auto count = static_cast<std::size_t>(sk_GENERAL_NAME_num(names.get()));
          if (count > limits.max_sans) {
            throw bad("requests " + std::to_string(count) +
                      " subject alternative names, over the limit of " +
                      std::to_string(limits.max_sans));
          }
          int unsupported = 0;
          out.m_sans = from_general_names(names.get(), &unsupported);
          if (unsupported > 0) {
            throw refused(
                "requests subject alternative names of a type devpki does not issue "
                "(only dns, ip, email, uri)");
          }
          break;
        }
        case NID_basic_constraints: {
          ossl::BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(ext)));
          if (!bc) ossl::fail(ErrorCode::invalid_input, "CSR basicConstraints cannot be decoded");
          out.m_asks_ca = bc->ca != 0;
          break;
        }
        case NID_key_usage: {
          ossl::Asn1BitStringPtr ku(static_cast<ASN1_BIT_STRING*>(X509V3_EXT_d2i(ext)));
          if (!ku) ossl::fail(ErrorCode::invalid_input, "CSR keyUsage cannot be decoded");
          // RFC 5280 4.2.1.3: keyCertSign is bit 5, cRLSign bit 6.
          out.m_asks_cert_sign = ASN1_BIT_STRING_get_bit(ku.get(), 5) != 0 ||
                                 ASN1_BIT_STRING_get_bit(ku.get(), 6) != 0;
          break;
        }
        case NID_ext_key_usage:
        case NID_subject_key_identifier:
          break;  // ignored: the profile decides them
        default:
          // RFC 5280 4.2: an unrecognised critical extension must be refused.
          if (critical) throw refused("requests unknown critical extension " + oid);
      }
    }
  }
  ossl::clear_errors();
  return out;
}

}  // namespace pki
