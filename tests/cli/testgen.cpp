// devpki-testgen KIND OUT [ARGS...]: writes one deliberately malformed or
// hostile PKCS#10 request for the end-to-end "bad input" tests (chip-cert's
// habit, kept in tests). Each request has a fresh key (P-256 unless the kind
// says otherwise) and is signed with SHA-256 unless the kind says otherwise.
// Output is PEM, except for the kinds about DER encodings.
// Exit codes: 0 written, 1 usage, 2 OpenSSL failure.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ossl/handles.hpp"

namespace {

// The handle types are libpki's own (STYLE.md: one header owns them).
using PkeyPtr = pki::ossl::EvpPkeyPtr;
using PkeyCtxPtr = pki::ossl::EvpPkeyCtxPtr;
using ReqPtr = pki::ossl::X509ReqPtr;
using ExtPtr = pki::ossl::X509ExtensionPtr;
using NamesPtr = pki::ossl::GeneralNamesPtr;
using NamePtr = pki::ossl::GeneralNamePtr;
using BcPtr = pki::ossl::BasicConstraintsPtr;
using BitsPtr = pki::ossl::Asn1BitStringPtr;
using OctetsPtr = pki::ossl::Asn1OctetStringPtr;
using ObjectPtr = pki::ossl::Asn1ObjectPtr;
using ExtStackPtr = pki::ossl::ExtensionStackPtr;
using Bytes = std::vector<unsigned char>;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Every OpenSSL call that can fail goes through here; the message carries the
// drained error queue.
template <class T>
T check(T result, const char* what) {
  if (!result) {
    std::string msg = what;
    while (const unsigned long e = ERR_get_error()) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      msg += std::string("; ") + buf;
    }
    throw std::runtime_error(msg);
  }
  return result;
}

PkeyPtr generate_key(const std::string& alg) {
  if (alg == "ed25519")
    return PkeyPtr(check(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), "Ed25519 keygen"));
  if (alg.rfind("rsa-", 0) == 0) {
    const std::size_t bits = std::stoul(alg.substr(4));
    return PkeyPtr(check(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits), "RSA keygen"));
  }
  // "P-256", "P-521", or "explicit": P-256 written with explicit domain
  // parameters instead of the named-curve OID (RFC 5480 2.1.1 forbids it).
  const bool explicit_params = alg == "explicit";
  std::string curve = explicit_params ? "P-256" : alg;
  std::string encoding = explicit_params ? "explicit" : "named_curve";
  PkeyCtxPtr ctx(
      check(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), "EVP_PKEY_CTX_new_from_name"));
  check(EVP_PKEY_keygen_init(ctx.get()) > 0, "EVP_PKEY_keygen_init");
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, curve.data(), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, encoding.data(), 0),
      OSSL_PARAM_construct_end(),
  };
  check(EVP_PKEY_CTX_set_params(ctx.get(), params) > 0, "EVP_PKEY_CTX_set_params");
  EVP_PKEY* key = nullptr;
  check(EVP_PKEY_generate(ctx.get(), &key) > 0, "EVP_PKEY_generate");
  return PkeyPtr(key);
}

// "dns:a.example", "ip:10.0.0.1", "email:a@b.example", "uri:urn:x"
NamePtr general_name(const std::string& spec) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos) throw UsageError("SAN '" + spec + "': expected TYPE:VALUE");
  const std::string type = spec.substr(0, colon);
  const std::string value = spec.substr(colon + 1);
  if (type == "ip") {
    ASN1_OCTET_STRING* ip = check(a2i_IPADDRESS(value.c_str()), "a2i_IPADDRESS");
    NamePtr gn(check(GENERAL_NAME_new(), "GENERAL_NAME_new"));
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip);
    return gn;
  }
  int gen_type = 0;
  if (type == "dns") {
    gen_type = GEN_DNS;
  } else if (type == "email") {
    gen_type = GEN_EMAIL;
  } else if (type == "uri") {
    gen_type = GEN_URI;
  } else {
    throw UsageError("SAN '" + spec + "': type must be dns, ip, email or uri");
  }
  ASN1_IA5STRING* text = check(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new");
  if (ASN1_STRING_set(text, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(text);
    check(0, "ASN1_STRING_set");
  }
  NamePtr gn(check(GENERAL_NAME_new(), "GENERAL_NAME_new"));
  GENERAL_NAME_set0_value(gn.get(), gen_type, text);
  return gn;
}

ExtPtr san_extension(const std::vector<std::string>& specs) {
  NamesPtr names(check(GENERAL_NAMES_new(), "GENERAL_NAMES_new"));
  for (const auto& s : specs) {
    NamePtr gn = general_name(s);
    check(sk_GENERAL_NAME_push(names.get(), gn.get()), "sk_GENERAL_NAME_push");
    gn.release();
  }
  return ExtPtr(check(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()), "subjectAltName"));
}

