// YAML -> ProfileSpec. Parsing checks each key on its own (known, right type,
// valid value) and records where it was; validate_profile then judges the
// whole. Every message starts "<source>:<line>: <key path>: " so a person can
// go straight to the line.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "pki/clock.hpp"
#include "pki/error.hpp"
#include "pki/profile.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace {

using profile_detail::Issue;

// A profile is a page of YAML; anything near this is not one.
constexpr std::size_t kMaxProfileBytes = 1024 * 1024;

// One value in the document: where it is and what it is called.
struct Field {
  YAML::Node node;
  std::string path;  // "san.allow[0].pattern"
  int line = 1;      // 1-based
};

int line_of(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() || mark.line < 0 ? fallback : mark.line + 1;
}

std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined value";
  }
}

std::string parent_path(const std::string& path) {
  const std::size_t pos = path.find_last_of(".[");
  return pos == std::string::npos ? std::string() : path.substr(0, pos);
}

class Parser {
 public:
  Parser(std::string source, std::optional<std::string> expected_name)
      : m_source(std::move(source)), m_expected_name(std::move(expected_name)) {}

  ProfileSpec parse(std::string_view text) {
    if (text.size() > kMaxProfileBytes) {
      throw Error(
          ErrorCode::invalid_input,
          m_source + ": larger than " + std::to_string(kMaxProfileBytes) + " bytes; not a profile");
    }
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
      const int line = e.mark.is_null() || e.mark.line < 0 ? 1 : e.mark.line + 1;
      throw Error(ErrorCode::invalid_input,
                  m_source + ":" + std::to_string(line) + ": YAML syntax error: " + e.msg);
    }
    if (docs.empty() || docs[0].IsNull()) {
      throw Error(ErrorCode::invalid_input, m_source + ":1: empty profile");
    }
    if (docs.size() > 1) {
      fail({docs[1], "", line_of(docs[1], 1)},
           "one profile per file; found a second YAML document");
    }
    parse_root({docs[0], "", line_of(docs[0], 1)});
    check_whole();
    return std::move(m_spec);
  }

 private:
  [[noreturn]] void fail(const Field& f, const std::string& what) const {
    std::string msg = m_source + ":" + std::to_string(f.line) + ": ";
    if (!f.path.empty()) msg += f.path + ": ";
    throw Error(ErrorCode::invalid_input, msg + what);
  }

  // The entries of a mapping, each checked against `allowed`. yaml-cpp keeps
  // duplicate keys (the last one silently wins elsewhere); a profile with the
  // same key twice is ambiguous, so it is refused.
  std::map<std::string, Field> entries(const Field& f, const std::vector<std::string_view>& allowed,
                                       const std::vector<std::string_view>& required = {}) {
    if (!f.node.IsMap()) fail(f, "expected a mapping, found " + kind_of(f.node));
    std::map<std::string, Field> out;
    const std::string prefix = f.path.empty() ? "" : f.path + ".";
    for (const auto& kv : f.node) {
      const int key_line = line_of(kv.first, f.line);
      if (!kv.first.IsScalar()) {
        fail({kv.first, f.path, key_line}, "keys must be plain names, found " + kind_of(kv.first));
      }
      const std::string key = kv.first.Scalar();
      const Field key_field{kv.first, prefix + key, key_line};
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        fail(key_field,
             "unknown key '" + key + "' (allowed: " + profile_detail::join(allowed) + ")");
      }
      if (out.count(key)) {
        fail(key_field, "duplicate key (first at line " + std::to_string(out[key].line) + ")");
      }
      m_lines[key_field.path] = key_line;
      // The key's line, not the value's: for a block value the value starts
      // on a later line, and for `key:` with nothing yaml-cpp has no mark.
      out[key] = Field{kv.second, key_field.path, key_line};
    }
    for (std::string_view key : required) {
      if (!out.count(std::string(key))) {
        fail({f.node, prefix + std::string(key), f.line}, "required key missing");
      }
    }
    return out;
  }

  std::vector<Field> items(const Field& f) {
    if (!f.node.IsSequence()) fail(f, "expected a list, found " + kind_of(f.node));
    std::vector<Field> out;
    std::size_t i = 0;
    for (const auto& item : f.node) {
      const std::string path = f.path + "[" + std::to_string(i++) + "]";
      const int line = line_of(item, f.line);
      m_lines[path] = line;
      out.push_back({item, path, line});
    }
    return out;
  }

  std::string string_of(const Field& f) const {
    if (!f.node.IsScalar()) fail(f, "expected a string, found " + kind_of(f.node));
    return f.node.Scalar();
  }

  std::vector<std::string> strings_of(const Field& f) {
    std::vector<std::string> out;
    for (const auto& item : items(f))
      out.push_back(string_of(item));
    return out;
  }

  // YAML 1.2 core schema booleans only: "yes"/"on" are YAML 1.1 and surprise
  // people ("NO" as a country code).
  bool bool_of(const Field& f) const {
    if (f.node.IsScalar()) {
      const std::string& s = f.node.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    fail(f, "expected true or false, found " + kind_of(f.node));
  }

  long long int_of(const Field& f, long long min, long long max) const {
    const std::string s = string_of(f);
    long long v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) {
      fail(f, "expected a whole number, found '" + s + "'");
    }
    if (v < min || v > max) {
      fail(f, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return v;
  }

  std::chrono::seconds duration_of(const Field& f) const {
    const std::string s = string_of(f);
    try {
      return parse_duration(s);
    } catch (const Error& e) {
      fail(f, e.what());
    }
  }

  // Converts the enum parsers' Error into one that says where.
  template <class Fn>
  auto named(const Field& f, Fn&& parse) const {
    const std::string s = string_of(f);
    try {
      return parse(s);
    } catch (const Error& e) {
      fail(f, e.what());
    }
  }

  void parse_root(const Field& root) {
    const auto e = entries(root,
                           {"name", "description", "validity", "backdate", "keys",
                            "signature_digest", "subject", "san", "key_usage", "extended_key_usage",
                            "extended_key_usage_critical", "basic_constraints", "name_constraints",
                            "policies", "crl_distribution_points", "aia", "crl", "rotation"},
                           {"name", "validity", "keys"});
    for (const auto& [key, f] : e) {
      if (key == "name") {
        m_spec.name = string_of(f);
        if (m_expected_name && m_spec.name != *m_expected_name) {
          fail(f, "'" + m_spec.name + "' does not match the file name: a profile loaded from '" +
                      *m_expected_name + ".yaml' must be named '" + *m_expected_name + "'");
        }
      } else if (key == "description") {
        m_spec.description = string_of(f);
      } else if (key == "validity") {
        if (f.node.IsScalar() && f.node.Scalar() == "forever") {
          m_spec.validity.forever = true;
        } else {
          m_spec.validity.duration = duration_of(f);
        }
      } else if (key == "backdate") {
        m_spec.validity.backdate = duration_of(f);
      } else if (key == "keys") {
        for (const auto& item : items(f)) {
          m_spec.key_algorithms.push_back(
              named(item, [](const std::string& s) { return parse_key_algorithm(s); }));
        }
      } else if (key == "signature_digest") {
        m_spec.signature_digest = string_of(f);
      } else if (key == "subject") {
        parse_subject(f);
      } else if (key == "san") {
        parse_san(f);
      } else if (key == "key_usage") {
        for (const auto& item : items(f)) {
          m_spec.key_usage.push_back(
              named(item, [](const std::string& s) { return parse_key_usage(s); }));
        }
      } else if (key == "extended_key_usage") {
        m_spec.extended_key_usage = strings_of(f);
      } else if (key == "extended_key_usage_critical") {
        m_spec.extended_key_usage_critical = bool_of(f);
      } else if (key == "basic_constraints") {
        for (const auto& [k, v] : entries(f, {"ca", "path_len"})) {
          if (k == "ca") m_spec.is_ca = bool_of(v);
          // RFC 5280 4.2.1.9 allows any INTEGER (0..MAX); deeper than a few
          // levels is a typo.
          if (k == "path_len") m_spec.path_len = static_cast<int>(int_of(v, 0, 32));
        }
      } else if (key == "name_constraints") {
        for (const auto& [k, v] : entries(f, {"permitted", "excluded"})) {
          auto& list = k == "permitted" ? m_spec.name_constraints.permitted
                                        : m_spec.name_constraints.excluded;
          for (const auto& item : items(v))
            list.push_back(san_value(item));
        }
      } else if (key == "policies") {
        m_spec.policies = strings_of(f);
      } else if (key == "crl_distribution_points") {
        m_spec.crl_distribution_points = strings_of(f);
      } else if (key == "aia") {
        for (const auto& [k, v] : entries(f, {"ca_issuers", "ocsp"})) {
          (k == "ocsp" ? m_spec.aia.ocsp : m_spec.aia.ca_issuers) = strings_of(v);
        }
      } else if (key == "crl") {
        for (const auto& [k, v] :
             entries(f, {"next_update", "delta_next_update", "freshest_crl"})) {
          if (k == "next_update") m_spec.crl.next_update = duration_of(v);
          if (k == "delta_next_update") m_spec.crl.delta_next_update = duration_of(v);
          if (k == "freshest_crl") m_spec.crl.freshest_crl = strings_of(v);
        }
      } else if (key == "rotation") {
        parse_rotation(f);
      }
    }
  }

  // A list of single-key maps keeps the order (which is the DER order) and
  // allows a type twice (two OUs), which a plain mapping would not.
  void parse_subject(const Field& f) {
    for (const auto& item : items(f)) {
      if (!item.node.IsMap()) {
        fail(item, "expected a 'TYPE: value' pair (\"- CN: '{device_id}'\"), found " +
                       kind_of(item.node));
      }
      if (item.node.size() != 1) {
        fail(item,
             "expected one 'TYPE: value' pair per list item (\"- CN: '{device_id}'\"), found " +
                 std::to_string(item.node.size()));
      }
      const auto kv = *item.node.begin();
      if (!kv.first.IsScalar()) fail(item, "attribute type must be a plain name");
      const Field value{kv.second, item.path, item.line};
      m_spec.subject.emplace_back(kv.first.Scalar(), string_of(value));
    }
  }

  SanType san_type_of(const Field& f) const {
    return named(f, [](const std::string& s) { return parse_san_type(s); });
  }

  // {type: dns, value: "..."}
  SubjectAltName san_value(const Field& f) {
    const auto e = entries(f, {"type", "value"}, {"type", "value"});
    return {san_type_of(e.at("type")), string_of(e.at("value"))};
  }

  void parse_san(const Field& f) {
    for (const auto& [k, v] : entries(f, {"allow", "add", "max"})) {
      if (k == "allow") {
        for (const auto& item : items(v)) {
          const auto e = entries(item, {"type", "pattern"}, {"type", "pattern"});
          m_spec.san.allow.push_back({san_type_of(e.at("type")), string_of(e.at("pattern"))});
        }
      } else if (k == "add") {
        for (const auto& item : items(v))
          m_spec.san.add.push_back(san_value(item));
      } else if (k == "max") {
        m_spec.san.max = static_cast<std::size_t>(int_of(v, 0, 1024));
      }
    }
  }

  void parse_rotation(const Field& f) {
    auto& r = m_spec.rotation;
    r.enabled = true;
    for (const auto& [k, v] : entries(
             f, {"renew_before", "rekey", "grace_after_expiry", "revoke_superseded", "jitter"})) {
      if (k == "renew_before") {
        const std::string s = string_of(v);
        if (!s.empty() && s.back() == '%') {
          int pct = 0;
          const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, pct);
          if (ec != std::errc{} || p != s.data() + s.size() - 1 || s.size() == 1) {
            fail(v, "expected a whole percentage (\"33%\"), found '" + s + "'");
          }
          r.renew_before_percent = pct;
        } else {
          r.renew_before = duration_of(v);
        }
      } else if (k == "rekey") {
        r.rekey = named(v, [](const std::string& s) { return profile_detail::parse_rekey(s); });
      } else if (k == "grace_after_expiry") {
        r.grace_after_expiry = duration_of(v);
      } else if (k == "revoke_superseded") {
        r.revoke_superseded = bool_of(v);
      } else if (k == "jitter") {
        r.jitter = duration_of(v);
      }
    }
  }

  int line_for(const std::string& key, const std::string& fallback) const {
    for (const std::string& start : {key, fallback}) {
      if (start.empty()) continue;
      if (auto it = m_lines.find(start); it != m_lines.end()) return it->second;
    }
    for (const std::string& start : {key, fallback}) {
      for (std::string p = parent_path(start); !p.empty(); p = parent_path(p)) {
        if (auto it = m_lines.find(p); it != m_lines.end()) return it->second;
      }
    }
    return 1;
  }

  // Contradictions, reported like parse errors. All of them at once: fixing
  // one at a time through repeated runs is tedious.
  void check_whole() const {
    std::string msg;
    for (const Issue& issue : profile_detail::check_profile(m_spec)) {
      if (issue.severity != Severity::error) continue;
      if (!msg.empty()) msg += "\n";
      msg += m_source + ":" + std::to_string(line_for(issue.key, issue.fallback)) + ": " +
             issue.key + ": " + issue.message + " [" + issue.id + "]";
    }
    if (!msg.empty()) throw Error(ErrorCode::invalid_input, msg);
  }

  std::string m_source;
  std::optional<std::string> m_expected_name;
  ProfileSpec m_spec;
  std::map<std::string, int> m_lines;  // key path -> 1-based line
};

}  // namespace

ProfileSpec parse_profile(std::string_view yaml_text, const std::string& source_name) {
  return Parser(source_name, std::nullopt).parse(yaml_text);
}

ProfileSpec load_profile(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw Error(ErrorCode::not_found, "profile '" + file.string() + "' not found");
  }
  if (std::filesystem::file_size(file, ec) > kMaxProfileBytes && !ec) {
    throw Error(ErrorCode::invalid_input, file.string() + ": larger than " +
                                              std::to_string(kMaxProfileBytes) +
                                              " bytes; not a profile");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, "cannot read profile '" + file.string() + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(ErrorCode::io, "cannot read profile '" + file.string() + "'");
  // A profile is referred to by name (--profile device-ldevid, the store's
  // profile column); the file name is how it is found, so they must agree.
  return Parser(file.string(), file.stem().string()).parse(text.str());
}

}  // namespace pki
