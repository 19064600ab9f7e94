#include <array>
#include <cctype>
#include <cstdio>

#include "name/attribute_type.hpp"
#include "pki/name.hpp"

namespace pki {

namespace {

// Decodes UTF-8 strictly (RFC 3629 3: no overlong forms, no surrogates, nothing
// above U+10FFFF). nullopt if invalid.
std::optional<std::u32string> decode_utf8(std::string_view s) {
  std::u32string out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (b0 < 0x80) {
      len = 1, cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back(cp);
    i += len;
  }
  return out;
}

// X.680 41.4: A-Z a-z 0-9 space ' ( ) + , - . / : = ?
bool is_printable_char(char32_t c) {
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::u32string_view(U" '()+,-./:=?").find(c) != std::u32string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s)
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void validate_attribute(const NameAttribute& a, Findings& f) {
  const AttributeType* type = find_attribute_type(a.type);
  if (type == nullptr) {
    // Only from_der keeps types devpki does not know; they are carried as found.
    f.warning("name.unknown_type", "attribute type " + a.type + " is not one devpki issues");
  }
  const std::string id = "name." + lower(type != nullptr ? type->name : "attribute");
  if (a.value.empty()) {
    f.error("name.empty_value", a.type + " is empty");
    return;
  }
  const auto chars = decode_utf8(a.value);
  if (!chars) {
    f.error("name.invalid_utf8", a.type + " is not valid UTF-8");
    return;
  }
  for (char32_t c : *chars) {
    if (c < 0x20 || c == 0x7F) {
      std::array<char, 8> code{};
      std::snprintf(code.data(), code.size(), "U+%04X", static_cast<unsigned>(c));
      f.error("name.control_char", a.type + " contains a control character (" + code.data() + ")");
      break;
    }
  }
  if (type == nullptr) return;
  // RFC 5280 Appendix A: the bounds count characters, not octets.
  if (chars->size() > type->max_chars) {
    f.error(id + "_too_long", a.type + " is " + std::to_string(chars->size()) +
                                  " characters; RFC 5280 allows at most " +
                                  std::to_string(type->max_chars));
  }
  if (type->name == "C") {
    // RFC 5280 4.1.2.4 / X.520: the ISO 3166 alpha-2 code.
    const bool ok = chars->size() == 2 && (*chars)[0] >= 'A' && (*chars)[0] <= 'Z' &&
                    (*chars)[1] >= 'A' && (*chars)[1] <= 'Z';
    if (!ok) {
      f.error("name.country",
              "C '" + a.value + "' is not a two-letter ISO 3166 code (e.g. DE, US)");
    }
    return;
  }
  switch (type->charset) {
    case NameCharset::printable:
      for (char32_t c : *chars) {
        if (!is_printable_char(c)) {
          f.error(id + "_not_printable",
                  a.type + " must be a PrintableString: A-Z a-z 0-9 space ' ( ) + , - . / : = ?");
          break;
        }
      }
      break;
    case NameCharset::ia5:
      for (char32_t c : *chars) {
        if (c > 0x7F) {
          f.error(id + "_not_ascii", a.type + " must be an IA5String (ASCII only)");
          break;
        }
      }
      break;
    case NameCharset::utf8:
      break;
  }
}

}  // namespace

Findings DistinguishedName::validate() const {
  Findings f;
  for (const auto& a : m_attrs)
    validate_attribute(a, f);
  return f;
}

}  // namespace pki
