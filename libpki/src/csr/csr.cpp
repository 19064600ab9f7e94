#include "pki/csr.hpp"

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <set>
#include <string>

#include "cert/general_name.hpp"
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
void check_signature_algorithm(const X509_REQ* req, std::string& name) {
  const int sig_nid = X509_REQ_get_signature_nid(req);
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
  const unsigned char* p = out.m_der.data();
  ossl::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(out.m_der.size())));
  if (!req)
    ossl::fail(ErrorCode::invalid_input, "malformed CSR (not a PKCS#10 CertificationRequest)");

  // RFC 2986 4.1: version is 0 ("v1"); nothing else is defined.
  if (const long v = X509_REQ_get_version(req.get()); v != X509_REQ_VERSION_1) {
    throw bad("version is " + std::to_string(v) + "; PKCS#10 defines only version 0");
  }
  check_signature_algorithm(req.get(), out.m_sig_alg);

  EVP_PKEY* pkey = X509_REQ_get0_pubkey(req.get());
  if (pkey == nullptr) ossl::fail(ErrorCode::invalid_input, "CSR public key cannot be decoded");
  // The SPKI exactly as the request carries it (a template re-encoding, no
  // provider encoder): what the certificate will hold, and hash.
  out.m_key = PublicKey::adopt(
      pkey, ossl::to_der<X509_PUBKEY>(i2d_X509_PUBKEY, X509_REQ_get_X509_PUBKEY(req.get()),
                                      "CSR SubjectPublicKeyInfo"));
  check_key(out.m_key);

  // Proof of possession: the requester holds the private key.
  if (X509_REQ_verify(req.get(), pkey) != 1) {
    ossl::clear_errors();
    throw refused("signature does not verify: no proof of possession of the private key");
  }

  try {
    out.m_subject = from_x509_name(X509_REQ_get_subject_name(req.get()));
  } catch (const Error& e) {
    throw Error(e.code(), std::string("CSR subject: ") + e.what());
  }
  if (const Findings f = out.m_subject.validate(); f.has_errors()) {
    throw bad("subject: " + f.error_summary());
  }

  if (X509_REQ_get_attr_by_NID(req.get(), NID_ext_req, -1) >= 0) {
    const int first = X509_REQ_get_attr_by_NID(req.get(), NID_ext_req, -1);
    if (X509_REQ_get_attr_by_NID(req.get(), NID_ext_req, first) >= 0) {
      throw bad("has more than one extensionRequest attribute");
    }
    ossl::ExtensionStackPtr exts(X509_REQ_get_extensions(req.get()));
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
