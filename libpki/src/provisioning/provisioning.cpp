// pki/provisioning.hpp: the provisioning-methods data file, the assessment
// and the comparison table.
#include "pki/provisioning.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "pki/error.hpp"

namespace pki {

namespace {

template <class E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<Audience, 4> kAudiences{{{Audience::consumer, "consumer"},
                                         {Audience::enterprise, "enterprise"},
                                         {Audience::industrial, "industrial"},
                                         {Audience::prototype, "prototype"}}};
constexpr Names<SecurityLevel, 3> kSecurity{{{SecurityLevel::high, "high"},
                                             {SecurityLevel::medium, "medium"},
                                             {SecurityLevel::low, "low"}}};
constexpr Names<Connectivity, 2> kConnectivity{
    {{Connectivity::always, "always"}, {Connectivity::intermittent, "intermittent"}}};

template <class E, std::size_t N>
std::string_view name_of(const Names<E, N>& names, E e) noexcept {
  for (const auto& [v, n] : names)
    if (v == e) return n;
  return "?";
}

template <class E, std::size_t N>
E parse_name(const Names<E, N>& names, std::string_view s, std::string_view what) {
  std::string allowed;
  for (const auto& [v, n] : names) {
    if (n == s) return v;
    if (!allowed.empty()) allowed += ", ";
    allowed += n;
  }
  std::string msg = "unknown ";
  msg += what;
  msg += " '";
  msg += s;
  msg += "' (allowed: ";
  msg += allowed;
  msg += ")";
  throw Error(ErrorCode::invalid_input, msg);
}

}  // namespace

std::string_view to_string(Audience a) noexcept {
  return name_of(kAudiences, a);
}
std::string_view to_string(SecurityLevel s) noexcept {
  return name_of(kSecurity, s);
}
std::string_view to_string(Connectivity c) noexcept {
  return name_of(kConnectivity, c);
}
Audience parse_audience(std::string_view s) {
  return parse_name(kAudiences, s, "audience");
}
SecurityLevel parse_security_level(std::string_view s) {
  return parse_name(kSecurity, s, "security level");
}
Connectivity parse_connectivity(std::string_view s) {
  return parse_name(kConnectivity, s, "connectivity");
}
bool parse_yes_no(std::string_view s, std::string_view what) {
  if (s == "yes") return true;
  if (s == "no") return false;
  std::string msg = "unknown ";
  msg += what;
  msg += " '";
  msg += s;
  msg += "' (allowed: yes, no)";
  throw Error(ErrorCode::invalid_input, msg);
}

bool ProvisioningCondition::holds(const Deployment& d) const {
  const auto in = [](const auto& list, auto v) {
    return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
  };
  if (!in(audience, d.audience) || !in(security, d.security)) return false;
  if (!connectivity.empty() && (!d.connectivity || !in(connectivity, *d.connectivity))) {
    return false;
  }
  if (secure_element && d.secure_element != secure_element) return false;
  if (cloud_native && d.cloud_native != cloud_native) return false;
  if (scale_min && d.scale < *scale_min) return false;
  if (scale_max && d.scale > *scale_max) return false;
  return true;
}

std::string ProvisioningCondition::to_string() const {
  std::vector<std::string> parts;
  const auto list = [&](std::string_view key, const auto& values) {
    if (values.empty()) return;
    std::string p(key);
    p += ' ';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) p += " or ";
      p += pki::to_string(values[i]);
    }
    parts.push_back(std::move(p));
  };
  list("audience", audience);
  list("security", security);
  list("connectivity", connectivity);
  if (secure_element) parts.push_back(*secure_element ? "a secure element" : "no secure element");
  if (cloud_native) parts.push_back(*cloud_native ? "cloud-native" : "not cloud-native");
  if (scale_min) parts.push_back("scale >= " + std::to_string(*scale_min));
  if (scale_max) parts.push_back("scale <= " + std::to_string(*scale_max));
  if (parts.empty()) return "always";
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += ", ";
    out += parts[i];
  }
  return out;
}

