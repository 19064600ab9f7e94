// What the crl module's files share: the CA key behind an Authority, PEM
// text of a CRL, and how fresh a recorded CRL is.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <span>
#include <string>

#include "pki/authority.hpp"
#include "pki/crl.hpp"

namespace pki::crl {

// Authority befriends this (authority.hpp): CRLs are signed with the CA's key
// without going through a certificate Draft.
struct Signing {
  static EVP_PKEY* key(const Authority& ca) {
    return static_cast<EVP_PKEY*>(ca.m_signer->native_handle());
  }
};

// "-----BEGIN X509 CRL-----" text of a DER CRL.
std::string to_pem(std::span<const std::uint8_t> der);

// fresh / stale (past half its life) / expired (past nextUpdate).
CrlFreshness freshness_at(const CrlRecord& rec, TimePoint now) noexcept;

// Where a recorded CRL lives, relative to the home ("crl/factory.crl").
std::string relative_crl_file(const std::string& ca, bool delta);

}  // namespace pki::crl
