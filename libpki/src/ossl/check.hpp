// Every OpenSSL call that can fail goes through check(): on failure it throws
// pki::Error with the drained OpenSSL error queue, so no stale errors remain.
#pragma once

#include <openssl/err.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ossl/handles.hpp"
#include "pki/error.hpp"

namespace pki::ossl {

// Drains the thread's OpenSSL error queue into "lib: reason; ..." (empty if none).
std::string drain_errors();

[[noreturn]] void fail(ErrorCode code, std::string_view what);

// For calls returning 1 (or > 0) on success.
inline void check(int rc, std::string_view what, ErrorCode code = ErrorCode::crypto) {
  if (rc <= 0) fail(code, what);
}

// For calls returning a pointer, nullptr on failure.
template <class T>
T* check_ptr(T* p, std::string_view what, ErrorCode code = ErrorCode::crypto) {
  if (p == nullptr) fail(code, what);
  return p;
}

// Clears the queue after a call whose failure we handle ourselves.
inline void clear_errors() {
  ERR_clear_error();
}

// i2d helpers: DER of any object with an i2d function.
template <class T>
std::vector<std::uint8_t> to_der(int (*i2d)(const T*, unsigned char**), const T* obj,
                                 std::string_view what) {
  unsigned char* buf = nullptr;
  int len = i2d(obj, &buf);
  if (len <= 0) fail(ErrorCode::crypto, what);
  std::vector<std::uint8_t> out(buf, buf + len);
  OPENSSL_free(buf);
  return out;
}

std::vector<std::uint8_t> sha256(std::span<const std::uint8_t> data);
std::vector<std::uint8_t> sha1(std::span<const std::uint8_t> data);
std::string hex(std::span<const std::uint8_t> data, bool upper = false);
// Strict hex (even length, [0-9a-fA-F], optional ':' separators): invalid_input otherwise.
std::vector<std::uint8_t> from_hex(std::string_view text);

// A memory BIO reading the given bytes (no copy) / the bytes written to a BIO.
BioPtr mem_bio(std::span<const std::uint8_t> data);
std::string bio_string(BIO* bio);

}  // namespace pki::ossl
