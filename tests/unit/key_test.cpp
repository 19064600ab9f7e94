#include <doctest/doctest.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "key/key_internal.hpp"
#include "ossl/check.hpp"
#include "pki/error.hpp"
#include "pki/key.hpp"

using namespace pki;

namespace {

// Encrypted-key tests use fewer PBKDF2 iterations than the default so the
// suite stays fast; the default itself is checked once, in the encoding.
constexpr KeyEncryption kFastPbkdf2{KeyEncryption::Kdf::pbkdf2_sha256, 2048};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("devpki-key-test-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ErrorCode error_code_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("expected pki::Error");
  return ErrorCode::internal;
}

std::string error_message_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected pki::Error");
  return {};
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

// The PBES2 parameters of an "ENCRYPTED PRIVATE KEY" PEM, decoded independently.
struct Pbes2Info {
  int kdf_nid = NID_undef;
  int prf_nid = NID_undef;
  long iterations = 0;
  int cipher_nid = NID_undef;
  std::uint64_t scrypt_n = 0;
};

Pbes2Info pbes2_info(const std::string& pem) {
  auto bio = ossl::mem_bio({reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()});
  ossl::X509SigPtr sig(PEM_read_bio_PKCS8(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(sig);
  const X509_ALGOR* alg = nullptr;
  const ASN1_OCTET_STRING* digest = nullptr;
  X509_SIG_get0(sig.get(), &alg, &digest);
  REQUIRE(OBJ_obj2nid(alg->algorithm) == NID_pbes2);
  ossl::Pbe2ParamPtr pbe2(static_cast<PBE2PARAM*>(
      ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter)));
  REQUIRE(pbe2);
  Pbes2Info info;
  info.kdf_nid = OBJ_obj2nid(pbe2->keyfunc->algorithm);
  info.cipher_nid = OBJ_obj2nid(pbe2->encryption->algorithm);
  if (info.kdf_nid == NID_id_pbkdf2) {
    ossl::Pbkdf2ParamPtr kdf(static_cast<PBKDF2PARAM*>(
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter)));
    REQUIRE(kdf);
    info.iterations = ASN1_INTEGER_get(kdf->iter);
    // RFC 8018 A.2: an absent prf means hmacWithSHA1.
    info.prf_nid = kdf->prf != nullptr ? OBJ_obj2nid(kdf->prf->algorithm) : NID_hmacWithSHA1;
  } else if (info.kdf_nid == NID_id_scrypt) {
    ossl::ScryptParamsPtr sp(static_cast<SCRYPT_PARAMS*>(
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS), pbe2->keyfunc->parameter)));
    REQUIRE(sp);
    REQUIRE(ASN1_INTEGER_get_uint64(&info.scrypt_n, sp->costParameter) == 1);
  }
  return info;
}

// An EC P-256 key whose SPKI carries the curve as explicit parameters
// (RFC 5480 2.1.1 specifiedCurve), made in-process.
ossl::EvpPkeyPtr explicit_params_ec_key() {
  ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  REQUIRE(ctx);
  REQUIRE(EVP_PKEY_keygen_init(ctx.get()) == 1);
  char group[] = "P-256";
  char encoding[] = OSSL_PKEY_EC_ENCODING_EXPLICIT;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, encoding, 0),
      OSSL_PARAM_construct_end(),
  };
  REQUIRE(EVP_PKEY_CTX_set_params(ctx.get(), params) == 1);
  EVP_PKEY* raw = nullptr;
  REQUIRE(EVP_PKEY_keygen(ctx.get(), &raw) == 1);
  return ossl::EvpPkeyPtr(raw);
}

}  // namespace

