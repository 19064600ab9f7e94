// {variable} templates in subject values, SAN values and URLs.
#include <functional>

#include "pki/error.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace {

bool is_variable_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

// Walks `templ`, handing literal text and variable names to the callbacks.
// Returns why the template is malformed, or nullopt. Variable names are
// restricted so that a stray '{' in a value (a typo, a JSON fragment) is an
// error rather than a variable nobody defines.
std::optional<std::string> scan(std::string_view templ,
                                const std::function<void(std::string_view)>& literal,
                                const std::function<void(std::string_view)>& variable) {
  std::size_t i = 0;
  while (i < templ.size()) {
    const char c = templ[i];
    if (c == '{') {
      if (i + 1 < templ.size() && templ[i + 1] == '{') {
        literal("{");
        i += 2;
        continue;
      }
      const std::size_t close = templ.find('}', i + 1);
      if (close == std::string_view::npos) {
        return "unterminated '{' at offset " + std::to_string(i) +
               " (write '{{' for a literal '{')";
      }
      const std::string_view name = templ.substr(i + 1, close - i - 1);
      if (name.empty()) return "empty variable name '{}' at offset " + std::to_string(i);
      for (char n : name) {
        if (!is_variable_char(n)) {
          return "invalid variable name '" + std::string(name) +
                 "' (letters, digits, '_', '-', '.'; write '{{' for a literal '{')";
        }
      }
      variable(name);
      i = close + 1;
    } else if (c == '}') {
      if (i + 1 < templ.size() && templ[i + 1] == '}') {
        literal("}");
        i += 2;
        continue;
      }
      return "unmatched '}' at offset " + std::to_string(i) + " (write '}}' for a literal '}')";
    } else {
      const std::size_t next = templ.find_first_of("{}", i);
      const std::size_t end = next == std::string_view::npos ? templ.size() : next;
      literal(templ.substr(i, end - i));
      i = end;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string expand_template(std::string_view templ,
                            const std::map<std::string, std::string>& vars) {
  std::string out;
  std::optional<std::string> unknown;
  const auto error = scan(
      templ, [&](std::string_view text) { out += text; },
      [&](std::string_view name) {
        const auto it = vars.find(std::string(name));
        if (it != vars.end()) {
          out += it->second;
        } else if (!unknown) {
          unknown = std::string(name);
        }
      });
  if (error) {
    throw Error(ErrorCode::invalid_input, "template '" + std::string(templ) + "': " + *error);
  }
  if (unknown) {
    std::string known;
    for (const auto& [name, value] : vars)
      known += (known.empty() ? "" : ", ") + name;
    throw Error(ErrorCode::invalid_input,
                "template '" + std::string(templ) + "': unknown variable '{" + *unknown +
                    "}' (defined: " + (known.empty() ? "none" : known) + ")");
  }
  return out;
}

namespace profile_detail {

std::optional<std::string> template_syntax_error(std::string_view templ) {
  return scan(
      templ, [](std::string_view) {}, [](std::string_view) {});
}

std::vector<std::string> template_variables(std::string_view templ) {
  std::vector<std::string> out;
  scan(
      templ, [](std::string_view) {}, [&](std::string_view name) { out.emplace_back(name); });
  return out;
}

std::string expand_with_placeholder(std::string_view templ, std::string_view placeholder) {
  std::string out;
  scan(
      templ, [&](std::string_view text) { out += text; },
      [&](std::string_view) { out += placeholder; });
  return out;
}

}  // namespace profile_detail

}  // namespace pki
