// The batch fast path: device keys encoded from raw material and certificates
// assembled from a template must be byte-identical to OpenSSL's encoders and
// to build_tbs, for every key algorithm, CA key type and shipped profile.
#include <doctest/doctest.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <chrono>
#include <map>
#include <thread>

#include "cert/builder.hpp"
#include "fastpath/fastpath.hpp"
#include "pki/authority.hpp"
#include "pki/error.hpp"
#include "pki/profile.hpp"
#include "test_util.hpp"

using namespace pki;
using namespace std::chrono;
using fastpath::CertTemplate;
using fastpath::DeviceFields;
using fastpath::DeviceKey;
using fastpath::KeyGenerator;

namespace {

using Bytes = std::vector<std::uint8_t>;

const std::vector<KeyAlgorithm> kDeviceAlgs{KeyAlgorithm::ec_p256, KeyAlgorithm::ec_p384,
                                            KeyAlgorithm::ed25519, KeyAlgorithm::rsa_2048};

ProfileSpec profile(const std::string& name) {
  return load_profile(std::string(DEVPKI_SOURCE_DIR) + "/profiles/" + name + ".yaml");
}

Bytes openssl_spki(EVP_PKEY* k) {
  return ossl::to_der(i2d_PUBKEY, k, "i2d_PUBKEY");
}

std::string openssl_pkcs8_pem(EVP_PKEY* k) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  return ossl::bio_string(bio.get());
}

// A few keys per algorithm, shared by the tests (RSA generation is slow).
const std::vector<DeviceKey>& device_keys(KeyAlgorithm alg) {
  static std::map<KeyAlgorithm, std::vector<DeviceKey>> cache;
  auto& keys = cache[alg];
  if (keys.empty()) {
    KeyGenerator gen(alg);
    const int n = alg == KeyAlgorithm::rsa_2048 ? 3 : 6;
    for (int i = 0; i < n; ++i)
      keys.push_back(gen.generate());
  }
  return keys;
}

PublicKey public_of(const DeviceKey& k) {
  return PublicKey::adopt(k.key.get(), k.spki_der);
}

TimePoint now() {
  return floor<seconds>(system_clock::now());
}

struct Hierarchy {
  Certificate root;
  Certificate issuing;
  PrivateKey issuing_key;
  Authority ca;
};

// root-ca -> issuing-ca, both with `alg` keys, from the shipped profiles.
Hierarchy make_hierarchy(KeyAlgorithm alg) {
  const PrivateKey root_key = PrivateKey::generate(alg);
  const auto root_signer = std::make_shared<KeySigner>(root_key, "root");
  CertificateSpec rs;
  rs.profile = profile("root-ca");
  rs.subject = DistinguishedName::parse("/O=Acme/CN=Root " + std::string(to_string(alg)));
  rs.public_key = root_key.public_key();
  rs.not_before = now() - hours(1);
  rs.not_after = now() + years(20);
  const Certificate root = Authority::self_sign(rs, *root_signer);
  const Authority root_ca("root", {root}, root_signer);

  const PrivateKey issuing_key = PrivateKey::generate(alg);
  CertificateSpec is;
  is.profile = profile("issuing-ca");
  is.subject = DistinguishedName::parse("/O=Acme/CN=Issuing " + std::string(to_string(alg)));
  is.public_key = issuing_key.public_key();
  is.not_before = now() - minutes(30);
  is.not_after = now() + years(10);
  is.variables = {{"ca", "root"}};
  const Certificate issuing = root_ca.sign(root_ca.draft(is));
  return {
      root, issuing, issuing_key,
      Authority("issuing", {issuing, root}, std::make_shared<KeySigner>(issuing_key, "issuing"))};
}

const Hierarchy& hierarchy(KeyAlgorithm alg) {
  static std::map<KeyAlgorithm, Hierarchy> cache;
  auto it = cache.find(alg);
  if (it == cache.end()) it = cache.emplace(alg, make_hierarchy(alg)).first;
  return it->second;
}

