// pki/jitp.hpp: the just-in-time provisioning template, parsed strictly.
// Every message starts "<file>:<line>: <key path>: " so a person can go
// straight to the line, as profile and provisioning-data messages do.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <optional>
#include <regex>

#include "core/fs.hpp"
#include "core/text.hpp"
#include "pki/error.hpp"
#include "pki/jitp.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace {

constexpr std::size_t kMaxTemplateBytes = 1024 * 1024;

constexpr std::array<std::pair<JitpOp, std::string_view>, 5> kOps{{
    {JitpOp::equals, "equals"},
    {JitpOp::matches, "matches"},
    {JitpOp::contains, "contains"},
    {JitpOp::one_of, "one_of"},
    {JitpOp::present, "present"},
}};

std::string in_quotes(std::string_view s) {
  std::string out = "\"";
  out += printable(s);
  out += '"';
  return out;
}

// One value in the document: where it is and what it is called.
struct Node {
  YAML::Node node;
  std::string path;  // "conditions[1].matches"
  int line = 1;      // 1-based
};

int line_of(const YAML::Node& n, int fallback) {
  const YAML::Mark m = n.Mark();
  return m.is_null() || m.line < 0 ? fallback : m.line + 1;
}

std::string kind_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "'" + printable(n.Scalar()) + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined value";
  }
}

bool valid_template_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  const auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_digit(s.front())) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return lower_digit(c) || c == '.' || c == '_' || c == '-'; });
}

