// Whole-profile rules: fields that parse on their own but contradict each
// other or RFC 5280. Findings, not exceptions: the tools print
// them all; parse_profile refuses a profile with any error.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "pki/clock.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace profile_detail {

namespace {

using std::chrono::seconds;

std::string quote(std::string_view s) {
  // Appends rather than "'" + s + "'": GCC 12 -O3 warns falsely (-Wrestrict) on the latter.
  std::string out;
  out.reserve(s.size() + 2);
  out += '\'';
  out += s;
  out += '\'';
  return out;
}
std::string at(std::string_view key, std::size_t i) {
  return std::string(key) + "[" + std::to_string(i) + "]";
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A host name, or with `allow_wildcard` a pattern whose '*' labels stand for
// one label each (profile.hpp SanRule). RFC 1035 2.3.4 lengths; letters,
// digits and '-' (no '_': it is not valid in a host name, RFC 952/1123).
std::optional<std::string> dns_problem(std::string_view name, bool allow_wildcard) {
  if (name.empty()) return "empty";
  if (name.size() > 253) return "longer than 253 characters";
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return "empty label";
    if (label.size() > 63) return "label longer than 63 characters";
    if (label == "*") {
      if (!allow_wildcard) return "'*' is not allowed here";
    } else {
      for (char c : label) {
        if (c == '*') return "'*' must be a whole label (it matches exactly one label)";
        if (!is_alnum(c) && c != '-') return "invalid character " + quote(std::string(1, c));
      }
      if (label.front() == '-' || label.back() == '-') return "label starts or ends with '-'";
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return std::nullopt;
}

bool is_ip(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

// "10.0.0.0/8", "2001:db8::/32".
bool is_cidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string addr(text.substr(0, slash));
  const std::string_view len = text.substr(slash + 1);
  if (len.empty() || len.size() > 3 ||
      !std::all_of(len.begin(), len.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int bits = std::stoi(std::string(len));
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return bits <= 32;
  if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) return bits <= 128;
  return false;
}

// RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'.
bool has_uri_scheme(std::string_view uri) {
  const std::size_t colon = uri.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon + 1 == uri.size()) return false;
  if (!std::isalpha(static_cast<unsigned char>(uri[0]))) return false;
  return std::all_of(uri.begin(), uri.begin() + static_cast<std::ptrdiff_t>(colon),
                     [](char c) { return is_alnum(c) || c == '+' || c == '-' || c == '.'; });
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

// Shape of a SAN value or pattern once its variables are known. Templates are
// checked with a placeholder standing for each variable.
std::optional<std::string> san_problem(SanType type, std::string_view templ, bool pattern) {
  if (templ.empty()) return "empty";
  if (auto e = template_syntax_error(templ)) return *e;
  const bool templated = expand_with_placeholder(templ, "") != templ;
  const std::string value = expand_with_placeholder(templ, "x");
  switch (type) {
    case SanType::dns:
      if (auto e = dns_problem(value, pattern))
        return "not a DNS name" + std::string(pattern ? " pattern" : "") + ": " + *e;
      return std::nullopt;
    case SanType::ip:
      if (templated) return std::nullopt;  // known only at issuance
      if (is_ip(value) || (pattern && is_cidr(value))) return std::nullopt;
      return pattern ? "not an IP address or CIDR block" : "not an IP address";
    case SanType::email: {
      const std::size_t atpos = value.find('@');
      if (atpos == 0 || atpos == std::string::npos ||
          value.find('@', atpos + 1) != std::string::npos) {
        return "not an email address (local@domain)";
      }
      if (has_space_or_control(value)) return "contains a space or control character";
      if (auto e = dns_problem(std::string_view(value).substr(atpos + 1), pattern)) {
        return "bad domain: " + *e;
      }
      return std::nullopt;
    }
    case SanType::uri:
      if (!has_uri_scheme(value)) return "not a URI (scheme:rest)";
      if (has_space_or_control(value)) return "contains a space or control character";
      return std::nullopt;
  }
  return "unknown SAN type";
}

// RFC 5280 4.2.1.10 forms of a name constraint.
std::optional<std::string> constraint_problem(const SubjectAltName& c) {
  if (c.value.find_first_of("{}") != std::string::npos) {
    return "name constraints are fixed in the CA certificate; no {variables}";
  }
  const std::string_view v = c.value;
  const auto host = [](std::string_view h) -> std::optional<std::string> {
    if (!h.empty() && h.front() == '.') h.remove_prefix(1);
    return dns_problem(h, false);
  };
  switch (c.type) {
    case SanType::dns:
      if (auto e = host(v)) return "not a DNS name (\"acme.example\" or \".acme.example\"): " + *e;
      return std::nullopt;
    case SanType::ip:
      if (!is_cidr(v)) return "not a CIDR block (\"10.0.0.0/8\")";
      return std::nullopt;
    case SanType::email: {
      const std::size_t atpos = v.find('@');
      const std::string_view domain = atpos == std::string_view::npos ? v : v.substr(atpos + 1);
      if (atpos == 0 || has_space_or_control(v)) return "not a mailbox, host or .domain";
      if (auto e = host(domain)) return "not a mailbox, host or .domain: " + *e;
      return std::nullopt;
    }
    case SanType::uri:
      if (auto e = host(v))
        return "URI constraints name a host (\"acme.example\" or \".acme.example\"): " + *e;
      return std::nullopt;
  }
  return "unknown SAN type";
}

bool valid_san_type(SanType t) {
  return t == SanType::dns || t == SanType::ip || t == SanType::email || t == SanType::uri;
}

class Checker {
 public:
  explicit Checker(const ProfileSpec& spec) : m_spec(spec) {}

  std::vector<Issue> run() {
    check_name();
    check_validity();
    check_keys();
    check_subject();
    check_san();
    check_key_usage();
    check_eku();
    check_basic_constraints();
    check_name_constraints();
    check_policies();
    check_urls();
    check_crl();
    check_rotation();
    return std::move(m_issues);
  }

 private:
  void error(std::string id, std::string key, std::string message, std::string fallback = {}) {
    m_issues.push_back(
        {Severity::error, std::move(id), std::move(key), std::move(message), std::move(fallback)});
  }
  void warning(std::string id, std::string key, std::string message, std::string fallback = {}) {
    m_issues.push_back({Severity::warning, std::move(id), std::move(key), std::move(message),
                        std::move(fallback)});
  }

  void check_name() {
    const std::string& n = m_spec.name;
    if (n.empty()) {
      error("name.missing", "name", "a profile needs a name");
      return;
    }
    // It is a file stem and a store column: keep it to characters that are
    // safe in both.
    const bool ok = is_alnum(n.front()) && std::all_of(n.begin(), n.end(), [](char c) {
                      return is_alnum(c) || c == '-' || c == '_' || c == '.';
                    });
    if (!ok) {
      error("name.invalid", "name",
            quote(n) +
                " must start with a letter or digit and hold only letters, digits, "
                "'-', '_' and '.'");
    }
  }

  void check_validity() {
    const auto& v = m_spec.validity;
    if (v.forever) {
      // IEEE 802.1AR wants it for IDevIDs; for a CA it means a key that can
      // never be retired by expiry.
      if (m_spec.is_ca) {
        warning("validity.forever_ca", "validity",
                "a CA certificate that never expires can only be retired by revocation");
      }
      return;
    }
    if (v.duration <= seconds{0}) {
      error("validity.zero", "validity", "must be longer than zero (or 'forever')");
      return;
    }
    if (v.backdate >= v.duration) {
      error("validity.backdate_too_long", "backdate",
            "backdate (" + format_duration(v.backdate) + ") must be shorter than validity (" +
                format_duration(v.duration) + ")",
            "validity");
    }
  }

  void check_keys() {
    if (m_spec.key_algorithms.empty()) {
      error("keys.empty", "keys",
            "at least one key algorithm must be allowed (allowed: ec-p256, "
            "ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096)");
    }
    std::set<KeyAlgorithm> seen;
    for (std::size_t i = 0; i < m_spec.key_algorithms.size(); ++i) {
      if (!seen.insert(m_spec.key_algorithms[i]).second) {
        warning("keys.duplicate", at("keys", i),
                quote(to_string(m_spec.key_algorithms[i])) + " is listed twice");
      }
    }
    const std::string& d = m_spec.signature_digest;
    if (d != "sha256" && d != "sha384" && d != "sha512") {
      error("signature_digest.unknown", "signature_digest",
            "unknown digest " + quote(d) + " (allowed: sha256, sha384, sha512)");
    }
  }

  void check_subject() {
    const auto& names = subject_attribute_names();
    for (std::size_t i = 0; i < m_spec.subject.size(); ++i) {
      const auto& [type, value] = m_spec.subject[i];
      if (std::find(names.begin(), names.end(), type) == names.end()) {
        error("subject.unknown_attribute", at("subject", i),
              "unknown attribute type " + quote(type) + " (allowed: " + join(names) + ")");
      }
      if (value.empty()) {
        error("subject.empty_value", at("subject", i), quote(type) + " has an empty value");
      } else if (auto e = template_syntax_error(value)) {
        error("subject.bad_template", at("subject", i), *e);
      }
    }
    // RFC 5280 4.1.2.6: an empty subject needs a SAN (marked critical). A CA
    // profile's subject is usually given when the CA is created (--subject),
    // so only end-entity profiles must say where the identity comes from.
    if (m_spec.subject.empty() && !m_spec.is_ca && m_spec.san.allow.empty() &&
        m_spec.san.add.empty()) {
      error("subject.empty_without_san", "subject",
            "an empty subject needs a SAN: add subject attributes, san.add or san.allow");
    }
  }

  void check_san() {
    const auto& san = m_spec.san;
    for (std::size_t i = 0; i < san.allow.size(); ++i) {
      const auto& rule = san.allow[i];
      const std::string key = at("san.allow", i);
      if (!valid_san_type(rule.type)) {
        error("san.bad_type", key + ".type",
              "unknown SAN type (allowed: " + allowed_san_type_names() + ")", key);
      } else if (auto e = san_problem(rule.type, rule.pattern, true)) {
        error("san.bad_pattern", key + ".pattern", quote(rule.pattern) + ": " + *e, key);
      }
    }
    for (std::size_t i = 0; i < san.add.size(); ++i) {
      const auto& add = san.add[i];
      const std::string key = at("san.add", i);
      if (!valid_san_type(add.type)) {
        error("san.bad_type", key + ".type",
              "unknown SAN type (allowed: " + allowed_san_type_names() + ")", key);
      } else if (auto e = san_problem(add.type, add.value, false)) {
        error("san.bad_value", key + ".value", quote(add.value) + ": " + *e, key);
      }
    }
    if (san.max == 0 || san.max < san.add.size()) {
      error("san.max_too_small", "san.max",
            "max (" + std::to_string(san.max) + ") must be at least 1 and at least the " +
                std::to_string(san.add.size()) + " SANs the profile adds",
            "san");
    }
  }

  bool has_usage(KeyUsage u) const {
    return std::find(m_spec.key_usage.begin(), m_spec.key_usage.end(), u) != m_spec.key_usage.end();
  }

  void check_key_usage() {
    std::set<KeyUsage> seen;
    for (std::size_t i = 0; i < m_spec.key_usage.size(); ++i) {
      if (!seen.insert(m_spec.key_usage[i]).second) {
        warning("key_usage.duplicate", at("key_usage", i),
                quote(to_string(m_spec.key_usage[i])) + " is listed twice");
      }
    }
    check_usage_fits_keys();
    if (m_spec.is_ca) {
      // RFC 5280 4.2.1.3: keyCertSign is asserted in CA certificates that
      // verify certificate signatures; otherwise cA is pointless.
      if (!has_usage(KeyUsage::key_cert_sign)) {
        error("key_usage.ca_without_key_cert_sign", "key_usage",
              "a CA profile (basic_constraints.ca: true) needs keyCertSign",
              "basic_constraints.ca");
      }
      if (!has_usage(KeyUsage::crl_sign)) {
        warning("key_usage.ca_without_crl_sign", "key_usage",
                "without cRLSign this CA cannot publish CRLs, so it cannot revoke",
                "basic_constraints.ca");
      }
    } else {
      // RFC 5280 4.2.1.9: "If the cA boolean is not asserted, then the
      // keyCertSign bit in the key usage extension MUST NOT be asserted."
      if (has_usage(KeyUsage::key_cert_sign)) {
        error("key_usage.key_cert_sign_without_ca", "key_usage",
              "keyCertSign needs basic_constraints: {ca: true}");
      }
      // RFC 5280 allows a non-CA CRL issuer (indirect CRLs); devpki has none,
      // so cRLSign on an end-entity is a mistake here.
      if (has_usage(KeyUsage::crl_sign)) {
        error("key_usage.crl_sign_without_ca", "key_usage",
              "cRLSign needs basic_constraints: {ca: true} (devpki has no delegated CRL issuers)");
      }
    }
  }

  // A usage some allowed key type cannot perform. A warning: the profile may
  // list several key types and the usage fits the others.
  void check_usage_fits_keys() {
    const auto allows = [&](std::initializer_list<KeyAlgorithm> algs) {
      for (KeyAlgorithm a : algs) {
        if (std::find(m_spec.key_algorithms.begin(), m_spec.key_algorithms.end(), a) !=
            m_spec.key_algorithms.end()) {
          return true;
        }
      }
      return false;
    };
    const bool ec_or_ed =
        allows({KeyAlgorithm::ec_p256, KeyAlgorithm::ec_p384, KeyAlgorithm::ed25519});
    const bool rsa_or_ed = allows({KeyAlgorithm::rsa_2048, KeyAlgorithm::rsa_3072,
                                   KeyAlgorithm::rsa_4096, KeyAlgorithm::ed25519});
    // RFC 5480 3 and RFC 8410 5 list the usages of EC and Ed25519 keys;
    // encipherment is not among them.
    for (KeyUsage u : {KeyUsage::key_encipherment, KeyUsage::data_encipherment}) {
      if (has_usage(u) && ec_or_ed) {
        warning("key_usage.incompatible_key", "key_usage",
                std::string(to_string(u)) +
                    " does not apply to EC or Ed25519 keys (RFC 5480 3, "
                    "RFC 8410 5), which this profile allows");
      }
    }
    // RSA and Ed25519 keys sign; they cannot agree keys.
    if (has_usage(KeyUsage::key_agreement) && rsa_or_ed) {
      warning("key_usage.incompatible_key", "key_usage",
              "keyAgreement does not apply to RSA or Ed25519 keys, which this profile allows");
    }
  }

  void check_eku() {
    const auto& names = extended_key_usage_names();
    std::set<std::string> seen;
    for (std::size_t i = 0; i < m_spec.extended_key_usage.size(); ++i) {
      const std::string& e = m_spec.extended_key_usage[i];
      if (std::find(names.begin(), names.end(), e) == names.end() && !is_dotted_oid(e)) {
        error("extended_key_usage.unknown", at("extended_key_usage", i),
              quote(e) + " is neither a known name (" + join(names) + ") nor a dotted OID");
      }
      if (!seen.insert(e).second) {
        warning("extended_key_usage.duplicate", at("extended_key_usage", i),
                quote(e) + " is listed twice");
      }
    }
    if (m_spec.extended_key_usage_critical && m_spec.extended_key_usage.empty()) {
      warning("extended_key_usage.critical_without_eku", "extended_key_usage_critical",
              "has no effect: the profile lists no extended key usage");
    }
  }

  void check_basic_constraints() {
    if (!m_spec.path_len) return;
    if (!m_spec.is_ca) {
      // RFC 5280 4.2.1.9: pathLenConstraint only when cA is asserted.
      error("basic_constraints.path_len_without_ca", "basic_constraints.path_len",
            "path_len is meaningful only with ca: true", "basic_constraints");
    } else if (*m_spec.path_len < 0) {
      error("basic_constraints.path_len_negative", "basic_constraints.path_len",
            "must be 0 or more (omit it for no limit)", "basic_constraints");
    }
  }

  void check_name_constraints() {
    const auto& nc = m_spec.name_constraints;
    if (!nc.empty() && !m_spec.is_ca) {
      // RFC 5280 4.2.1.10: "MUST be used only in a CA certificate".
      error("name_constraints.without_ca", "name_constraints",
            "name constraints belong in CA profiles only");
    }
    const auto each = [&](const std::vector<SubjectAltName>& list, const std::string& key) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string item = at(key, i);
        if (!valid_san_type(list[i].type)) {
          error("name_constraints.bad_value", item + ".type",
                "unknown type (allowed: " + allowed_san_type_names() + ")", item);
        } else if (auto e = constraint_problem(list[i])) {
          error("name_constraints.bad_value", item + ".value", quote(list[i].value) + ": " + *e,
                item);
        }
      }
    };
    each(nc.permitted, "name_constraints.permitted");
    each(nc.excluded, "name_constraints.excluded");
  }

  void check_policies() {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < m_spec.policies.size(); ++i) {
      const std::string& p = m_spec.policies[i];
      if (p != "anyPolicy" && !is_dotted_oid(p)) {
        error("policies.bad_oid", at("policies", i),
              quote(p) + " is not a dotted OID (\"1.3.6.1.4.1.99999.1.1\") or \"anyPolicy\"");
      }
      // RFC 5280 4.2.1.4: "A certificate policy OID MUST NOT appear more than
      // once".
      if (!seen.insert(p).second) {
        error("policies.duplicate", at("policies", i), quote(p) + " is listed twice");
      }
    }
  }

  void check_url_list(const std::vector<std::string>& urls, const std::string& key,
                      const std::string& id) {
    for (std::size_t i = 0; i < urls.size(); ++i) {
      if (auto e = url_problem(urls[i])) error(id, at(key, i), quote(urls[i]) + ": " + *e, key);
    }
  }

  void check_urls() {
    check_url_list(m_spec.crl_distribution_points, "crl_distribution_points",
                   "crl_distribution_points.bad_url");
    check_url_list(m_spec.aia.ca_issuers, "aia.ca_issuers", "aia.bad_url");
    check_url_list(m_spec.aia.ocsp, "aia.ocsp", "aia.bad_url");
  }

  void check_crl() {
    const auto& crl = m_spec.crl;
    if (crl.next_update <= seconds{0}) {
      error("crl.zero", "crl.next_update", "must be longer than zero", "crl");
    }
    if (crl.delta_next_update) {
      if (*crl.delta_next_update <= seconds{0}) {
        error("crl.zero", "crl.delta_next_update", "must be longer than zero", "crl");
      } else if (*crl.delta_next_update >= crl.next_update) {
        error("crl.delta_not_shorter", "crl.delta_next_update",
              "a delta CRL (" + format_duration(*crl.delta_next_update) +
                  ") must be published more often than the full CRL (" +
                  format_duration(crl.next_update) + ")",
              "crl");
      }
    }
    check_url_list(crl.freshest_crl, "crl.freshest_crl", "crl.bad_url");
    // RFC 5280 5.2.6: freshestCRL says where the delta CRLs are; without
    // deltas it points at nothing.
    if (!crl.freshest_crl.empty() && !crl.delta_next_update) {
      error("crl.freshest_without_delta", "crl.freshest_crl",
            "freshest_crl names where delta CRLs are published, but the profile has no "
            "delta_next_update (no delta CRLs)",
            "crl");
    }
  }

  void check_rotation() {
    const auto& r = m_spec.rotation;
    if (!r.enabled) return;
    if (r.renew_before_percent && r.renew_before) {
      error("rotation.both_percent_and_duration", "rotation.renew_before",
            "give renew_before as a percentage or as a duration, not both", "rotation");
      return;
    }
    if (!r.renew_before_percent && !r.renew_before) {
      error("rotation.renew_before_missing", "rotation.renew_before",
            "required: a share of the lifetime (\"33%\") or a duration (\"30d\")", "rotation");
      return;
    }
    if (m_spec.validity.forever) {
      error("rotation.forever", "rotation",
            "a certificate that never expires is never due for renewal; remove rotation or set "
            "a validity");
      return;
    }
    const seconds lifetime = m_spec.validity.duration;
    seconds window{0};
    if (r.renew_before_percent) {
      const int p = *r.renew_before_percent;
      if (p < 1 || p > 99) {
        error("rotation.percent_out_of_range", "rotation.renew_before",
              std::to_string(p) + "% must be between 1% and 99% of the lifetime", "rotation");
        return;
      }
      window = lifetime * p / 100;
    } else {
      window = *r.renew_before;
      if (window <= seconds{0}) {
        error("rotation.renew_before_zero", "rotation.renew_before",
              "must be longer than zero: a certificate due at expiry is renewed too late",
              "rotation");
        return;
      }
      if (lifetime > seconds{0} && window >= lifetime) {
        error("rotation.renew_before_too_long", "rotation.renew_before",
              format_duration(window) + " is not shorter than the validity (" +
                  format_duration(lifetime) + "): every certificate would be due when issued",
              "rotation");
        return;
      }
    }
    if (r.jitter > seconds{0} && r.jitter >= window) {
      warning("rotation.jitter_too_long", "rotation.jitter",
              "jitter (" + format_duration(r.jitter) +
                  ") is not shorter than the renewal window (" + format_duration(window) +
                  "): some devices would renew only after expiry",
              "rotation");
    }
  }

  const ProfileSpec& m_spec;
  std::vector<Issue> m_issues;
};

}  // namespace