DistinguishedName subject_for(const ProfileSpec& p, const std::string& id) {
  const std::map<std::string, std::string> vars{{"device_id", id}, {"ca", "issuing"}};
  std::vector<NameAttribute> attrs;
  for (const auto& [type, templ] : p.subject) {
    std::string v = expand_template(templ, vars);
    if (!v.empty()) attrs.push_back({type, std::move(v)});
  }
  return DistinguishedName(std::move(attrs));
}

std::vector<SubjectAltName> added_sans(const ProfileSpec& p, const std::string& id) {
  const std::map<std::string, std::string> vars{{"device_id", id}, {"ca", "issuing"}};
  std::vector<SubjectAltName> out;
  for (const auto& s : p.san.add)
    out.push_back({s.type, expand_template(s.value, vars)});
  return out;
}

CertificateSpec device_spec(const ProfileSpec& p, const std::string& id, const PublicKey& key,
                            std::vector<SubjectAltName> sans) {
  CertificateSpec s;
  s.profile = p;
  s.subject = subject_for(p, id);
  s.public_key = key;
  s.sans = std::move(sans);
  s.not_before = now() - p.validity.backdate;
  s.not_after = p.validity.forever ? forever() : now() + p.validity.duration;
  s.variables = {{"ca", "issuing"}, {"device_id", id}};
  return s;
}

struct Device {
  Bytes serial;
  DistinguishedName subject;
  std::vector<SubjectAltName> sans;
  Bytes spki;
  DeviceFields fields() const { return {serial, &subject, spki, &sans}; }
};

// Devices with different subjects and SAN lists: a plain one, one whose
// subject and SANs need multi-byte DER lengths, one without SANs, and one
// with every SAN type.
std::vector<Device> devices_for(const ProfileSpec& p, KeyAlgorithm alg) {
  const auto& keys = device_keys(alg);
  std::vector<Device> out;
  auto add = [&](const std::string& id, std::vector<SubjectAltName> sans, Bytes serial) {
    const DeviceKey& k = keys[(out.size() + 1) % keys.size()];
    out.push_back({std::move(serial), subject_for(p, id), std::move(sans), k.spki_der});
  };
  add("dev-0001", added_sans(p, "dev-0001"), random_serial());
  const std::string long_id = "device-with-a-rather-long-identifier-0002-xxxx";
  std::vector<SubjectAltName> many = added_sans(p, long_id);
  for (int i = 0; i < 12; ++i)
    many.push_back({SanType::dns, "name" + std::to_string(i) + ".acme.example"});
  add(long_id, many, random_serial());
  add("dev-0003", {}, Bytes{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09});
  add("dev-0004",
      {{SanType::ip, "192.0.2.7"},
       {SanType::ip, "2001:db8::42"},
       {SanType::email, "dev@acme.example"},
       {SanType::uri, "urn:acme:device:dev-0004"},
       {SanType::dns, "dev-0004.acme.example"}},
      Bytes{0x00, 0x7f, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70});
  return out;
}

ossl::X509Ptr parse_cert(const Bytes& der) {
  const unsigned char* p = der.data();
  ossl::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(x);
  CHECK(p == der.data() + der.size());
  return x;
}

int verify_chain(X509* leaf, const Hierarchy& h) {
  std::unique_ptr<X509_STORE, ossl::Free<X509_STORE, X509_STORE_free>> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), static_cast<X509*>(h.root.native_handle()));
  X509_STORE_set_flags(store.get(), X509_V_FLAG_X509_STRICT);
  ossl::X509StackPtr untrusted(sk_X509_new_null());
  X509* issuing = static_cast<X509*>(h.issuing.native_handle());
  X509_up_ref(issuing);
  sk_X509_push(untrusted.get(), issuing);
  std::unique_ptr<X509_STORE_CTX, ossl::Free<X509_STORE_CTX, X509_STORE_CTX_free>> ctx(
      X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get());
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

