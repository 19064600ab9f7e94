// Certificates assembled from the DER pieces of a prototype (fastpath.hpp).
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "cert/asn1_time.hpp"
#include "cert/builder.hpp"
#include "cert/general_name.hpp"
#include "fastpath/der_writer.hpp"
#include "fastpath/fastpath.hpp"
#include "name/attribute_type.hpp"
#include "ossl/check.hpp"

namespace pki::fastpath {

namespace {

using Bytes = der::Bytes;
using Buffer = std::vector<std::uint8_t>;

constexpr std::array<std::uint8_t, 3> kOidSki{0x55, 0x1d, 0x0e};  // 2.5.29.14
constexpr std::array<std::uint8_t, 3> kOidSan{0x55, 0x1d, 0x11};  // 2.5.29.17
constexpr std::array<std::uint8_t, 3> kCritical{0x01, 0x01, 0xff};
constexpr std::size_t kSha1Len = 20;
// Largest signature sign() handles: RSA 8192 (devpki's largest CA key is RSA 4096).
constexpr std::size_t kMaxSignature = 1024;

bool equal(Bytes a, Bytes b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

[[noreturn]] void untemplatable(const std::string& why) {
  throw Error(ErrorCode::internal, "profile cannot be templated: " + why);
}

// The TBSCertificate fields (RFC 5280 4.1), each as its whole TLV.
struct SplitTbs {
  struct Extension {
    Bytes oid;    // OBJECT IDENTIFIER content
    Bytes whole;  // the Extension SEQUENCE
  };
  Bytes version, serial, sigalg, issuer, validity, subject, spki;
  std::vector<Extension> extensions;
};

SplitTbs split_tbs(Bytes tbs) {
  constexpr std::string_view what = "prototype TBSCertificate";
  Bytes in = tbs;
  Bytes body = der::expect(in, 0x30, what).content;
  if (!in.empty()) throw Error(ErrorCode::internal, "prototype TBSCertificate: trailing bytes");
  SplitTbs s;
  s.version = der::expect(body, 0xa0, what).whole;
  s.serial = der::expect(body, 0x02, what).whole;
  s.sigalg = der::expect(body, 0x30, what).whole;
  s.issuer = der::expect(body, 0x30, what).whole;
  s.validity = der::expect(body, 0x30, what).whole;
  s.subject = der::expect(body, 0x30, what).whole;
  s.spki = der::expect(body, 0x30, what).whole;
  Bytes exts_outer = der::expect(body, 0xa3, what).content;
  if (!body.empty()) throw Error(ErrorCode::internal, "prototype TBSCertificate: unexpected field");
  Bytes exts = der::expect(exts_outer, 0x30, what).content;
  while (!exts.empty()) {
    const der::Tlv ext = der::expect(exts, 0x30, what);
    Bytes inner = ext.content;
    s.extensions.push_back({der::expect(inner, 0x06, what).content, ext.whole});
  }
  return s;
}

std::string oid_text(Bytes content) {
  Buffer tlv;
  der::put_tlv(tlv, 0x06, content);
  const unsigned char* p = tlv.data();
  ossl::Asn1ObjectPtr obj(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(tlv.size())));
  std::array<char, 128> buf{};
  if (!obj || OBJ_obj2txt(buf.data(), static_cast<int>(buf.size()), obj.get(), 0) <= 0) {
    ossl::clear_errors();
    return "an extension";
  }
  return buf.data();
}

// The subjectPublicKey BIT STRING value without its unused-bits octet: what
// X509_get0_pubkey_bitstr() gives build_tbs for the SKI.
Bytes public_key_bits(Bytes spki) {
  constexpr std::string_view what = "SubjectPublicKeyInfo";
  Bytes in = spki;
  Bytes body = der::expect(in, 0x30, what).content;
  if (!in.empty()) throw Error(ErrorCode::invalid_input, "SubjectPublicKeyInfo: trailing bytes");
  der::expect(body, 0x30, what);
  const Bytes bits = der::expect(body, 0x03, what).content;
  if (!body.empty() || bits.empty() || bits[0] != 0) {
    throw Error(ErrorCode::invalid_input, "SubjectPublicKeyInfo: malformed subjectPublicKey");
  }
  return bits.subspan(1);
}

// Name DER exactly as to_x509_name + i2d_X509_NAME write it: one RDN per
// attribute, each value stored in its type's fixed string type.
Buffer encode_name(const DistinguishedName& name) {
  struct Atv {
    Bytes oid;
    std::uint8_t tag;
    Bytes value;
    std::size_t atv_len;  // content of the AttributeTypeAndValue SEQUENCE
  };
  std::vector<Atv> atvs;
  atvs.reserve(name.attributes().size());
  std::size_t content = 0;
  for (const auto& a : name.attributes()) {
    const AttributeType* t = find_attribute_type(a.type);
    // Types devpki does not know take the name module's own route (rare).
    if (t == nullptr) return name.to_der();
    const ASN1_OBJECT* obj = OBJ_nid2obj(t->nid);
    if (obj == nullptr) return name.to_der();
    const std::uint8_t tag = t->charset == NameCharset::printable ? V_ASN1_PRINTABLESTRING
                             : t->charset == NameCharset::ia5     ? V_ASN1_IA5STRING
                                                                  : V_ASN1_UTF8STRING;
    const Bytes oid(OBJ_get0_data(obj), OBJ_length(obj));
    const Bytes value(reinterpret_cast<const std::uint8_t*>(a.value.data()), a.value.size());
    const std::size_t atv = der::tlv_size(oid.size()) + der::tlv_size(value.size());
    atvs.push_back({oid, tag, value, atv});
    content += der::tlv_size(der::tlv_size(atv));
  }
  Buffer out;
  out.reserve(der::tlv_size(content));
  der::put_header(out, 0x30, content);
  for (const Atv& a : atvs) {
    der::put_header(out, 0x31, der::tlv_size(a.atv_len));
    der::put_header(out, 0x30, a.atv_len);
    der::put_tlv(out, 0x06, a.oid);
    der::put_tlv(out, a.tag, a.value);
  }
  return out;
}

// GeneralNames content (the names, without the SEQUENCE header) as
// to_general_name + i2d_GENERAL_NAMES write it (RFC 5280 4.2.1.6).
Buffer encode_general_names(const std::vector<SubjectAltName>& sans) {
  Buffer out;
  for (const auto& san : sans) {
    if (const std::string err = san_syntax_error(san); !err.empty()) {
      throw Error(ErrorCode::invalid_input, err);
    }
    const Bytes text(reinterpret_cast<const std::uint8_t*>(san.value.data()), san.value.size());
    switch (san.type) {
      case SanType::email:  // [1] IA5String
        der::put_tlv(out, 0x81, text);
        break;
      case SanType::dns:  // [2] IA5String
        der::put_tlv(out, 0x82, text);
        break;
      case SanType::uri:  // [6] IA5String
        der::put_tlv(out, 0x86, text);
        break;
      case SanType::ip: {  // [7] OCTET STRING, 4 or 16 octets
        // The parser to_general_name uses, so both paths read the text alike.
        const ossl::Asn1OctetStringPtr ip(a2i_IPADDRESS(san.value.c_str()));
        if (!ip) {
          ossl::clear_errors();
          throw Error(ErrorCode::invalid_input, "invalid IP address '" + san.value + "'");
        }
        der::put_tlv(out, 0x87,
                     {ASN1_STRING_get0_data(ip.get()),
                      static_cast<std::size_t>(ASN1_STRING_length(ip.get()))});
        break;
      }
    }
  }
  return out;
}

Buffer tbs_der(X509* x) {
  unsigned char* buf = nullptr;
  const int len = i2d_re_X509_tbs(x, &buf);
  if (len <= 0) ossl::fail(ErrorCode::crypto, "encoding the TBSCertificate");
  ossl::OpensslBytesPtr owner(buf);
  return Buffer(buf, buf + len);
}

// One piece of the extensions: fixed bytes, or where the per-device SKI or
// SAN extension goes.
struct Piece {
  enum class Kind { fixed, ski, san };
  Kind kind = Kind::fixed;
  Buffer bytes;  // fixed only
};

// The extensions of one probe in order, SKI and SAN as markers.
std::vector<Piece> pieces_of(const SplitTbs& s) {
  std::vector<Piece> out;
  for (const auto& e : s.extensions) {
    if (equal(e.oid, kOidSki)) {
      out.push_back({Piece::Kind::ski, {}});
    } else if (equal(e.oid, kOidSan)) {
      out.push_back({Piece::Kind::san, {}});
    } else {
      out.push_back({Piece::Kind::fixed, Buffer(e.whole.begin(), e.whole.end())});
    }
  }
  return out;
}

std::vector<Piece> without_san(std::vector<Piece> p) {
  std::erase_if(p, [](const Piece& x) { return x.kind == Piece::Kind::san; });
  return p;
}

bool has_san(const std::vector<Piece>& p) {
  return std::any_of(p.begin(), p.end(), [](const Piece& x) { return x.kind == Piece::Kind::san; });
}

// Adjacent fixed extensions become one piece: fewer copies per device.
std::vector<Piece> merged(const std::vector<Piece>& in) {
  std::vector<Piece> out;
  for (const Piece& p : in) {
    if (p.kind == Piece::Kind::fixed && !out.empty() && out.back().kind == Piece::Kind::fixed) {
      der::put(out.back().bytes, p.bytes);
    } else {
      out.push_back(p);
    }
  }
  return out;
}

IssuerView view_of(const std::vector<Certificate>& chain) {
  IssuerView v;
  v.cert = static_cast<const X509*>(chain.front().native_handle());
  for (const auto& c : chain)
    v.chain.push_back(static_cast<const X509*>(c.native_handle()));
  return v;
}

bool is_eddsa(EVP_PKEY* key) {
  return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448");
}

}  // namespace

struct CertTemplate::Impl {
  std::shared_ptr<const Signer> signer;  // keeps the CA key alive
  EVP_PKEY* ca_key = nullptr;
  std::vector<Certificate> chain;
  IssuerView view;
  CertificateSpec prototype;
  std::string digest;  // for EVP_DigestSignInit_ex; empty for EdDSA (no digest)

