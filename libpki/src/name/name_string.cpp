// The two string forms of a name: OpenSSL's "-subj" slash form, most
// significant first, and RFC 4514, least significant first.
#include <algorithm>
#include <array>
#include <cstdio>

#include "core/text.hpp"
#include "name/attribute_type.hpp"
#include "pki/error.hpp"
#include "pki/name.hpp"

namespace pki {

namespace {

Error bad_name(std::string_view text, const std::string& why) {
  return Error(ErrorCode::invalid_input, "invalid name '" + printable(text) + "': " + why);
}

NameAttribute make_attribute(std::string_view text, std::string_view type, std::string value) {
  const AttributeType* t = find_attribute_type(type);
  if (t == nullptr) {
    throw bad_name(text, "unknown attribute type '" + printable(type) +
                             "' (supported: " + supported_attribute_types() + ")");
  }
  if (value.empty()) throw bad_name(text, std::string(t->name) + " has an empty value");
  return {std::string(t->name), std::move(value)};
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

// "/O=Acme/CN=x": a backslash makes the next character literal ("\/" and
// "\," included), as OpenSSL's -subj parser does. '+' is literal: OpenSSL
// reads it as an RDN separator only with -multivalue-rdn.
std::vector<NameAttribute> parse_slash(std::string_view text) {
  std::vector<NameAttribute> out;
  std::size_t i = 1;
  while (i <= text.size()) {
    std::string type;
    std::string current;
    bool seen_equals = false;
    const std::size_t start = i;
    for (; i < text.size() && text[i] != '/'; ++i) {
      const char c = text[i];
      if (c == '\\') {
        if (++i == text.size()) throw bad_name(text, "it ends with a lone '\\'");
        current += text[i];
      } else if (c == '=' && !seen_equals) {
        type = std::move(current);
        current.clear();
        seen_equals = true;
      } else {
        current += c;
      }
    }
    const std::string_view component = text.substr(start, i - start);
    if (component.empty()) throw bad_name(text, "empty component between '/' separators");
    if (!seen_equals) {
      throw bad_name(text, "missing '=' in '" + printable(component) + "'");
    }
    out.push_back(make_attribute(text, trim_spaces(type), std::move(current)));
    ++i;  // past the '/' (or the end)
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 4514 3: "CN=x,O=Acme". Spaces around the type and after ',' are
// tolerated (RFC 4514 3: implementations MAY recognise other forms);
// unescaped leading and trailing spaces of a value are not part of it.
std::vector<NameAttribute> parse_rfc4514(std::string_view text) {
  static constexpr std::string_view kEscapable = " \"#+,;<=>\\";
  std::vector<NameAttribute> out;
  std::size_t i = 0;
  while (true) {
    const std::size_t eq = text.find('=', i);
    const std::size_t comma = text.find(',', i);
    if (eq == std::string_view::npos || (comma != std::string_view::npos && comma < eq)) {
      throw bad_name(
          text, "missing '=' in '" +
                    printable(text.substr(
                        i, comma == std::string_view::npos ? std::string_view::npos : comma - i)) +
                    "'");
    }
    const std::string_view type = trim_spaces(text.substr(i, eq - i));
    i = eq + 1;
    while (i < text.size() && text[i] == ' ')
      ++i;
    if (i < text.size() && text[i] == '#') {
      throw bad_name(text, "hex-encoded ('#') values are not supported; write the value as text");
    }
    std::string value;
    std::size_t keep = 0;  // length without unescaped trailing spaces
    for (; i < text.size() && text[i] != ','; ++i) {
      const char c = text[i];
      if (c == '+') {
        throw bad_name(text,
                       "multi-valued RDNs ('+') are not supported; escape a literal '+' as '\\+'");
      }
      if (c == '\\') {
        if (i + 1 < text.size() && kEscapable.find(text[i + 1]) != std::string_view::npos) {
          value += text[++i];
        } else if (i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
                   hex_digit(text[i + 2]) >= 0) {
          value += static_cast<char>(hex_digit(text[i + 1]) << 4 | hex_digit(text[i + 2]));
          i += 2;
        } else {
          throw bad_name(text, "'\\' must be followed by one of  \"#+,;<=>\\ or two hex digits");
        }
        keep = value.size();
        continue;
      }
      if (c == '"' || c == ';' || c == '<' || c == '>' || c == '\0') {
        throw bad_name(text, "'" + printable(std::string_view(&c, 1)) +
                                 "' must be escaped with '\\' (RFC 4514 2.4)");
      }
      value += c;
      if (c != ' ') keep = value.size();
    }
    value.resize(keep);
    out.push_back(make_attribute(text, type, std::move(value)));
    if (i == text.size()) break;
    ++i;  // past ','
    if (trim_spaces(text.substr(i)).empty()) throw bad_name(text, "it ends with ','");
  }
  // RFC 4514 2.1: the string starts with the last RDN of the sequence.
  std::reverse(out.begin(), out.end());
  return out;
}

std::string canonical_type(std::string_view type) {
  const AttributeType* t = find_attribute_type(type);
  return std::string(t != nullptr ? t->name : type);
}

}  // namespace

DistinguishedName DistinguishedName::parse(std::string_view text) {
  if (trim_spaces(text).empty() || text == "/") {
    throw Error(ErrorCode::invalid_input, "empty distinguished name");
  }
  DistinguishedName dn(text.front() == '/' ? parse_slash(text) : parse_rfc4514(text));
  const Findings findings = dn.validate();
  if (findings.has_errors()) throw bad_name(text, findings.error_summary());
  return dn;
}

std::optional<std::string> DistinguishedName::get(std::string_view type) const {
  const std::string wanted = canonical_type(type);
  for (const auto& a : m_attrs) {
    if (canonical_type(a.type) == wanted) return a.value;
  }
  return std::nullopt;
}

std::string DistinguishedName::to_slash_string() const {
  std::string out;
  for (const auto& a : m_attrs) {
    out += '/';
    out += a.type;
    out += '=';
    for (char c : a.value) {
      // '+' too: OpenSSL's -subj splits on it with -multivalue-rdn.
      if (c == '/' || c == '\\' || c == '+') out += '\\';
      out += c;
    }
  }
  return out;
}

std::string DistinguishedName::to_string() const {
  std::string out;
  for (auto it = m_attrs.rbegin(); it != m_attrs.rend(); ++it) {
    if (!out.empty()) out += ',';
    out += it->type;
    out += '=';
    const std::string& v = it->value;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const char c = v[i];
      const auto b = static_cast<unsigned char>(c);
      // RFC 4514 2.4: escape '"', '+', ',', ';', '<', '>', '\', a leading ' '
      // or '#', a trailing ' ', and NUL (as \00); other control characters
      // are hex-escaped too, so the string stays on one line.
      if (std::string_view("\"+,;<>\\").find(c) != std::string_view::npos ||
          (i == 0 && (c == ' ' || c == '#')) || (i + 1 == v.size() && c == ' ')) {
        out += '\\';
        out += c;
      } else if (b < 0x20 || b == 0x7F) {
        std::array<char, 4> hex{};
        std::snprintf(hex.data(), hex.size(), "%02X", b);
        out += '\\';
        out += hex.data();
      } else {
        out += c;
      }
    }
  }
  return out;
}

}  // namespace pki