// tbs() == slow_tbs(), and the signed certificate parses, verifies against
// the CA key and validates against the chain.
void check_device(const CertTemplate& t, const Device& d, const Hierarchy& h, EVP_MD_CTX* ctx) {
  CAPTURE(d.subject.to_string());
  const Bytes fast = t.tbs(d.fields());
  CHECK(fast == t.slow_tbs(d.fields()));
  const Bytes cert = t.sign(fast, ctx);
  const ossl::X509Ptr x = parse_cert(cert);
  CHECK(ossl::to_der(i2d_X509, x.get(), "i2d_X509") == cert);
  CHECK(X509_verify(x.get(), static_cast<EVP_PKEY*>(h.issuing_key.native_handle())) == 1);
  const int rc = verify_chain(x.get(), h);
  CAPTURE(X509_verify_cert_error_string(rc));
  CHECK(rc == X509_V_OK);
}

}  // namespace

TEST_CASE("device keys are encoded exactly as OpenSSL encodes them") {
  for (const KeyAlgorithm alg : kDeviceAlgs) {
    CAPTURE(to_string(alg));
    for (const DeviceKey& k : device_keys(alg)) {
      CHECK(k.spki_der == openssl_spki(k.key.get()));
      CHECK(k.pkcs8_pem == openssl_pkcs8_pem(k.key.get()));
      CHECK(k.spki_sha256_hex == ossl::hex(ossl::sha256(k.spki_der)));
      CHECK(k.spki_sha256_hex == PublicKey::adopt(k.key.get()).spki_sha256_hex());
      const auto bio = ossl::mem_bio(
          {reinterpret_cast<const std::uint8_t*>(k.pkcs8_pem.data()), k.pkcs8_pem.size()});
      const ossl::EvpPkeyPtr back(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
      REQUIRE(back);
      CHECK(EVP_PKEY_eq(back.get(), k.key.get()) == 1);
      CHECK(PrivateKey::adopt(back.get()).algorithm() == alg);
      // Keys without the private half would encode differently: check it is there.
      CHECK(openssl_pkcs8_pem(back.get()) == k.pkcs8_pem);
    }
  }
  CHECK(KeyGenerator(KeyAlgorithm::ec_p384).algorithm() == KeyAlgorithm::ec_p384);
}

TEST_CASE("KeyGenerator moves") {
  KeyGenerator a(KeyAlgorithm::ed25519);
  KeyGenerator b(std::move(a));
  KeyGenerator c(KeyAlgorithm::ec_p256);
  c = std::move(b);
  CHECK(c.algorithm() == KeyAlgorithm::ed25519);
  CHECK(c.generate().spki_der.size() == 44);
}

TEST_CASE("pem_encode writes what PEM_write_bio writes") {
  Bytes data;
  for (std::size_t n = 0; n <= 200; ++n) {
    CAPTURE(n);
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio(bio.get(), "CERTIFICATE", "", data.data(), static_cast<long>(n)) >= 0);
    CHECK(fastpath::pem_encode("CERTIFICATE", data) == ossl::bio_string(bio.get()));
    data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
  }
}

TEST_CASE("public_key_from_spki keeps the bytes build_tbs would write") {
  for (const KeyAlgorithm alg : kDeviceAlgs) {
    const DeviceKey& k = device_keys(alg).front();
    const PublicKey pk = fastpath::public_key_from_spki(k.spki_der);
    CHECK(pk.spki_der() == k.spki_der);
    CHECK(pk.describe().algorithm() == alg);
  }
  // A compressed point is kept as OpenSSL re-encodes it.
  const DeviceKey& k = device_keys(KeyAlgorithm::ec_p256).front();
  ossl::EvpPkeyPtr dup(EVP_PKEY_dup(k.key.get()));
  REQUIRE(EVP_PKEY_set_utf8_string_param(dup.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                         "compressed") == 1);
  const Bytes compressed = openssl_spki(dup.get());
  CHECK(compressed.size() == 59);
  const PublicKey pk = fastpath::public_key_from_spki(compressed);
  CHECK(pk.spki_der() == openssl_spki(static_cast<EVP_PKEY*>(pk.native_handle())));

  const Hierarchy& h = hierarchy(KeyAlgorithm::ec_p256);
  const ProfileSpec p = profile("device-ldevid");
  const CertTemplate t(h.ca, device_spec(p, "proto", public_of(k), added_sans(p, "proto")));
  const Device d{random_serial(), subject_for(p, "c"), added_sans(p, "c"), pk.spki_der()};
  const ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  check_device(t, d, h, ctx.get());

  CHECK_THROWS_AS(fastpath::public_key_from_spki(Bytes{0x30, 0x00}), Error);
  Bytes trailing = k.spki_der;
  trailing.push_back(0);
  CHECK_THROWS_AS(fastpath::public_key_from_spki(trailing), Error);
}

