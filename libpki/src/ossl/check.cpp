#include "ossl/check.hpp"

#include <openssl/evp.h>

#include <array>

namespace pki::ossl {

std::string drain_errors() {
  std::string out;
  unsigned long e = 0;
  const char* data = nullptr;
  int flags = 0;
  while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    if (!out.empty()) out += "; ";
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    out += buf.data();
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
      out += " (";
      out += data;
      out += ")";
    }
  }
  return out;
}

void fail(ErrorCode code, std::string_view what) {
  std::string msg(what);
  const std::string detail = drain_errors();
  if (!detail.empty()) msg += ": " + detail;
  throw Error(code, msg);
}

namespace {
std::vector<std::uint8_t> digest(const EVP_MD* md, std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  check(EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr), "digest");
  out.resize(len);
  return out;
}
}  // namespace

std::vector<std::uint8_t> sha256(std::span<const std::uint8_t> data) {
  return digest(EVP_sha256(), data);
}
std::vector<std::uint8_t> sha1(std::span<const std::uint8_t> data) {
  return digest(EVP_sha1(), data);
}

std::string hex(std::span<const std::uint8_t> data, bool upper) {
  static constexpr char lower_digits[] = "0123456789abcdef";
  static constexpr char upper_digits[] = "0123456789ABCDEF";
  const char* digits = upper ? upper_digits : lower_digits;
  std::string out;
  out.reserve(data.size() * 2);
  for (auto b : data) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

std::vector<std::uint8_t> from_hex(std::string_view text) {
  std::vector<std::uint8_t> out;
  int hi = -1;
  for (char c : text) {
    if (c == ':') {
      if (hi >= 0) break;  // odd digit before a separator
      continue;
    }
    int v = -1;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    if (v < 0) {
      throw Error(ErrorCode::invalid_input,
                  "invalid hex '" + std::string(text) + "': unexpected character");
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0 || out.empty()) {
    throw Error(ErrorCode::invalid_input,
                "invalid hex '" + std::string(text) + "': expected whole bytes");
  }
  return out;
}

BioPtr mem_bio(std::span<const std::uint8_t> data) {
  return BioPtr(check_ptr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())),
                          "BIO_new_mem_buf", ErrorCode::internal));
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace pki::ossl
