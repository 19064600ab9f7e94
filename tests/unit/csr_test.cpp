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