TEST_CASE("tbs() equals build_tbs for every device key, CA key and shipped profile") {
  const ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  int certificates = 0;
  for (const KeyAlgorithm ca_alg :
       {KeyAlgorithm::ec_p256, KeyAlgorithm::rsa_2048, KeyAlgorithm::ed25519}) {
    const Hierarchy& h = hierarchy(ca_alg);
    for (const std::string name : {"device-idevid", "device-ldevid", "server-tls"}) {
      const ProfileSpec p = profile(name);
      for (const KeyAlgorithm alg : kDeviceAlgs) {
        CAPTURE(to_string(ca_alg));
        CAPTURE(name);
        CAPTURE(to_string(alg));
        const auto& keys = device_keys(alg);
        const CertTemplate t(
            h.ca, device_spec(p, "proto-0000", public_of(keys.front()), added_sans(p, "proto")));
        CHECK(t.algorithm() == alg);
        CHECK(t.not_before() <= now());
        if (p.validity.forever) CHECK(is_forever(t.not_after()));
        for (const Device& d : devices_for(p, alg)) {
          check_device(t, d, h, ctx.get());
          ++certificates;
        }
      }
    }
  }
  CHECK(certificates == 3 * 3 * 4 * 4);
}

TEST_CASE("a device with an empty subject gets a critical SAN, as build_tbs gives it") {
  const Hierarchy& h = hierarchy(KeyAlgorithm::ec_p256);
  const ProfileSpec p = profile("device-ldevid");
  const auto& keys = device_keys(KeyAlgorithm::ec_p256);
  const CertTemplate t(h.ca, device_spec(p, "proto", public_of(keys[0]), added_sans(p, "proto")));
  const Device d{random_serial(), DistinguishedName{}, added_sans(p, "anon"), keys[1].spki_der};
  const Bytes fast = t.tbs(d.fields());
  CHECK(fast == t.slow_tbs(d.fields()));
  const ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const ossl::X509Ptr x = parse_cert(t.sign(fast, ctx.get()));
  const int idx = X509_get_ext_by_NID(x.get(), NID_subject_alt_name, -1);
  REQUIRE(idx >= 0);
  CHECK(X509_EXTENSION_get_critical(X509_get_ext(x.get(), idx)) == 1);
  CHECK(verify_chain(x.get(), h) == X509_V_OK);
}

TEST_CASE("a profile whose digest is sha384 signs with it") {
  for (const KeyAlgorithm ca_alg : {KeyAlgorithm::ec_p256, KeyAlgorithm::rsa_2048}) {
    const Hierarchy& h = hierarchy(ca_alg);
    ProfileSpec p = profile("device-ldevid");
    p.signature_digest = "sha384";
    const auto& keys = device_keys(KeyAlgorithm::ec_p256);
    const CertTemplate t(h.ca, device_spec(p, "proto", public_of(keys[0]), added_sans(p, "proto")));
    const ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    for (const Device& d : devices_for(p, KeyAlgorithm::ec_p256)) {
      check_device(t, d, h, ctx.get());
      const ossl::X509Ptr x = parse_cert(t.sign(t.tbs(d.fields()), ctx.get()));
      CHECK(
          X509_get_signature_nid(x.get()) ==
          (ca_alg == KeyAlgorithm::ec_p256 ? NID_ecdsa_with_SHA384 : NID_sha384WithRSAEncryption));
    }
  }
}