std::optional<std::string> url_problem(std::string_view templ) {
  if (auto e = template_syntax_error(templ)) return *e;
  // A template that starts with a variable ("{base_url}/crl/{ca}.crl", the
  // value from devpki.yaml `variables:`) gets its scheme and host only at
  // issuance, where the expanded URL is checked the same way.
  if (templ.starts_with('{') && !templ.starts_with("{{")) {
    return has_space_or_control(expand_with_placeholder(templ, "x"))
               ? std::optional<std::string>("contains a space or control character")
               : std::nullopt;
  }
  std::string url = expand_with_placeholder(templ, "x");
  std::string lower = url;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::size_t rest = 0;
  for (std::string_view scheme : {"http://", "https://", "ldap://"}) {
    if (lower.starts_with(scheme)) rest = scheme.size();
  }
  if (rest == 0) return "not an http://, https:// or ldap:// URL";
  if (rest == url.size() || url[rest] == '/') return "no host";
  if (has_space_or_control(url)) return "contains a space or control character";
  return std::nullopt;
}

const std::vector<std::string_view>& subject_attribute_names() {
  static const std::vector<std::string_view> names{"C",
                                                   "ST",
                                                   "L",
                                                   "O",
                                                   "OU",
                                                   "CN",
                                                   "serialNumber",
                                                   "emailAddress",
                                                   "DC",
                                                   "UID",
                                                   "title",
                                                   "givenName",
                                                   "surname",
                                                   "pseudonym",
                                                   "organizationIdentifier"};
  return names;
}

