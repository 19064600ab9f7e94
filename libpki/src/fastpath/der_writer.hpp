// A minimal DER TLV writer and reader for the fast path. Only what X.509
// assembly needs: single-byte tags, definite minimal lengths. The writer works
// on sizes computed up front, so a certificate is written into one exact
// allocation. Internal to libpki.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pki/error.hpp"

namespace pki::fastpath::der {

using Bytes = std::span<const std::uint8_t>;

// Bytes taken by the length octets of a content of `n` bytes (X.690 8.1.3).
constexpr std::size_t length_size(std::size_t n) noexcept {
  std::size_t s = 1;
  if (n >= 0x80) {
    for (std::size_t v = n; v != 0; v >>= 8)
      ++s;
  }
  return s;
}

// Tag + length + content.
constexpr std::size_t tlv_size(std::size_t content) noexcept {
  return 1 + length_size(content) + content;
}

inline void put_header(std::vector<std::uint8_t>& out, std::uint8_t tag, std::size_t n) {
  out.push_back(tag);
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
    return;
  }
  const std::size_t octets = length_size(n) - 1;
  out.push_back(static_cast<std::uint8_t>(0x80 | octets));
  for (std::size_t i = octets; i-- > 0;)
    out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
}

inline void put(std::vector<std::uint8_t>& out, Bytes bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

inline void put_tlv(std::vector<std::uint8_t>& out, std::uint8_t tag, Bytes content) {
  put_header(out, tag, content.size());
  put(out, content);
}

struct Tlv {
  std::uint8_t tag = 0;
  Bytes content;  // the value octets
  Bytes whole;    // tag, length and value
};

// Reads the TLV at the front of `in` and advances past it. Error(invalid_input)
// "<what>: ..." for a multi-byte tag, an indefinite or non-minimal length, or
// truncation.
inline Tlv read(Bytes& in, std::string_view what) {
  auto bad = [&](const char* why) {
    throw Error(ErrorCode::invalid_input, std::string(what) + ": " + why);
  };
  if (in.size() < 2) bad("truncated DER object");
  const std::uint8_t tag = in[0];
  if ((tag & 0x1f) == 0x1f) bad("multi-byte tag");
  std::size_t pos = 2;
  std::size_t len = in[1];
  if (len == 0x80) bad("indefinite length");
  if (len > 0x80) {
    const std::size_t octets = len & 0x7f;
    if (octets > 4 || in.size() < 2 + octets) bad("bad length");
    len = 0;
    for (std::size_t i = 0; i < octets; ++i)
      len = (len << 8) | in[2 + i];
    if (len < 0x80 || length_size(len) != octets + 1) bad("non-minimal length");
    pos += octets;
  }
  if (in.size() - pos < len) bad("truncated DER object");
  Tlv t{tag, in.subspan(pos, len), in.first(pos + len)};
  in = in.subspan(pos + len);
  return t;
}

// read() that also requires the tag.
inline Tlv expect(Bytes& in, std::uint8_t tag, std::string_view what) {
  const Tlv t = read(in, what);
  if (t.tag != tag) throw Error(ErrorCode::invalid_input, std::string(what) + ": unexpected tag");
  return t;
}

}  // namespace pki::fastpath::der

namespace pki::fastpath {

// Digests fetched once per process: the legacy EVP_sha1()/EVP_sha256()
// handles make OpenSSL 3 fetch the implementation again on every call.
const EVP_MD* sha1_md();
const EVP_MD* sha256_md();
// One-shot digest into `out` (at least EVP_MAX_MD_SIZE bytes); returns the length.
std::size_t digest_into(const EVP_MD* md, der::Bytes data, std::uint8_t* out);

// True when `spki` (already decoded by OpenSSL) is a P-256, P-384 (named
// curve, uncompressed point) or Ed25519 key in the one shape KeyGenerator
// writes, which is also how OpenSSL re-encodes it.
bool is_fixed_shape_spki(der::Bytes spki);

}  // namespace pki::fastpath
