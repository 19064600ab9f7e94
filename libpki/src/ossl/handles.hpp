// The one place that owns OpenSSL handle types: zero-size deleters, no
// scattered *_free calls. Internal to libpki.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace pki::ossl {

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};

inline void free_general_names(GENERAL_NAMES* p) {
  GENERAL_NAMES_free(p);
}
inline void free_extension_stack(STACK_OF(X509_EXTENSION) * p) {
  sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free);
}
inline void free_x509_stack(STACK_OF(X509) * p) {
  sk_X509_pop_free(p, X509_free);
}
inline void free_openssl_bytes(unsigned char* p) {
  OPENSSL_free(p);
}
inline void free_openssl_chars(char* p) {
  OPENSSL_free(p);
}

using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ, X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Free<X509_NAME, X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;
using ExtensionStackPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), Free<STACK_OF(X509_EXTENSION), free_extension_stack>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Free<STACK_OF(X509), free_x509_stack>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, free_general_names>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Free<GENERAL_NAME, GENERAL_NAME_free>>;
using NameConstraintsPtr =
    std::unique_ptr<NAME_CONSTRAINTS, Free<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free>>;
using BasicConstraintsPtr =
    std::unique_ptr<BASIC_CONSTRAINTS, Free<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>>;
using AuthorityKeyIdPtr =
    std::unique_ptr<AUTHORITY_KEYID, Free<AUTHORITY_KEYID, AUTHORITY_KEYID_free>>;
using ExtendedKeyUsagePtr =
    std::unique_ptr<EXTENDED_KEY_USAGE, Free<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>>;
using CertPoliciesPtr =
    std::unique_ptr<CERTIFICATEPOLICIES, Free<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free>>;
using CrlDistPointsPtr =
    std::unique_ptr<CRL_DIST_POINTS, Free<CRL_DIST_POINTS, CRL_DIST_POINTS_free>>;
using AuthorityInfoAccessPtr =
    std::unique_ptr<AUTHORITY_INFO_ACCESS, Free<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>>;
using Asn1OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Free<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Free<ASN1_TIME, ASN1_TIME_free>>;
using Asn1BitStringPtr =
    std::unique_ptr<ASN1_BIT_STRING, Free<ASN1_BIT_STRING, ASN1_BIT_STRING_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, Free<ASN1_OBJECT, ASN1_OBJECT_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EvpMdPtr = std::unique_ptr<EVP_MD, Free<EVP_MD, EVP_MD_free>>;
using OpensslBytesPtr = std::unique_ptr<unsigned char, Free<unsigned char, free_openssl_bytes>>;
using OpensslCharsPtr = std::unique_ptr<char, Free<char, free_openssl_chars>>;

// Encrypted PKCS#8 (key module).
using X509SigPtr = std::unique_ptr<X509_SIG, Free<X509_SIG, X509_SIG_free>>;
using Pkcs8PrivKeyInfoPtr =
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, Free<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>>;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, Free<X509_ALGOR, X509_ALGOR_free>>;
using Pbe2ParamPtr = std::unique_ptr<PBE2PARAM, Free<PBE2PARAM, PBE2PARAM_free>>;
using Pbkdf2ParamPtr = std::unique_ptr<PBKDF2PARAM, Free<PBKDF2PARAM, PBKDF2PARAM_free>>;
using ScryptParamsPtr = std::unique_ptr<SCRYPT_PARAMS, Free<SCRYPT_PARAMS, SCRYPT_PARAMS_free>>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Free<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Free<ASN1_STRING, ASN1_STRING_free>>;

// Chain verification (trust module).
using X509StorePtr = std::unique_ptr<X509_STORE, Free<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX, X509_STORE_CTX_free>>;

// CRLs (crl module).
using X509CrlPtr = std::unique_ptr<X509_CRL, Free<X509_CRL, X509_CRL_free>>;
using X509RevokedPtr = std::unique_ptr<X509_REVOKED, Free<X509_REVOKED, X509_REVOKED_free>>;
using Asn1EnumeratedPtr =
    std::unique_ptr<ASN1_ENUMERATED, Free<ASN1_ENUMERATED, ASN1_ENUMERATED_free>>;
using Asn1GeneralizedTimePtr =
    std::unique_ptr<ASN1_GENERALIZEDTIME, Free<ASN1_GENERALIZEDTIME, ASN1_GENERALIZEDTIME_free>>;

}  // namespace pki::ossl