ExtPtr ca_true_extension() {
  BcPtr bc(check(BASIC_CONSTRAINTS_new(), "BASIC_CONSTRAINTS_new"));
  bc->ca = 0xff;
  return ExtPtr(check(X509V3_EXT_i2d(NID_basic_constraints, 1, bc.get()), "basicConstraints"));
}

ExtPtr key_cert_sign_extension() {
  BitsPtr ku(check(ASN1_BIT_STRING_new(), "ASN1_BIT_STRING_new"));
  // RFC 5280 4.2.1.3: digitalSignature is bit 0, keyCertSign bit 5.
  check(ASN1_BIT_STRING_set_bit(ku.get(), 0, 1), "ASN1_BIT_STRING_set_bit");
  check(ASN1_BIT_STRING_set_bit(ku.get(), 5, 1), "ASN1_BIT_STRING_set_bit");
  return ExtPtr(check(X509V3_EXT_i2d(NID_key_usage, 1, ku.get()), "keyUsage"));
}

// An extension under a private OID nobody implements, its value `content`.
ExtPtr private_extension(bool critical, const Bytes& content) {
  ObjectPtr oid(check(OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1), "OBJ_txt2obj"));
  OctetsPtr value(check(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new"));
  check(ASN1_OCTET_STRING_set(value.get(), content.data(), static_cast<int>(content.size())),
        "ASN1_OCTET_STRING_set");
  return ExtPtr(
      check(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), critical ? 1 : 0, value.get()),
            "X509_EXTENSION_create_by_OBJ"));
}

struct RequestSpec {
  std::string key = "P-256";
  const EVP_MD* md = EVP_sha256();
  bool has_cn = true;
  std::string cn = "testgen-device";  // raw bytes, stored as UTF8String unchecked
  long version = X509_REQ_VERSION_1;
  std::vector<ExtPtr> extensions;
  // Byte replacements in the DER CertificationRequestInfo, made after OpenSSL
  // encoded it and before it is signed (for what OpenSSL refuses to encode).
  std::vector<std::pair<Bytes, Bytes>> tbs_patches;
};