const ProvisioningMethod* ProvisioningData::find(std::string_view id) const {
  for (const auto& m : methods)
    if (m.id == id) return &m;
  return nullptr;
}

namespace {

// ---- parsing --------------------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::string source) : m_source(std::move(source)) {}

  ProvisioningData parse(std::string_view text) {
    if (text.size() > 4 * 1024 * 1024) fail(1, "", "larger than 4 MiB; not a data file");
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      fail(e.mark.is_null() || e.mark.line < 0 ? 1 : e.mark.line + 1, "",
           "YAML syntax error: " + e.msg);
    }
    if (!root.IsMap()) fail(1, "", "expected a mapping with version, dimensions, methods");
    ProvisioningData d;
    d.source = m_source;
    check_keys(root, "", {"version", "dimensions", "methods", "assess", "guide"});
    const auto version = req(root, "", "version");
    if (integer(version, "version") != 1) {
      fail(line(version), "version", "this devpki reads version 1 data files");
    }
    dimensions(req(root, "", "dimensions"), d);
    methods(req(root, "", "methods"), d);
    assess(req(root, "", "assess"), d);
    guide(req(root, "", "guide"), d);
    return d;
  }

 private:
  [[noreturn]] void fail(int at, const std::string& key, const std::string& what) const {
    std::string msg = m_source + ":" + std::to_string(at) + ": ";
    if (!key.empty()) msg += key + ": ";
    msg += what;
    throw Error(ErrorCode::invalid_input, msg);
  }
  static int line(const YAML::Node& n) {
    const YAML::Mark m = n.Mark();
    return m.is_null() || m.line < 0 ? 1 : m.line + 1;
  }
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  YAML::Node req(const YAML::Node& map, const std::string& path, const std::string& key) const {
    const YAML::Node n = map[key];
    if (!n) fail(line(map), join(path, key), "missing");
    return n;
  }
  void check_keys(const YAML::Node& map, const std::string& path,
                  std::initializer_list<std::string_view> allowed) const {
    if (!map.IsMap()) fail(line(map), path, "expected a mapping");
    for (const auto& kv : map) {
      const std::string k = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::string list;
        for (auto a : allowed) {
          if (!list.empty()) list += ", ";
          list += a;
        }
        fail(line(kv.first), join(path, k), "unknown key (allowed: " + list + ")");
      }
    }
  }
  std::string text(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar() || n.Scalar().empty()) fail(line(n), path, "expected non-empty text");
    return n.Scalar();
  }
  long long integer(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar()) fail(line(n), path, "expected a whole number");
    const std::string& s = n.Scalar();
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size()) fail(line(n), path, "'" + s + "' is not a whole number");
    return v;
  }
  double number(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar()) fail(line(n), path, "expected a number");
    const std::string& s = n.Scalar();
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size() || !std::isfinite(v)) {
      fail(line(n), path, "'" + s + "' is not a number");
    }
    return v;
  }
  std::vector<YAML::Node> list(const YAML::Node& n, const std::string& path) const {
    if (!n.IsSequence() || n.size() == 0) fail(line(n), path, "expected a non-empty list");
    std::vector<YAML::Node> out;
    for (const auto& x : n)
      out.push_back(x);
    return out;
  }
  static std::string at(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }
  bool known_dimension(const ProvisioningData& d, const std::string& id) const {
    return std::any_of(d.dimensions.begin(), d.dimensions.end(),
                       [&](const auto& x) { return x.id == id; });
  }
  static bool valid_id(const std::string& s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
  }

  void dimensions(const YAML::Node& n, ProvisioningData& d) const {
    const auto items = list(n, "dimensions");
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string p = at("dimensions", i);
      check_keys(items[i], p, {"id", "title"});
      ProvisioningDimension dim{text(req(items[i], p, "id"), p + ".id"),
                                text(req(items[i], p, "title"), p + ".title")};
      if (!valid_id(dim.id)) fail(line(items[i]), p + ".id", "'" + dim.id + "' is not an id");
      if (known_dimension(d, dim.id)) fail(line(items[i]), p + ".id", "'" + dim.id + "' twice");
      d.dimensions.push_back(std::move(dim));
    }
  }

  void methods(const YAML::Node& n, ProvisioningData& d) const {
    const auto items = list(n, "methods");
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string p = at("methods", i);
      const YAML::Node& m = items[i];
      check_keys(m, p, {"id", "name", "summary", "best_for", "ratings", "devpki"});
      ProvisioningMethod pm;
      pm.id = text(req(m, p, "id"), p + ".id");
      if (!valid_id(pm.id)) fail(line(m), p + ".id", "'" + pm.id + "' is not an id");
      if (d.find(pm.id)) fail(line(m), p + ".id", "method '" + pm.id + "' twice");
      pm.name = text(req(m, p, "name"), p + ".name");
      pm.summary = text(req(m, p, "summary"), p + ".summary");
      pm.best_for = text(req(m, p, "best_for"), p + ".best_for");
      const YAML::Node ratings = req(m, p, "ratings");
      const std::string rp = p + ".ratings";
      if (!ratings.IsMap()) fail(line(ratings), rp, "expected a mapping");
      for (const auto& kv : ratings) {
        const std::string dim = kv.first.Scalar();
        const std::string kp = rp + "." + dim;
        if (!known_dimension(d, dim)) fail(line(kv.first), kp, "not one of the dimensions");
        check_keys(kv.second, kp, {"score", "value", "reason"});
        ProvisioningRating r;
        const YAML::Node score = req(kv.second, kp, "score");
        const long long s = integer(score, kp + ".score");
        if (s < 1 || s > 5) fail(line(score), kp + ".score", std::to_string(s) + " is not 1..5");
        r.score = static_cast<int>(s);
        r.value = text(req(kv.second, kp, "value"), kp + ".value");
        r.reason = text(req(kv.second, kp, "reason"), kp + ".reason");
        pm.ratings.emplace(dim, std::move(r));
      }
      for (const auto& dim : d.dimensions) {
        if (!pm.ratings.count(dim.id)) fail(line(ratings), rp + "." + dim.id, "missing");
      }
      const auto cmds = list(req(m, p, "devpki"), p + ".devpki");
      for (std::size_t j = 0; j < cmds.size(); ++j)
        pm.devpki.push_back(text(cmds[j], at(p + ".devpki", j)));
      d.methods.push_back(std::move(pm));
    }
  }

  template <class E, std::size_t N>
  std::vector<E> values(const YAML::Node& n, const std::string& path, const Names<E, N>& names,
                        std::string_view what) const {
    std::vector<YAML::Node> nodes;
    if (n.IsSequence()) {
      for (const auto& x : n)
        nodes.push_back(x);
    } else {
      nodes.push_back(n);
    }
    std::vector<E> out;
    for (const auto& v : nodes) {
      try {
        out.push_back(parse_name(names, text(v, path), what));
      } catch (const Error& e) {
        if (std::string(e.what()).rfind(m_source, 0) == 0) throw;
        fail(line(v), path, e.what());
      }
    }
    return out;
  }

  ProvisioningCondition condition(const YAML::Node& n, const std::string& path) const {
    ProvisioningCondition c;
    if (n.IsNull()) return c;
    check_keys(n, path,
               {"audience", "security", "connectivity", "secure_element", "cloud_native",
                "scale_min", "scale_max"});
    if (n["audience"])
      c.audience = values(n["audience"], path + ".audience", kAudiences, "audience");
    if (n["security"]) {
      c.security = values(n["security"], path + ".security", kSecurity, "security level");
    }
    if (n["connectivity"]) {
      c.connectivity =
          values(n["connectivity"], path + ".connectivity", kConnectivity, "connectivity");
    }
    const auto yes_no = [&](const char* key) -> std::optional<bool> {
      const YAML::Node v = n[key];
      if (!v) return std::nullopt;
      const std::string k = path + "." + key;
      const std::string s = text(v, k);
      // YAML 1.1 reads yes/no as booleans; both spellings are accepted.
      if (s == "yes" || s == "true") return true;
      if (s == "no" || s == "false") return false;
      fail(line(v), k, "'" + s + "' is not yes or no");
    };
    c.secure_element = yes_no("secure_element");
    c.cloud_native = yes_no("cloud_native");
    const auto scale = [&](const char* key) -> std::optional<std::uint64_t> {
      const YAML::Node v = n[key];
      if (!v) return std::nullopt;
      const long long s = integer(v, path + "." + key);
      if (s < 0) fail(line(v), path + "." + key, "must not be negative");
      return static_cast<std::uint64_t>(s);
    };
    c.scale_min = scale("scale_min");
    c.scale_max = scale("scale_max");
    return c;
  }

  void assess(const YAML::Node& n, ProvisioningData& d) const {
    check_keys(n, "assess", {"weights", "adjust", "bonus"});
    const YAML::Node w = req(n, "assess", "weights");
    if (!w.IsMap()) fail(line(w), "assess.weights", "expected a mapping");
    for (const auto& kv : w) {
      const std::string dim = kv.first.Scalar();
      const std::string k = "assess.weights." + dim;
      if (!known_dimension(d, dim)) fail(line(kv.first), k, "not one of the dimensions");
      const double v = number(kv.second, k);
      if (v < 0) fail(line(kv.second), k, "must not be negative");
      d.weights[dim] = v;
    }
    for (const auto& dim : d.dimensions) {
      if (!d.weights.count(dim.id)) fail(line(w), "assess.weights." + dim.id, "missing");
    }
    if (const YAML::Node adj = n["adjust"]) {
      const auto items = list(adj, "assess.adjust");
      for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string p = at("assess.adjust", i);
        check_keys(items[i], p, {"when", "weights", "because"});
        WeightRule r;
        r.when = condition(req(items[i], p, "when"), p + ".when");
        const YAML::Node ws = req(items[i], p, "weights");
        if (!ws.IsMap()) fail(line(ws), p + ".weights", "expected a mapping");
        for (const auto& kv : ws) {
          const std::string dim = kv.first.Scalar();
          const std::string k = p + ".weights." + dim;
          if (!known_dimension(d, dim)) fail(line(kv.first), k, "not one of the dimensions");
          const double v = number(kv.second, k);
          if (v < 0) fail(line(kv.second), k, "adjustments add weight; must not be negative");
          r.weights[dim] = v;
        }
        r.because = text(req(items[i], p, "because"), p + ".because");
        d.adjust.push_back(std::move(r));
      }
    }
    if (const YAML::Node bonus = n["bonus"]) {
      const auto items = list(bonus, "assess.bonus");
      for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string p = at("assess.bonus", i);
        check_keys(items[i], p, {"when", "method", "points", "because"});
        BonusRule r;
        r.when = condition(req(items[i], p, "when"), p + ".when");
        const YAML::Node m = req(items[i], p, "method");
        r.method = text(m, p + ".method");
        if (!d.find(r.method)) fail(line(m), p + ".method", "no method '" + r.method + "'");
        r.points = number(req(items[i], p, "points"), p + ".points");
        r.because = text(req(items[i], p, "because"), p + ".because");
        d.bonus.push_back(std::move(r));
      }
    }
  }

  void guide(const YAML::Node& n, ProvisioningData& d) const {
    const auto items = list(n, "guide");
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string p = at("guide", i);
      check_keys(items[i], p, {"when", "recommend", "tradeoff"});
      GuideRule r;
      r.when = condition(req(items[i], p, "when"), p + ".when");
      const auto rec = list(req(items[i], p, "recommend"), p + ".recommend");
      for (std::size_t j = 0; j < rec.size(); ++j) {
        const std::string id = text(rec[j], at(p + ".recommend", j));
        if (!d.find(id)) fail(line(rec[j]), at(p + ".recommend", j), "no method '" + id + "'");
        r.recommend.push_back(id);
      }
      r.tradeoff = text(req(items[i], p, "tradeoff"), p + ".tradeoff");
      d.guide.push_back(std::move(r));
    }
    if (d.guide.back().when.to_string() != "always") {
      fail(line(items.back()), at("guide", items.size() - 1) + ".when",
           "the last guide rule must hold always (when: {}), so every deployment gets an answer");
    }
  }

  std::string m_source;
};