TEST_CASE("a profile with per-device extensions cannot be templated") {
  const Hierarchy& h = hierarchy(KeyAlgorithm::ec_p256);
  ProfileSpec p = profile("device-ldevid");
  p.crl_distribution_points = {"http://pki.acme.example/crl/{device_id}.crl"};
  const auto& keys = device_keys(KeyAlgorithm::ec_p256);
  const CertificateSpec spec = device_spec(p, "proto", public_of(keys[0]), added_sans(p, "proto"));
  CHECK_NOTHROW(h.ca.draft(spec));  // the slow path takes it
  try {
    const CertTemplate t(h.ca, spec);
    FAIL("templated a profile whose CRL URL names the device");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::internal);
    CHECK(std::string(e.what()).find("profile cannot be templated") != std::string::npos);
    CHECK(std::string(e.what()).find("CRL Distribution Points") != std::string::npos);
  }
}

TEST_CASE("the prototype is linted as Authority::draft lints it") {
  const Hierarchy& h = hierarchy(KeyAlgorithm::ec_p256);
  const ProfileSpec p = profile("device-idevid");
  CertificateSpec spec =
      device_spec(p, "proto", public_of(device_keys(KeyAlgorithm::ec_p256)[0]), {});
  spec.subject = DistinguishedName{};
  CHECK_THROWS_AS(h.ca.draft(spec), Error);
  try {
    const CertTemplate t(h.ca, spec);
    FAIL("templated a certificate the lint refuses");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::policy);
    CHECK(std::string(e.what()).find("subject.empty") != std::string::npos);
  }
}

TEST_CASE("the warnings of build and lint are kept") {
  const Hierarchy& h = hierarchy(KeyAlgorithm::ec_p256);
  ProfileSpec p = profile("device-ldevid");
  p.key_usage.push_back(KeyUsage::key_encipherment);
  const CertTemplate t(h.ca,
                       device_spec(p, "proto", public_of(device_keys(KeyAlgorithm::ec_p256)[0]),
                                   added_sans(p, "proto")));
  CHECK(t.warnings().contains("key_usage.adapted"));
}

TEST_CASE("a template is used from several threads at once") {
  const Hierarchy& h = hierarchy(KeyAlgorithm::ec_p256);
  const ProfileSpec p = profile("server-tls");
  const auto& keys = device_keys(KeyAlgorithm::ec_p256);
  const CertTemplate t(h.ca, device_spec(p, "proto", public_of(keys[0]), added_sans(p, "proto")));
  const std::vector<Device> devices = devices_for(p, KeyAlgorithm::ec_p256);
  std::vector<std::vector<Bytes>> certs(2);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < certs.size(); ++i) {
    threads.emplace_back([&, i] {
      const ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
      for (int round = 0; round < 10; ++round) {
        for (const Device& d : devices)
          certs[i].push_back(t.sign(t.tbs(d.fields()), ctx.get()));
      }
    });
  }
  for (auto& th : threads)
    th.join();
  for (const auto& list : certs) {
    REQUIRE(list.size() == 10 * devices.size());
    for (std::size_t j = 0; j < list.size(); ++j) {
      const ossl::X509Ptr x = parse_cert(list[j]);
      CHECK(X509_verify(x.get(), static_cast<EVP_PKEY*>(h.issuing_key.native_handle())) == 1);
    }
  }
}

TEST_CASE("tbs() refuses malformed device fields") {
  const Hierarchy& h = hierarchy(KeyAlgorithm::ec_p256);
  const ProfileSpec p = profile("device-ldevid");
  const auto& keys = device_keys(KeyAlgorithm::ec_p256);
  const CertTemplate t(h.ca, device_spec(p, "proto", public_of(keys[0]), added_sans(p, "proto")));
  Device d{random_serial(), subject_for(p, "x"), added_sans(p, "x"), keys[1].spki_der};
  d.sans.push_back({SanType::ip, "not-an-ip"});
  CHECK_THROWS_AS(t.tbs(d.fields()), Error);
  d.sans.pop_back();
  d.spki.pop_back();
  CHECK_THROWS_AS(t.tbs(d.fields()), Error);
  DeviceFields none = d.fields();
  none.subject = nullptr;
  CHECK_THROWS_AS(t.tbs(none), Error);
}