const std::vector<std::string_view>& extended_key_usage_names() {
  static const std::vector<std::string_view> names{
      "serverAuth", "clientAuth", "codeSigning", "emailProtection", "timeStamping", "OCSPSigning"};
  return names;
}

bool is_dotted_oid(std::string_view text) {
  std::vector<std::string_view> arcs;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    arcs.push_back(
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (arcs.size() < 2) return false;
  for (std::string_view arc : arcs) {
    if (arc.empty() || arc.size() > 19) return false;
    if (!std::all_of(arc.begin(), arc.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    if (arc.size() > 1 && arc.front() == '0') return false;  // X.690 8.19: minimal encoding
  }
  // X.660: first arc 0, 1 or 2; under 0 and 1 the second arc is below 40.
  if (arcs[0].size() != 1 || arcs[0][0] > '2') return false;
  if (arcs[0][0] != '2' && (arcs[1].size() > 2 || std::stoi(std::string(arcs[1])) >= 40)) {
    return false;
  }
  return true;
}

std::string join(const std::vector<std::string_view>& items, std::string_view sep) {
  std::string out;
  for (std::string_view item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

std::vector<Issue> check_profile(const ProfileSpec& spec) {
  return Checker(spec).run();
}

}  // namespace profile_detail

Findings validate_profile(const ProfileSpec& spec) {
  Findings out;
  for (auto& issue : profile_detail::check_profile(spec)) {
    std::string message = issue.key + ": " + issue.message;
    if (issue.severity == Severity::error) {
      out.error(std::move(issue.id), std::move(message));
    } else {
      out.warning(std::move(issue.id), std::move(message));
    }
  }
  return out;
}

}  // namespace pki