// X.690 8.1.3: a DER TLV with the definite length form.
Bytes tlv(unsigned char tag, const Bytes& content) {
  Bytes out{tag};
  const std::size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<unsigned char>(n));
  } else {
    Bytes len;
    for (std::size_t v = n; v > 0; v >>= 8)
      len.insert(len.begin(), static_cast<unsigned char>(v));
    out.push_back(static_cast<unsigned char>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

void replace_once(Bytes& data, const Bytes& from, const Bytes& to) {
  const auto it = std::search(data.begin(), data.end(), from.begin(), from.end());
  if (it == data.end() || from.size() != to.size())
    throw std::runtime_error("patch target not found");
  std::copy(to.begin(), to.end(), it);
}

// Signs the (patched) CertificationRequestInfo by hand and assembles
// CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature }
// (RFC 2986 4.2), with the algorithm identifier OpenSSL chose for `req`.
Bytes sign_by_hand(const X509_REQ* req, const Bytes& info, EVP_PKEY* key, const EVP_MD* md) {
  const ASN1_BIT_STRING* old_sig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_REQ_get0_signature(req, &old_sig, &alg);
  unsigned char* alg_der = nullptr;
  const int alg_len = i2d_X509_ALGOR(alg, &alg_der);
  check(alg_len > 0, "i2d_X509_ALGOR");
  const Bytes alg_bytes(alg_der, alg_der + alg_len);
  OPENSSL_free(alg_der);

  pki::ossl::EvpMdCtxPtr ctx(check(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
  check(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) > 0, "EVP_DigestSignInit");
  std::size_t sig_len = 0;
  check(EVP_DigestSign(ctx.get(), nullptr, &sig_len, info.data(), info.size()) > 0,
        "EVP_DigestSign");
  Bytes sig(sig_len + 1, 0x00);  // leading octet: no unused bits in the BIT STRING
  check(EVP_DigestSign(ctx.get(), sig.data() + 1, &sig_len, info.data(), info.size()) > 0,
        "EVP_DigestSign");
  sig.resize(sig_len + 1);

  Bytes body = info;
  body.insert(body.end(), alg_bytes.begin(), alg_bytes.end());
  const Bytes bits = tlv(0x03, sig);
  body.insert(body.end(), bits.begin(), bits.end());
  return tlv(0x30, body);
}

Bytes make_request(RequestSpec& spec) {
  PkeyPtr key = generate_key(spec.key);
  ReqPtr req(check(X509_REQ_new(), "X509_REQ_new"));
  check(X509_REQ_set_version(req.get(), spec.version), "X509_REQ_set_version");
  if (spec.has_cn) {
    // An explicit V_ASN1_UTF8STRING type stores the bytes as given: no
    // length or character checks, so NUL, newline or bad UTF-8 go through.
    const auto* bytes = reinterpret_cast<const unsigned char*>(spec.cn.data());
    check(X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req.get()), NID_commonName,
                                     V_ASN1_UTF8STRING, bytes, static_cast<int>(spec.cn.size()), -1,
                                     0),
          "X509_NAME_add_entry_by_NID");
  }
  check(X509_REQ_set_pubkey(req.get(), key.get()), "X509_REQ_set_pubkey");
  if (!spec.extensions.empty()) {
    ExtStackPtr exts(check(sk_X509_EXTENSION_new_null(), "sk_X509_EXTENSION_new_null"));
    for (auto& e : spec.extensions) {
      check(sk_X509_EXTENSION_push(exts.get(), e.get()), "sk_X509_EXTENSION_push");
      e.release();
    }
    spec.extensions.clear();
    check(X509_REQ_add_extensions(req.get(), exts.get()), "X509_REQ_add_extensions");
  }
  const bool no_digest = EVP_PKEY_is_a(key.get(), "ED25519");
  const EVP_MD* md = no_digest ? nullptr : spec.md;
  check(X509_REQ_sign(req.get(), key.get(), md) > 0, "X509_REQ_sign");
  if (!spec.tbs_patches.empty()) {
    unsigned char* info_der = nullptr;
    const int info_len = i2d_re_X509_REQ_tbs(req.get(), &info_der);
    check(info_len > 0, "i2d_re_X509_REQ_tbs");
    Bytes info(info_der, info_der + info_len);
    OPENSSL_free(info_der);
    for (const auto& [from, to] : spec.tbs_patches)
      replace_once(info, from, to);
    return sign_by_hand(req.get(), info, key.get(), md);
  }
  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req.get(), &der);
  check(len > 0, "i2d_X509_REQ");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Bytes make_request(RequestSpec&& spec) {
  return make_request(spec);
}

// X.690 8.1.3.6: the same SEQUENCE with the indefinite length form (BER):
// 0x30 0x80 <contents> 0x00 0x00. The signed CertificationRequestInfo inside
// is unchanged, so the signature still verifies.
Bytes to_indefinite_length(const Bytes& der) {
  if (der.size() < 2 || der[0] != 0x30) throw std::runtime_error("not a DER SEQUENCE");
  std::size_t header = 2;
  if ((der[1] & 0x80) != 0) header += der[1] & 0x7f;
  Bytes out{0x30, 0x80};
  out.insert(out.end(), der.begin() + static_cast<std::ptrdiff_t>(header), der.end());
  out.push_back(0x00);
  out.push_back(0x00);
  return out;
}

void write_file(const std::string& path, const Bytes& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

void write_pem(const std::string& path, const std::vector<Bytes>& blocks) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  bool ok = true;
  for (const auto& der : blocks) {
    ok = ok &&
         PEM_write(f, "CERTIFICATE REQUEST", "", der.data(), static_cast<long>(der.size())) > 0;
  }
  ok = std::fclose(f) == 0 && ok;
  check(ok, "PEM_write");
}

std::vector<std::string> many_dns_names(int count) {
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i)
    out.push_back("dns:d" + std::to_string(i) + ".x.example");
  return out;
}

constexpr const char* kUsage =
    "usage: devpki-testgen KIND OUT.csr [ARGS...]\n"
    "kinds (P-256 key and SHA-256 unless stated; PEM unless stated):\n"
    "  good                   a valid request, CN=testgen-device\n"
    "  empty                  empty subject, no extensions\n"
    "  san SPEC...            SANs: dns:NAME ip:ADDR email:ADDR uri:URI\n"
    "  cn VALUE               CN with exactly these bytes (UTF8String, unchecked)\n"
    "  nul-cn newline-cn      CN \"a\\0b\" / \"a\\nb\"\n"
    "  bad-utf8               CN bytes C3 28 (invalid UTF-8)\n"
    "  long-cn                CN of 65 characters\n"
    "  version1               version field 1 (PKCS#10 defines only 0)\n"
    "  bad-pop                one bit of the signature flipped\n"
    "  dup-ext                two subjectAltName extensions\n"
    "  many-sans [N]          N (default 1000) dNSName SANs\n"
    "  oversize               a 33000-byte private extension (over the 32 KiB cap)\n"
    "  ca-true                basicConstraints CA:TRUE, critical\n"
    "  keycertsign            keyUsage digitalSignature + keyCertSign\n"
    "  unknown-critical       critical extension 1.3.6.1.4.1.99999.1\n"
    "  sha1 md5               signed with SHA-1 / MD5 (md5: RSA-2048 key, no ECDSA-MD5 OID)\n"
    "  p521 ed25519 explicit-ec rsa1024 rsa2048 rsa4200   key types\n"
    "  der der-trailing der-truncated ber-indefinite      DER (+2 bytes / cut / BER)\n"
    "  two-pem                two PEM blocks in one file\n";