  Buffer version;  // [0] INTEGER 2
  Buffer sigalg;   // signature AlgorithmIdentifier (TBS and Certificate)
  Buffer issuer_validity;
  std::vector<Piece> extensions;
  std::size_t fixed_extension_bytes = 0;

  TimePoint not_before{};
  TimePoint not_after{};
  Findings warnings;
  KeyAlgorithm algorithm{};

  // The built-and-signed TBSCertificate DER the slow way (the prototype
  // probes and slow_tbs()).
  Buffer slow(const CertificateSpec& spec, Bytes serial, Findings& notes, bool lint = false) const {
    ossl::X509Ptr x = build_tbs(spec, view, serial, notes);
    if (lint) {
      Findings f = lint_tbs(x.get(), view);
      if (f.has_errors()) {
        throw Error(ErrorCode::policy, "certificate refused: " + f.error_summary());
      }
      notes.append(f);
    }
    // Signing sets the signature AlgorithmIdentifier exactly as
    // Authority::sign would (no other way to learn it for every key type).
    sign_tbs(x.get(), ca_key, prototype.profile.signature_digest);
    return tbs_der(x.get());
  }
};

CertTemplate::CertTemplate(const Authority& ca, const CertificateSpec& prototype)
    : m(std::make_unique<Impl>()) {
  Impl& t = *m;
  t.signer = ca.m_signer;
  t.ca_key = static_cast<EVP_PKEY*>(t.signer->native_handle());
  t.chain = ca.chain();
  t.view = view_of(t.chain);
  t.prototype = prototype;
  if (!is_eddsa(t.ca_key)) t.digest = prototype.profile.signature_digest;
  if (static_cast<std::size_t>(EVP_PKEY_get_size(t.ca_key)) > kMaxSignature) {
    untemplatable("the CA key's signatures are too large");
  }
  const auto alg = prototype.public_key.describe().algorithm();
  if (!alg) {
    throw Error(ErrorCode::invalid_input, "prototype key is not one devpki issues for: " +
                                              prototype.public_key.describe().to_string());
  }
  t.algorithm = *alg;

  // Probe A: the prototype, built and checked as Authority::draft does.
  const Buffer serial_a = random_serial();
  const Buffer tbs_a = t.slow(prototype, serial_a, t.warnings, true);

  // Probe B: another device. It always has SANs, which shows where the SAN
  // extension goes when the prototype has none. A fresh key for every type
  // but RSA (seconds for RSA 4096; only the key's type shapes the other
  // extensions, and the SKI is found by its OID, not by a difference).
  // {device_id} changes too, so that a CRL or AIA URL naming the device
  // shows up as an extension that varies.
  CertificateSpec b = prototype;
  b.subject = DistinguishedName({{"O", "devpki template probe"}, {"CN", "probe-b"}});
  std::optional<DeviceKey> key_b;
  if (t.algorithm == KeyAlgorithm::ec_p256 || t.algorithm == KeyAlgorithm::ec_p384 ||
      t.algorithm == KeyAlgorithm::ed25519) {
    key_b = KeyGenerator(t.algorithm).generate();
    b.public_key = PublicKey::adopt(key_b->key.get(), key_b->spki_der);
  }
  b.sans = {{SanType::dns, "probe-b.template.invalid"}, {SanType::ip, "192.0.2.1"}};
  if (auto it = b.variables.find("device_id"); it != b.variables.end()) {
    it->second += "-probe-b";
  }
  Buffer serial_b = random_serial();
  serial_b.resize(9);  // a different length as well
  Findings notes_b;
  const Buffer tbs_b = t.slow(b, serial_b, notes_b);

  const SplitTbs a = split_tbs(tbs_a);
  const SplitTbs sb = split_tbs(tbs_b);
  if (!equal(a.version, sb.version)) untemplatable("version differs between devices");
  if (!equal(a.sigalg, sb.sigalg)) untemplatable("signature algorithm differs between devices");
  if (!equal(a.issuer, sb.issuer)) untemplatable("issuer differs between devices");
  if (!equal(a.validity, sb.validity)) untemplatable("validity differs between devices");

  const std::vector<Piece> pa = pieces_of(a);
  const std::vector<Piece> pb = pieces_of(sb);
  const std::vector<Piece> fa = without_san(pa);
  const std::vector<Piece> fb = without_san(pb);
  if (fa.size() != fb.size()) untemplatable("the extensions differ between devices");
  for (std::size_t i = 0; i < fa.size(); ++i) {
    if (fa[i].kind != fb[i].kind || fa[i].bytes != fb[i].bytes) {
      // Name the extension by its OID.
      std::size_t seen = 0;
      std::string name = "an extension";
      for (const auto& e : a.extensions) {
        if (equal(e.oid, kOidSan)) continue;
        if (seen++ == i) name = oid_text(e.oid);
      }
      untemplatable(name + " differs between devices");
    }
  }
  if (std::count_if(pb.begin(), pb.end(),
                    [](const Piece& p) { return p.kind == Piece::Kind::ski; }) != 1 ||
      !has_san(pb)) {
    untemplatable("no subjectKeyIdentifier or subjectAltName where expected");
  }
  if (has_san(pa)) {
    for (std::size_t i = 0; i < pa.size(); ++i) {
      if (pa[i].kind != pb[i].kind) untemplatable("subjectAltName moves between devices");
    }
  }

  t.version.assign(a.version.begin(), a.version.end());
  t.sigalg.assign(a.sigalg.begin(), a.sigalg.end());
  t.issuer_validity.assign(a.issuer.begin(), a.validity.end());
  t.extensions = merged(pb);
  for (const Piece& p : t.extensions)
    t.fixed_extension_bytes += p.bytes.size();

  {
    // Validity as built (the issuer's clamp applied), read back from the DER.
    Bytes in = a.validity;
    Bytes validity = der::expect(in, 0x30, "validity").content;
    for (TimePoint* out : {&t.not_before, &t.not_after}) {
      const Bytes time = der::read(validity, "validity").whole;
      const unsigned char* p = time.data();
      ossl::Asn1TimePtr at(d2i_ASN1_TIME(nullptr, &p, static_cast<long>(time.size())));
      if (!at) ossl::fail(ErrorCode::internal, "re-reading the prototype validity");
      *out = from_asn1_time(at.get());
    }
  }

  // Self-check: the assembly must give back both probes byte for byte.
  const Buffer spki_a(a.spki.begin(), a.spki.end());
  const Buffer spki_b(sb.spki.begin(), sb.spki.end());
  if (tbs({serial_a, &prototype.subject, spki_a, &prototype.sans}) != tbs_a ||
      tbs({serial_b, &b.subject, spki_b, &b.sans}) != tbs_b) {
    untemplatable("the assembled TBSCertificate differs from build_tbs");
  }
}

CertTemplate::CertTemplate(CertTemplate&&) noexcept = default;
CertTemplate& CertTemplate::operator=(CertTemplate&&) noexcept = default;
CertTemplate::~CertTemplate() = default;

std::vector<std::uint8_t> CertTemplate::tbs(const DeviceFields& d) const {
  const Impl& t = *m;
  if (d.subject == nullptr) throw Error(ErrorCode::internal, "device without a subject");
  static const std::vector<SubjectAltName> kNoSans;
  const std::vector<SubjectAltName>& sans = d.sans != nullptr ? *d.sans : kNoSans;

  // serialNumber INTEGER from the magnitude: minimal, positive (as BN_to_ASN1_INTEGER).
  Bytes serial = d.serial;
  while (serial.size() > 1 && serial[0] == 0)
    serial = serial.subspan(1);
  const bool zero = serial.empty() || (serial.size() == 1 && serial[0] == 0);
  const bool pad = !zero && (serial[0] & 0x80) != 0;
  const std::size_t serial_len = zero ? 1 : serial.size() + (pad ? 1 : 0);

  const Buffer subject = encode_name(*d.subject);

  // SKI: RFC 5280 4.2.1.2 (1), over the same bytes build_tbs hashes.
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> ski{};
  if (digest_into(sha1_md(), public_key_bits(d.spki_der), ski.data()) != kSha1Len) {
    throw Error(ErrorCode::internal, "SHA-1 length");
  }
  const std::size_t ski_octets = der::tlv_size(kSha1Len);  // KeyIdentifier
  const std::size_t ski_ext_content = der::tlv_size(kOidSki.size()) + der::tlv_size(ski_octets);

  // SAN, omitted when empty and critical when the subject is empty (as build_tbs).
  const Buffer names = sans.empty() ? Buffer{} : encode_general_names(sans);
  const bool san_critical = d.subject->empty();
  const std::size_t san_value = der::tlv_size(names.size());  // GeneralNames SEQUENCE
  const std::size_t san_ext_content = der::tlv_size(kOidSan.size()) +
                                      (san_critical ? kCritical.size() : 0) +
                                      der::tlv_size(san_value);

  const std::size_t exts = t.fixed_extension_bytes + der::tlv_size(ski_ext_content) +
                           (sans.empty() ? 0 : der::tlv_size(san_ext_content));
  const std::size_t content = t.version.size() + der::tlv_size(serial_len) + t.sigalg.size() +
                              t.issuer_validity.size() + subject.size() + d.spki_der.size() +
                              der::tlv_size(der::tlv_size(exts));

  Buffer out;
  out.reserve(der::tlv_size(content));
  der::put_header(out, 0x30, content);
  der::put(out, t.version);
  der::put_header(out, 0x02, serial_len);
  if (zero || pad) out.push_back(0);
  if (!zero) der::put(out, serial);
  der::put(out, t.sigalg);
  der::put(out, t.issuer_validity);
  der::put(out, subject);
  der::put(out, d.spki_der);
  der::put_header(out, 0xa3, der::tlv_size(exts));
  der::put_header(out, 0x30, exts);
  for (const Piece& p : t.extensions) {
    switch (p.kind) {
      case Piece::Kind::fixed:
        der::put(out, p.bytes);
        break;
      case Piece::Kind::ski:
        der::put_header(out, 0x30, ski_ext_content);
        der::put_tlv(out, 0x06, kOidSki);
        der::put_header(out, 0x04, ski_octets);
        der::put_tlv(out, 0x04, {ski.data(), kSha1Len});
        break;
      case Piece::Kind::san:
        if (sans.empty()) break;
        der::put_header(out, 0x30, san_ext_content);
        der::put_tlv(out, 0x06, kOidSan);
        if (san_critical) der::put(out, kCritical);
        der::put_header(out, 0x04, san_value);
        der::put_tlv(out, 0x30, names);
        break;
    }
  }
  return out;
}

std::vector<std::uint8_t> CertTemplate::slow_tbs(const DeviceFields& d) const {
  if (d.subject == nullptr) throw Error(ErrorCode::internal, "device without a subject");
  CertificateSpec spec = m->prototype;
  spec.subject = *d.subject;
  spec.public_key = PublicKey::from_der(d.spki_der);
  spec.sans = d.sans != nullptr ? *d.sans : std::vector<SubjectAltName>{};
  Findings notes;
  return m->slow(spec, d.serial, notes);
}

std::vector<std::uint8_t> CertTemplate::sign(std::span<const std::uint8_t> tbs,
                                             EVP_MD_CTX* ctx) const {
  const Impl& t = *m;
  ossl::check(EVP_MD_CTX_reset(ctx), "EVP_MD_CTX_reset");
  ossl::check(EVP_DigestSignInit_ex(ctx, nullptr, t.digest.empty() ? nullptr : t.digest.c_str(),
                                    nullptr, nullptr, t.ca_key, nullptr),
              "EVP_DigestSignInit_ex");
  std::array<std::uint8_t, kMaxSignature> sig{};
  std::size_t sig_len = sig.size();
  ossl::check(EVP_DigestSign(ctx, sig.data(), &sig_len, tbs.data(), tbs.size()),
              "signing the certificate failed");

  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
  const std::size_t bits = sig_len + 1;  // unused-bits octet 0
  const std::size_t content = tbs.size() + t.sigalg.size() + der::tlv_size(bits);
  Buffer out;
  out.reserve(der::tlv_size(content));
  der::put_header(out, 0x30, content);
  der::put(out, tbs);
  der::put(out, t.sigalg);
  der::put_header(out, 0x03, bits);
  out.push_back(0);
  der::put(out, {sig.data(), sig_len});
  return out;
}

TimePoint CertTemplate::not_before() const noexcept {
  return m->not_before;
}
TimePoint CertTemplate::not_after() const noexcept {
  return m->not_after;
}
const Findings& CertTemplate::warnings() const noexcept {
  return m->warnings;
}
KeyAlgorithm CertTemplate::algorithm() const noexcept {
  return m->algorithm;
}

PublicKey public_key_from_spki(std::span<const std::uint8_t> spki_der) {
  // d2i_PUBKEY runs OpenSSL 3's provider decoders (~100 us for P-256): the
  // one slow step per CSR device, needed anyway to verify the CSR.
  const unsigned char* p = spki_der.data();
  ossl::EvpPkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!pkey) ossl::fail(ErrorCode::invalid_input, "not a DER SubjectPublicKeyInfo");
  if (p != spki_der.data() + spki_der.size()) {
    throw Error(ErrorCode::invalid_input, "SubjectPublicKeyInfo is followed by trailing bytes");
  }
  // build_tbs writes the key as OpenSSL re-encodes it. The device's bytes
  // are kept when they are that encoding, which for named-curve EC and
  // Ed25519 keys is checked against the fixed shape; anything else (RSA, a
  // compressed point) is compared with a re-encoding (another ~60 us).
  Buffer bytes(spki_der.begin(), spki_der.end());
  if (!is_fixed_shape_spki(bytes)) {
    bytes = ossl::to_der(i2d_PUBKEY, pkey.get(), "encoding SubjectPublicKeyInfo");
  }
  return PublicKey::adopt(pkey.get(), std::move(bytes));
}

}  // namespace pki::fastpath
