// SubjectPublicKeyInfo -> EVP_PKEY without OpenSSL 3's provider decoders for
// the shapes devices send (P-256 / P-384 uncompressed named-curve points,
// Ed25519). d2i_PUBKEY sets up a decoder context per call (~110 us for a
// P-256 key); building the key from the raw point costs a fraction of that.
// Internal to libpki.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "ossl/handles.hpp"
#include "pki/key.hpp"

namespace pki::csr_detail {

// True if `spki` (one complete DER SubjectPublicKeyInfo) is byte for byte one
// of the fixed encodings
//   P-256 / P-384: id-ecPublicKey, namedCurve, uncompressed point (04 || X || Y)
//   Ed25519:       id-Ed25519, no parameters, 32-byte key
// which are the canonical DER of those keys (what i2d_X509_PUBKEY writes), so
// the bytes can stand for the key as they are. Any other shape (RSA,
// compressed points, explicit parameters, other curves...) is for the
// general decoder.
bool is_known_spki(std::span<const std::uint8_t> spki);

// The key algorithm of a known-shape SPKI (read from the prefix, the key is
// not decoded); nullopt for any other shape.
std::optional<KeyAlgorithm> known_spki_algorithm(std::span<const std::uint8_t> spki);

// The key of a known-shape SPKI (precondition: is_known_spki). Throws
// Error(invalid_input) "CSR public key cannot be decoded" for a key OpenSSL
// refuses (an EC point not on the curve), as d2i leaves such a key undecodable.
ossl::EvpPkeyPtr decode_known_spki(std::span<const std::uint8_t> spki);

}  // namespace pki::csr_detail