int run(int argc, char** argv) {
  if (argc < 3) throw UsageError("missing arguments");
  const std::string kind = argv[1];
  const std::string out = argv[2];
  const std::vector<std::string> args(argv + 3, argv + argc);
  auto no_args = [&] {
    if (!args.empty()) throw UsageError("kind '" + kind + "' takes no arguments");
  };

  // Kinds about the encoding: a valid request, re-encoded.
  if (kind == "der" || kind == "der-trailing" || kind == "der-truncated" ||
      kind == "ber-indefinite") {
    no_args();
    Bytes der = make_request(RequestSpec{});
    if (kind == "der-trailing") der.insert(der.end(), {0xde, 0xad});
    if (kind == "der-truncated") der.resize(der.size() / 2);
    if (kind == "ber-indefinite") der = to_indefinite_length(der);
    write_file(out, der);
    return 0;
  }
  if (kind == "two-pem") {
    no_args();
    write_pem(out, {make_request(RequestSpec{}), make_request(RequestSpec{})});
    return 0;
  }

  RequestSpec spec;
  if (kind == "san") {
    if (args.empty()) throw UsageError("san needs at least one TYPE:VALUE");
    spec.extensions.push_back(san_extension(args));
  } else if (kind == "cn") {
    if (args.size() != 1) throw UsageError("cn takes one VALUE");
    spec.cn = args[0];
  } else if (kind == "many-sans") {
    if (args.size() > 1) throw UsageError("many-sans takes at most one count");
    spec.extensions.push_back(
        san_extension(many_dns_names(args.empty() ? 1000 : std::stoi(args[0]))));
  } else {
    no_args();
    if (kind == "good" || kind == "bad-pop") {
    } else if (kind == "empty") {
      spec.has_cn = false;
    } else if (kind == "nul-cn") {
      spec.cn = std::string("a\0b", 3);
    } else if (kind == "newline-cn") {
      spec.cn = "a\nb";
    } else if (kind == "bad-utf8") {
      // OpenSSL will not encode (or decode) a UTF8String that is not UTF-8:
      // encode a valid "\xC3\xA9" and replace its second octet in the DER.
      spec.cn = "\xC3\xA9";
      spec.tbs_patches.push_back({{0x0c, 0x02, 0xc3, 0xa9}, {0x0c, 0x02, 0xc3, 0x28}});
    } else if (kind == "long-cn") {
      spec.cn = std::string(65, 'a');
    } else if (kind == "version1") {
      spec.version = 1;
    } else if (kind == "dup-ext") {
      spec.extensions.push_back(san_extension({"dns:a.x.example"}));
      spec.extensions.push_back(san_extension({"dns:b.x.example"}));
    } else if (kind == "oversize") {
      spec.extensions.push_back(private_extension(false, Bytes(33000, 0x41)));
    } else if (kind == "ca-true") {
      spec.extensions.push_back(ca_true_extension());
    } else if (kind == "keycertsign") {
      spec.extensions.push_back(key_cert_sign_extension());
    } else if (kind == "unknown-critical") {
      spec.extensions.push_back(private_extension(true, {0x05, 0x00}));  // DER NULL
    } else if (kind == "sha1") {
      spec.md = EVP_sha1();
    } else if (kind == "md5") {
      // There is no ECDSA-with-MD5 OID; md5WithRSAEncryption is the one MD5
      // signature a CSR can carry.
      spec.key = "rsa-2048";
      spec.md = EVP_md5();
    } else if (kind == "p521") {
      spec.key = "P-521";
    } else if (kind == "ed25519") {
      spec.key = "ed25519";
    } else if (kind == "explicit-ec") {
      spec.key = "explicit";
    } else if (kind == "rsa1024" || kind == "rsa2048" || kind == "rsa4200") {
      spec.key = "rsa-" + kind.substr(3);
    } else {
      throw UsageError("unknown kind '" + kind + "'");
    }
  }
  Bytes der = make_request(spec);
  // The signature BIT STRING ends the DER, and its last octet is the low
  // octet of an INTEGER (ECDSA s): flipping its low bit keeps the encoding valid.
  if (kind == "bad-pop") der.back() ^= 0x01;
  write_pem(out, {der});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "devpki-testgen: " << e.what() << "\n" << kUsage;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "devpki-testgen: error: " << e.what() << "\n";
    return 2;
  }
}