std::string fmt_number(double v) {
  char buf[32];
  if (std::fabs(v - std::round(v)) < 1e-9) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  }
  return buf;
}

}  // namespace

ProvisioningData parse_provisioning_data(std::string_view yaml_text, const std::string& source) {
  return Parser(source).parse(yaml_text);
}

ProvisioningData load_provisioning_data(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::not_found,
                "cannot read the provisioning data file " + file.string() + " (--data FILE)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_provisioning_data(ss.str(), file.string());
}

Assessment assess(const ProvisioningData& data, const Deployment& d) {
  Assessment a;
  a.deployment = d;
  a.weights = data.weights;
  for (const auto& r : data.adjust) {
    if (!r.when.holds(d)) continue;
    for (const auto& [dim, w] : r.weights)
      a.weights[dim] += w;
    a.adjustments.push_back(r.because);
  }
  for (const auto& m : data.methods) {
    MethodScore s;
    s.method = &m;
    // Contributions relative to a middling rating (3), for the explanation.
    std::vector<std::pair<double, const ProvisioningDimension*>> pulls;
    for (const auto& dim : data.dimensions) {
      const double w = a.weights.at(dim.id);
      const int score = m.ratings.at(dim.id).score;
      s.score += w * score;
      if (w > 0 && score != 3) pulls.emplace_back(w * (score - 3), &dim);
    }
    double bonus_total = 0;
    for (const auto& b : data.bonus) {
      if (b.method != m.id || !b.when.holds(d)) continue;
      s.score += b.points;
      bonus_total += b.points;
      s.bonuses.push_back((b.points >= 0 ? "+" : "") + fmt_number(b.points) + ": " + b.because);
    }
    std::sort(pulls.begin(), pulls.end(),
              [](const auto& x, const auto& y) { return std::fabs(x.first) > std::fabs(y.first); });
    std::string strong, weak;
    int ns = 0, nw = 0;
    for (const auto& [v, dim] : pulls) {
      const auto& r = m.ratings.at(dim->id);
      std::string item = dim->title;
      item += " (";
      item += r.value;
      item += ")";
      if (v > 0 && ns < 2) {
        strong += (ns++ ? ", " : "") + item;
      } else if (v < 0 && nw < 2) {
        weak += (nw++ ? ", " : "") + item;
      }
    }
    std::string e = m.name + " scores " + fmt_number(s.score);
    if (!strong.empty()) e += ": strongest where this deployment weighs most on " + strong;
    if (!weak.empty()) e += (strong.empty() ? ": " : "; ") + std::string("held back by ") + weak;
    if (bonus_total != 0) {
      e += "; ";
      e += bonus_total > 0 ? "+" : "";
      e += fmt_number(bonus_total);
      e += " for the deployment (";
      e += std::to_string(s.bonuses.size());
      e += s.bonuses.size() == 1 ? " rule)" : " rules)";
    }
    e += ".";
    s.explanation = std::move(e);
    a.ranking.push_back(std::move(s));
  }
  std::stable_sort(a.ranking.begin(), a.ranking.end(),
                   [](const MethodScore& x, const MethodScore& y) { return x.score > y.score; });
  for (const auto& g : data.guide) {
    if (g.when.holds(d)) {
      a.guide = &g;
      break;
    }
  }
  return a;
}

