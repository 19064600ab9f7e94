#include "ossl/der.hpp"

#include <openssl/pem.h>

#include <string>

#include "ossl/check.hpp"
#include "ossl/handles.hpp"

namespace pki::ossl {

namespace {

struct DerWalker {
  std::span<const std::uint8_t> in;
  std::string what;

  [[noreturn]] void bad(const std::string& why, std::size_t at) const {
    throw Error(ErrorCode::invalid_input,
                what + " is not DER: " + why + " at byte " + std::to_string(at));
  }

  // Returns the offset just past the object starting at `pos`.
  std::size_t walk(std::size_t pos, std::size_t end, int depth) const {
    if (depth > 32) bad("nesting too deep", pos);
    if (pos >= end) bad("truncated object", pos);
    const std::size_t start = pos;
    const std::uint8_t tag = in[pos++];
    if ((tag & 0x1f) == 0x1f) bad("high tag numbers are not used in X.509", start);
    const bool constructed = (tag & 0x20) != 0;
    // DER (X.690 10.2): strings are primitive. Universal BIT STRING, OCTET
    // STRING and the character string types in constructed form are BER.
    if (constructed && (tag & 0xc0) == 0) {
      const int number = tag & 0x1f;
      if (number == 3 || number == 4 ||
          (number >= 12 && number <= 30 && number != 16 && number != 17)) {
        bad("constructed string encoding", start);
      }
    }
    if (pos >= end) bad("truncated length", pos);
    const std::uint8_t first = in[pos++];
    std::size_t len = 0;
    if (first == 0x80) bad("indefinite length (BER)", pos - 1);
    if (first < 0x80) {
      len = first;
    } else {
      const int n = first & 0x7f;
      if (n > 4) bad("length too large", pos - 1);
      if (pos + static_cast<std::size_t>(n) > end) bad("truncated length", pos);
      if (in[pos] == 0) bad("non-minimal length", pos);
      for (int i = 0; i < n; ++i)
        len = (len << 8) | in[pos++];
      // X.690 10.1: the definite form uses the fewest octets.
      if (len < 0x80) bad("non-minimal length", pos - 1);
    }
    if (len > end - pos) bad("truncated object", start);
    const std::size_t content_end = pos + len;
    if (constructed) {
      while (pos < content_end)
        pos = walk(pos, content_end, depth + 1);
    }
    return content_end;
  }
};

}  // namespace

void check_der_structure(std::span<const std::uint8_t> der, std::string_view what) {
  if (der.empty()) throw Error(ErrorCode::invalid_input, std::string(what) + " is empty");
  DerWalker w{der, std::string(what)};
  const std::size_t end = w.walk(0, der.size(), 0);
  if (end != der.size()) {
    throw Error(ErrorCode::invalid_input, std::string(what) + " has " +
                                              std::to_string(der.size() - end) +
                                              " trailing bytes after the DER object");
  }
}

std::vector<std::uint8_t> pem_or_der(std::span<const std::uint8_t> data,
                                     std::initializer_list<std::string_view> labels,
                                     std::string_view what) {
  if (data.empty()) throw Error(ErrorCode::invalid_input, std::string(what) + " is empty");
  if (data[0] == 0x30) return {data.begin(), data.end()};  // SEQUENCE: DER

  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  if (text.find("-----BEGIN ") == std::string_view::npos) {
    throw Error(
        ErrorCode::invalid_input,
        std::string(what) + " is neither PEM nor DER (no -----BEGIN line, no DER SEQUENCE)");
  }
  BioPtr bio = mem_bio(data);
  std::vector<std::uint8_t> out;
  int blocks = 0;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* body = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &body, &len) != 1) {
      // PEM_R_NO_START_LINE at the end is the normal stop; anything else is bad base64.
      const unsigned long err = ERR_peek_last_error();
      const bool clean_end = ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
      if (!clean_end) fail(ErrorCode::invalid_input, std::string(what) + ": malformed PEM");
      clear_errors();
      break;
    }
    OpensslCharsPtr name_owner(name), header_owner(header);
    OpensslBytesPtr body_owner(body);
    ++blocks;
    if (blocks > 1) {
      throw Error(ErrorCode::invalid_input,
                  std::string(what) + " holds more than one PEM block; give exactly one");
    }
    bool known = false;
    for (auto l : labels)
      known = known || l == name;
    if (!known) {
      throw Error(ErrorCode::invalid_input, std::string(what) + ": unexpected PEM block '" + name +
                                                "' (expected " + std::string(*labels.begin()) +
                                                ")");
    }
    if (header != nullptr && *header != '\0') {
      throw Error(ErrorCode::invalid_input, std::string(what) + ": PEM headers are not allowed");
    }
    out.assign(body, body + len);
  }
  if (blocks == 0)
    throw Error(ErrorCode::invalid_input, std::string(what) + ": no PEM block found");
  return out;
}

}  // namespace pki::ossl