TEST_CASE("every algorithm generates a key that round-trips through PEM") {
  struct Case {
    KeyAlgorithm alg;
    KeyDescription::Type type;
    int bits;
    std::string curve;
  };
  const std::vector<Case> cases{
      {KeyAlgorithm::ec_p256, KeyDescription::Type::ec, 256, "P-256"},
      {KeyAlgorithm::ec_p384, KeyDescription::Type::ec, 384, "P-384"},
      {KeyAlgorithm::ed25519, KeyDescription::Type::ed25519, 256, ""},
      {KeyAlgorithm::rsa_2048, KeyDescription::Type::rsa, 2048, ""},
      {KeyAlgorithm::rsa_3072, KeyDescription::Type::rsa, 3072, ""},
      {KeyAlgorithm::rsa_4096, KeyDescription::Type::rsa, 4096, ""},
  };
  REQUIRE(cases.size() == all_key_algorithms().size());
  for (const auto& c : cases) {
    CAPTURE(to_string(c.alg));
    const auto key = PrivateKey::generate(c.alg);
    CHECK(key.algorithm() == c.alg);

    const auto d = key.public_key().describe();
    CHECK(d.type == c.type);
    CHECK(d.bits == c.bits);
    CHECK(d.curve == c.curve);
    CHECK_FALSE(d.explicit_params);
    CHECK(d.algorithm() == c.alg);
    CHECK(d.to_string() == to_string(c.alg));

    const std::string pem = key.to_pem();
    CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
    const auto back = PrivateKey::from_pem(pem);
    CHECK(back.public_key() == key.public_key());
    CHECK(back.to_pem() == pem);

    const std::string pub_pem = key.public_key().to_pem();
    CHECK(pub_pem.rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
    CHECK(PublicKey::from_pem(pub_pem) == key.public_key());
    CHECK(PublicKey::from_der(key.public_key().spki_der()) == key.public_key());
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("two generated keys differ") {
  const auto a = PrivateKey::generate(KeyAlgorithm::ec_p256).public_key();
  const auto b = PrivateKey::generate(KeyAlgorithm::ec_p256).public_key();
  CHECK_FALSE(a == b);
  CHECK(a.spki_sha256_hex() != b.spki_sha256_hex());
}

TEST_CASE("spki_sha256_hex is the SHA-256 of the SPKI DER, lowercase hex") {
  const auto pub = PrivateKey::generate(KeyAlgorithm::ed25519).public_key();
  const std::string fp = pub.spki_sha256_hex();
  CHECK(fp.size() == 64);
  CHECK(fp.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(fp == ossl::hex(ossl::sha256(pub.spki_der())));
  // An Ed25519 SPKI is 44 bytes: a fixed 12-byte prefix and the 32-byte key.
  CHECK(pub.spki_der().size() == 44);
}

TEST_CASE("encrypted PEM round-trips with PBKDF2 and scrypt") {
  const auto key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  struct Case {
    const char* name;
    KeyEncryption enc;
    int kdf_nid;
  };
  KeyEncryption fast_scrypt;
  fast_scrypt.kdf = KeyEncryption::Kdf::scrypt;
  fast_scrypt.scrypt_n = 1 << 10;
  const std::vector<Case> cases{{"pbkdf2", kFastPbkdf2, NID_id_pbkdf2},
                                {"scrypt", fast_scrypt, NID_id_scrypt}};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string pem = key.to_encrypted_pem("correct horse", c.enc);
    CHECK(pem.rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----", 0) == 0);
    const auto info = pbes2_info(pem);
    CHECK(info.kdf_nid == c.kdf_nid);
    CHECK(info.cipher_nid == NID_aes_256_cbc);
    const auto back = PrivateKey::from_pem(pem, "correct horse");
    CHECK(back.public_key() == key.public_key());
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("default encryption: PBKDF2-HMAC-SHA256, 600000 iterations, AES-256-CBC") {
  const auto key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const std::string pem = key.to_encrypted_pem("pass phrase");
  const auto info = pbes2_info(pem);
  CHECK(info.kdf_nid == NID_id_pbkdf2);
  CHECK(info.prf_nid == NID_hmacWithSHA256);
  CHECK(info.iterations >= 600000);
  CHECK(info.cipher_nid == NID_aes_256_cbc);
  // OpenSSL's own reader agrees with ours.
  auto bio = ossl::mem_bio({reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()});
  char pass[] = "pass phrase";
  ossl::EvpPkeyPtr read(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, pass));
  REQUIRE(read);
  CHECK(PublicKey::adopt(read.get()) == key.public_key());
}

TEST_CASE("default scrypt (N = 2^17, 128 MiB) round-trips despite OpenSSL's 32 MiB cap") {
  const auto key = PrivateKey::generate(KeyAlgorithm::ed25519);
  KeyEncryption enc;
  enc.kdf = KeyEncryption::Kdf::scrypt;
  const std::string pem = key.to_encrypted_pem("pw", enc);
  CHECK(pbes2_info(pem).scrypt_n == (1u << 17));
  CHECK(PrivateKey::from_pem(pem, "pw").public_key() == key.public_key());
  CHECK(error_message_of([&] { PrivateKey::from_pem(pem, "nope"); }) ==
        "wrong passphrase for private key");
}

TEST_CASE("encrypted keys: wrong or missing passphrase is a clear crypto error") {
  const auto key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const std::string pem = key.to_encrypted_pem("right", kFastPbkdf2);

  CHECK(error_code_of([&] { PrivateKey::from_pem(pem, "wrong"); }) == ErrorCode::crypto);
  CHECK(error_message_of([&] { PrivateKey::from_pem(pem, "wrong"); }) ==
        "wrong passphrase for private key");
  CHECK(ERR_peek_error() == 0);

  CHECK(error_code_of([&] { PrivateKey::from_pem(pem); }) == ErrorCode::crypto);
  CHECK(contains(error_message_of([&] { PrivateKey::from_pem(pem); }),
                 "is encrypted: a passphrase is required"));

  // A plain key read with a passphrase is accepted.
  CHECK(PrivateKey::from_pem(key.to_pem(), "unused").public_key() == key.public_key());
}

TEST_CASE("traditional encrypted PEM (Proc-Type) also reports the passphrase") {
  const auto key = PrivateKey::generate(KeyAlgorithm::rsa_2048);
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  char pass[] = "legacy";
  REQUIRE(PEM_write_bio_PrivateKey_traditional(bio.get(), pkey_of(key), EVP_aes_128_cbc(), nullptr,
                                               0, nullptr, pass) == 1);
  const std::string pem = ossl::bio_string(bio.get());
  REQUIRE(contains(pem, "Proc-Type: 4,ENCRYPTED"));
  CHECK(PrivateKey::from_pem(pem, "legacy").public_key() == key.public_key());
  CHECK(error_message_of([&] { PrivateKey::from_pem(pem, "nope"); }) ==
        "wrong passphrase for private key");
  CHECK(contains(error_message_of([&] { PrivateKey::from_pem(pem); }), "passphrase is required"));
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("to_encrypted_pem refuses an empty passphrase and weak iteration counts") {
  const auto key = PrivateKey::generate(KeyAlgorithm::ed25519);
  CHECK(error_code_of([&] { (void)key.to_encrypted_pem(""); }) == ErrorCode::invalid_input);
  KeyEncryption weak;
  weak.pbkdf2_iterations = 10;
  CHECK(error_code_of([&] { (void)key.to_encrypted_pem("x", weak); }) == ErrorCode::policy);
  KeyEncryption bad_scrypt;
  bad_scrypt.kdf = KeyEncryption::Kdf::scrypt;
  bad_scrypt.scrypt_n = 1000;  // not a power of two
  CHECK(error_code_of([&] { (void)key.to_encrypted_pem("x", bad_scrypt); }) ==
        ErrorCode::invalid_input);
}

TEST_CASE("malformed input is invalid_input") {
  struct Case {
    const char* name;
    std::string text;
  };
  const std::vector<Case> cases{
      {"empty", ""},
      {"garbage", "hello"},
      {"public key given as private",
       PrivateKey::generate(KeyAlgorithm::ec_p256).public_key().to_pem()},
      {"truncated", "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(error_code_of([&] { PrivateKey::from_pem(c.text); }) == ErrorCode::invalid_input);
    CHECK(ERR_peek_error() == 0);
  }
  CHECK(error_code_of([] { PublicKey::from_pem("nope"); }) == ErrorCode::invalid_input);
  auto der = PrivateKey::generate(KeyAlgorithm::ec_p256).public_key().spki_der();
  der.push_back(0);
  CHECK(error_code_of([&] { PublicKey::from_der(der); }) == ErrorCode::invalid_input);
  der.resize(10);
  CHECK(error_code_of([&] { PublicKey::from_der(der); }) == ErrorCode::invalid_input);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("an EC key with explicit parameters is described as such") {
  auto pkey = explicit_params_ec_key();
  const auto in_process = PublicKey::adopt(pkey.get());
  // And as a CSR would carry it: re-read from its SPKI DER.
  const auto der = in_process.spki_der();
  const auto decoded = PublicKey::from_der(der);
  for (const auto& pub : {in_process, decoded}) {
    const auto d = pub.describe();
    CHECK(d.type == KeyDescription::Type::ec);
    CHECK(d.explicit_params);
    CHECK(d.curve.empty());
    CHECK_FALSE(d.algorithm().has_value());
    CHECK(d.to_string() == "EC explicit parameters");
  }
  const auto priv = PrivateKey::adopt(pkey.get());
  CHECK(error_code_of([&] { (void)priv.algorithm(); }) == ErrorCode::policy);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("keys devpki does not issue with are described, not mapped") {
  ossl::EvpPkeyPtr rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024}));
  REQUIRE(rsa1024);
  const auto d = PublicKey::adopt(rsa1024.get()).describe();
  CHECK(d.type == KeyDescription::Type::rsa);
  CHECK(d.bits == 1024);
  CHECK_FALSE(d.algorithm().has_value());
  CHECK(d.to_string() == "rsa-1024");
  CHECK(contains(error_message_of([&] { (void)PrivateKey::adopt(rsa1024.get()).algorithm(); }),
                 "rsa-1024"));

  ossl::EvpPkeyPtr p521(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"));
  REQUIRE(p521);
  const auto e = PublicKey::adopt(p521.get()).describe();
  CHECK(e.curve == "P-521");
  CHECK(e.to_string() == "ec-p521");
  CHECK_FALSE(e.algorithm().has_value());
}

TEST_CASE("adopt takes its own reference") {
  auto key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const std::string fp = key.public_key().spki_sha256_hex();
  EVP_PKEY* raw = nullptr;
  {
    ossl::EvpPkeyPtr owned(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    raw = owned.get();
    const auto adopted = PrivateKey::adopt(raw);
    owned.reset();  // the caller's reference is gone; the adopted key lives on
    CHECK(adopted.native_handle() == raw);
    CHECK(adopted.public_key().describe().type == KeyDescription::Type::ed25519);
  }
  CHECK(key.public_key().spki_sha256_hex() == fp);
  CHECK(error_code_of([] { PublicKey::adopt(nullptr); }) == ErrorCode::internal);
  CHECK(error_code_of([] { (void)PublicKey{}.spki_der(); }) == ErrorCode::internal);
}

TEST_CASE("write_secret_file: mode 0600, no overwrite without force, no temp files left") {
  TempDir dir;
  const auto file = dir.path / "device.key";
  const auto old_umask = ::umask(0);  // a permissive umask must not widen the mode
  write_secret_file(file, "secret one");
  ::umask(old_umask);

  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(read_file(file) == "secret one");

  CHECK(error_code_of([&] { write_secret_file(file, "secret two"); }) == ErrorCode::conflict);
  CHECK(error_message_of([&] { write_secret_file(file, "secret two"); }) ==
        file.string() + " exists; use --force to replace it");
  CHECK(read_file(file) == "secret one");

  write_secret_file(file, "secret two", true);
  CHECK(read_file(file) == "secret two");
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);

  // A dangling symlink is an existing name too.
  const auto link = dir.path / "link.key";
  std::filesystem::create_symlink(dir.path / "nowhere", link);
  CHECK(error_code_of([&] { write_secret_file(link, "x"); }) == ErrorCode::conflict);
  CHECK_FALSE(std::filesystem::exists(dir.path / "nowhere"));

  CHECK(error_code_of([&] { write_secret_file(dir.path / "missing" / "k.pem", "x"); }) ==
        ErrorCode::io);

  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path))
    ++entries;
  CHECK(entries == 2);  // device.key and link.key: no temporary left behind
}

TEST_CASE("load reads an encrypted key file and names the file in errors") {
  TempDir dir;
  const auto key = PrivateKey::generate(KeyAlgorithm::ec_p384);
  const auto file = dir.path / "ca.key";
  write_secret_file(file, key.to_encrypted_pem("pw", kFastPbkdf2));
  CHECK(PrivateKey::load(file, "pw").public_key() == key.public_key());
  CHECK(error_message_of([&] { PrivateKey::load(file, "bad"); }) ==
        "wrong passphrase for " + file.string());
  CHECK(error_code_of([&] { PrivateKey::load(dir.path / "absent.key"); }) == ErrorCode::not_found);
}