TableFormat parse_table_format(std::string_view s) {
  if (s == "table") return TableFormat::table;
  if (s == "markdown") return TableFormat::markdown;
  if (s == "csv") return TableFormat::csv;
  if (s == "json") return TableFormat::json;
  throw Error(ErrorCode::invalid_input,
              "unknown format '" + std::string(s) + "' (allowed: table, markdown, csv, json)");
}

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string cell(const ProvisioningRating& r) {
  return r.value + " (" + std::to_string(r.score) + "/5)";
}

// Display width of UTF-8 text (code points; the data is Latin text and dashes).
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xc0) != 0x80) ++n;
  return n;
}

}  // namespace

std::string compare_table(const ProvisioningData& data, TableFormat format) {
  std::vector<std::string> header{"Method"};
  for (const auto& d : data.dimensions)
    header.push_back(d.title);
  header.push_back("Best for");
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : data.methods) {
    std::vector<std::string> row{m.name};
    for (const auto& d : data.dimensions)
      row.push_back(cell(m.ratings.at(d.id)));
    row.push_back(m.best_for);
    rows.push_back(std::move(row));
  }
  std::string out;
  switch (format) {
    case TableFormat::markdown: {
      const auto line = [&](const std::vector<std::string>& cells) {
        out += "|";
        for (const auto& c : cells) {
          out += ' ';
          for (char ch : c)
            out += ch == '|' ? std::string("\\|") : std::string(1, ch);
          out += " |";
        }
        out += '\n';
      };
      line(header);
      out += "|";
      for (std::size_t i = 0; i < header.size(); ++i)
        out += " --- |";
      out += '\n';
      for (const auto& r : rows)
        line(r);
      break;
    }
    case TableFormat::csv: {
      std::vector<std::string> h{"id"};
      h.insert(h.end(), header.begin(), header.end());
      for (std::size_t i = 0; i < h.size(); ++i)
        out += (i ? "," : "") + csv_field(h[i]);
      out += '\n';
      for (const auto& m : data.methods) {
        out += csv_field(m.id) + "," + csv_field(m.name);
        for (const auto& d : data.dimensions)
          out += "," + csv_field(cell(m.ratings.at(d.id)));
        out += "," + csv_field(m.best_for) + "\n";
      }
      break;
    }
    case TableFormat::json: {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& m : data.methods) {
        nlohmann::json r;
        r["id"] = m.id;
        r["name"] = m.name;
        r["summary"] = m.summary;
        r["best_for"] = m.best_for;
        for (const auto& d : data.dimensions) {
          const auto& rt = m.ratings.at(d.id);
          r["ratings"][d.id] = {{"score", rt.score}, {"value", rt.value}, {"reason", rt.reason}};
        }
        r["devpki"] = m.devpki;
        j.push_back(std::move(r));
      }
      out = j.dump(2) + "\n";
      break;
    }
    case TableFormat::table: {
      // Aligned columns; the reasons behind each rating are in --format json
      // and docs/provisioning.md.
      std::vector<std::size_t> w(header.size(), 0);
      for (std::size_t i = 0; i < header.size(); ++i) {
        w[i] = width(header[i]);
        for (const auto& r : rows)
          w[i] = std::max(w[i], width(r[i]));
      }
      const auto line = [&](const std::vector<std::string>& cells) {
        std::string l;
        for (std::size_t i = 0; i < cells.size(); ++i) {
          l += cells[i];
          if (i + 1 < cells.size()) l += std::string(w[i] - width(cells[i]) + 2, ' ');
        }
        out += l + "\n";
      };
      line(header);
      std::vector<std::string> rule;
      for (std::size_t i = 0; i < header.size(); ++i) {
        std::string dash;
        for (std::size_t k = 0; k < w[i]; ++k)
          dash += '-';
        rule.push_back(dash);
      }
      line(rule);
      for (const auto& r : rows)
        line(r);
      break;
    }
  }
  return out;
}

}  // namespace pki