bool valid_attribute_name(std::string_view s) {
  if (s.empty() || s.size() > 32 || s.front() < 'a' || s.front() > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

const char* kKnownFields =
    "subject.<attr>, issuer.<attr>, san.dns, san.uri, san.email, san.ip, eku, serial, key";

class Parser {
 public:
  explicit Parser(std::string file) : m_file(std::move(file)) {}

  JitpTemplate parse(std::string_view text) {
    if (text.size() > kMaxTemplateBytes) {
      fail({{}, "", 1},
           "larger than " + std::to_string(kMaxTemplateBytes) + " bytes; not a template");
    }
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
      fail({{}, "", e.mark.is_null() || e.mark.line < 0 ? 1 : e.mark.line + 1},
           "YAML syntax error: " + e.msg);
    }
    if (docs.empty() || docs[0].IsNull()) fail({{}, "", 1}, "empty template");
    if (docs.size() > 1) {
      fail({docs[1], "", line_of(docs[1], 1)},
           "one template per file; found a second YAML document");
    }
    JitpTemplate t;
    t.file = m_file;
    const Node root{docs[0], "", line_of(docs[0], 1)};
    for (const auto& [key, f] :
         entries(root, {"name", "description", "trust", "conditions", "attributes"},
                 {"name", "trust", "attributes"})) {
      if (key == "name") {
        t.name = text_of(f);
        if (!valid_template_name(t.name)) {
          fail(f, "'" + printable(t.name) + "' is not a template name ([a-z0-9][a-z0-9._-]{0,63})");
        }
      } else if (key == "description") {
        t.description = text_of(f);
      } else if (key == "trust") {
        trust(f, t);
      } else if (key == "conditions") {
        if (!f.node.IsNull()) {  // "conditions:" with nothing: none
          for (const auto& item : items(f, false))
            t.conditions.push_back(condition(item));
        }
      } else if (key == "attributes") {
        attributes(f, t);
      }
    }
    return t;
  }

 private:
  [[noreturn]] void fail(const Node& f, const std::string& what) const {
    std::string msg = m_file;
    msg += ":";
    msg += std::to_string(f.line);
    msg += ": ";
    if (!f.path.empty()) {
      msg += f.path;
      msg += ": ";
    }
    msg += what;
    throw Error(ErrorCode::invalid_input, msg);
  }

  // The entries of a mapping in document order, each checked against
  // `allowed` (yaml-cpp keeps duplicate keys: refused as ambiguous).
  std::vector<std::pair<std::string, Node>> entries(const Node& f,
                                                    const std::vector<std::string_view>& allowed,
                                                    const std::vector<std::string_view>& required,
                                                    bool any_key = false) const {
    if (!f.node.IsMap()) fail(f, "expected a mapping, found " + kind_of(f.node));
    std::vector<std::pair<std::string, Node>> out;
    const std::string prefix = f.path.empty() ? "" : f.path + ".";
    for (const auto& kv : f.node) {
      const int key_line = line_of(kv.first, f.line);
      if (!kv.first.IsScalar()) {
        fail({kv.first, f.path, key_line}, "keys must be plain names, found " + kind_of(kv.first));
      }
      const std::string key = kv.first.Scalar();
      const Node key_node{kv.first, prefix + key, key_line};
      if (!any_key && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        fail(key_node, "unknown key '" + printable(key) +
                           "' (allowed: " + profile_detail::join(allowed) + ")");
      }
      for (const auto& [k, prev] : out) {
        if (k == key)
          fail(key_node, "duplicate key (first at line " + std::to_string(prev.line) + ")");
      }
      // The key's line: for a block value the value starts on a later line.
      out.emplace_back(key, Node{kv.second, key_node.path, key_line});
    }
    for (std::string_view key : required) {
      if (std::none_of(out.begin(), out.end(), [&](const auto& e) { return e.first == key; })) {
        fail({f.node, prefix + std::string(key), f.line}, "required key missing");
      }
    }
    return out;
  }

  std::vector<Node> items(const Node& f, bool non_empty) const {
    if (!f.node.IsSequence()) fail(f, "expected a list, found " + kind_of(f.node));
    if (non_empty && f.node.size() == 0) fail(f, "expected a non-empty list");
    std::vector<Node> out;
    std::size_t i = 0;
    for (const auto& item : f.node) {
      out.push_back({item, f.path + "[" + std::to_string(i++) + "]", line_of(item, f.line)});
    }
    return out;
  }

  std::string text_of(const Node& f) const {
    if (!f.node.IsScalar() || f.node.Scalar().empty()) {
      fail(f, "expected non-empty text, found " + kind_of(f.node));
    }
    return f.node.Scalar();
  }

  void field_name(const Node& f, const std::string& name) const {
    if (!is_known_field(name)) {
      fail(f, "unknown field '" + printable(name) + "' (fields: " + kKnownFields + ")");
    }
  }

  void regex(const Node& f, const std::string& pattern) const {
    try {
      const std::regex re(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      fail(f, "regex " + in_quotes(pattern) + " does not compile: " + e.what());
    }
  }

  // A value that can never be read from a certificate is a typo that would
  // refuse every device: eku names and serial spellings are checked here.
  void comparable(const Node& f, const std::string& field, const std::string& value) const {
    if (field == "eku") {
      const auto& names = profile_detail::extended_key_usage_names();
      if (std::find(names.begin(), names.end(), value) == names.end() &&
          !profile_detail::is_dotted_oid(value)) {
        fail(f, "'" + printable(value) + "' is neither an extended key usage (" +
                    profile_detail::join(names) + ") nor a dotted OID");
      }
    } else if (field == "serial") {
      if (!std::all_of(value.begin(), value.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
        fail(f, "'" + printable(value) +
                    "' is not a serial as certificates are read (lower-case hex, no separators)");
      }
    }
  }

  void trust(const Node& f, JitpTemplate& t) const {
    for (const auto& item : items(f, true)) {
      const std::string name = text_of(item);
      if (!valid_template_name(name)) {
        fail(item, "'" + printable(name) + "' is not a CA or trust anchor name");
      }
      if (std::find(t.trust.begin(), t.trust.end(), name) != t.trust.end()) {
        fail(item, "'" + name + "' is listed twice");
      }
      t.trust.push_back(name);
    }
  }

  JitpCondition condition(const Node& item) const {
    JitpCondition c;
    c.line = item.line;
    if (!item.node.IsMap()) fail(item, "expected a mapping, found " + kind_of(item.node));
    std::vector<std::string_view> allowed{"field"};
    for (const auto& [op, name] : kOps)
      allowed.push_back(name);
    std::vector<std::pair<std::string, Node>> ops;
    std::optional<Node> field;
    for (const auto& [key, f] : entries(item, {}, {"field"}, true)) {
      if (key == "field") {
        field = f;
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::vector<std::string_view> names(allowed.begin() + 1, allowed.end());
        fail(f, "unknown operator '" + printable(key) +
                    "' (operators: " + profile_detail::join(names) + "; and field)");
      }
      if (!ops.empty()) {
        fail(f, "two operators (" + ops.front().first + ", " + key + "): one per condition");
      }
      ops.emplace_back(key, f);
    }
    c.field = text_of(*field);
    field_name(*field, c.field);
    if (ops.empty()) {
      std::vector<std::string_view> names(allowed.begin() + 1, allowed.end());
      fail(item, "no operator (one of " + profile_detail::join(names) + ")");
    }
    const auto& [op_name, v] = ops.front();
    for (const auto& [op, name] : kOps)
      if (name == op_name) c.op = op;
    switch (c.op) {
      case JitpOp::equals:
      case JitpOp::contains:
        c.values.push_back(text_of(v));
        comparable(v, c.field, c.values.back());
        break;
      case JitpOp::matches:
        c.values.push_back(text_of(v));
        regex(v, c.values.back());
        break;
      case JitpOp::one_of:
        for (const auto& x : items(v, true)) {
          c.values.push_back(text_of(x));
          comparable(x, c.field, c.values.back());
        }
        break;
      case JitpOp::present: {
        // YAML 1.2 core schema booleans only, as profiles read them.
        const std::string s = v.node.IsScalar() ? v.node.Scalar() : "";
        if (s == "true" || s == "True" || s == "TRUE") {
          c.present = true;
        } else if (s == "false" || s == "False" || s == "FALSE") {
          c.present = false;
        } else {
          fail(v, "expected true or false, found " + kind_of(v.node));
        }
        break;
      }
    }
    return c;
  }

  void attributes(const Node& f, JitpTemplate& t) const {
    for (const auto& [name, v] : entries(f, {}, {"device_id"}, true)) {
      if (!valid_attribute_name(name)) {
        fail(v, "'" + printable(name) + "' is not an attribute name ([a-z][a-z0-9_]{0,31})");
      }
      JitpAttribute a;
      a.name = name;
      a.line = v.line;
      if (v.node.IsMap()) {
        for (const auto& [key, x] : entries(v, {"field", "pattern"}, {"field", "pattern"})) {
          if (key == "field") {
            a.field = text_of(x);
            field_name(x, a.field);
          } else {
            a.pattern = text_of(x);
            regex(x, a.pattern);
          }
        }
      } else {
        if (!v.node.IsScalar()) {
          fail(v, "expected text with {field} placeholders or {field, pattern}, found " +
                      kind_of(v.node));
        }
        a.text = text_of(v);
        if (const auto error = profile_detail::template_syntax_error(a.text)) fail(v, *error);
        for (const auto& field : profile_detail::template_variables(a.text)) {
          if (!is_known_field(field)) {
            fail(v, "unknown field '{" + printable(field) + "}' (fields: " + kKnownFields + ")");
          }
        }
      }
      t.attributes.push_back(std::move(a));
    }
  }

  std::string m_file;
};

}  // namespace

std::string_view to_string(JitpOp op) noexcept {
  for (const auto& [o, name] : kOps)
    if (o == op) return name;
  return "?";
}

std::string JitpCondition::describe() const {
  std::string out = field;
  switch (op) {
    case JitpOp::present:
      out += present ? " is present" : " is absent";
      return out;
    case JitpOp::one_of:
      out += " one_of [";
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out += ", ";
        out += in_quotes(values[i]);
      }
      out += "]";
      return out;
    default:
      out += ' ';
      out += to_string(op);
      out += ' ';
      out += in_quotes(values.empty() ? std::string() : values.front());
      return out;
  }
}

JitpTemplate parse_jitp_template(std::string_view yaml, const std::string& file) {
  return Parser(file).parse(yaml);
}

JitpTemplate load_jitp_template(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    std::string msg = "template '";
    msg += file.string();
    msg += "' not found";
    throw Error(ErrorCode::not_found, msg);
  }
  return Parser(file.string()).parse(fs::read_text(file, kMaxTemplateBytes + 1));
}

}  // namespace pki
