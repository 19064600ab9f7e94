// pki/jitp.hpp: applying a template to a device certificate: trust,
// verification, conditions, attribute mapping, registration.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

#include "core/text.hpp"
#include "pki/error.hpp"
#include "pki/issuance.hpp"
#include "pki/jitp.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace {

using nlohmann::json;

std::string in_quotes(std::string_view s) {
  std::string out = "\"";
  out += printable(s);
  out += '"';
  return out;
}

// Certificate text is UTF-8 as OpenSSL converted it; should a byte sequence
// still be invalid, it is replaced rather than refused by the JSON writer.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool multi_valued(std::string_view field) {
  return field == "eku" || field.substr(0, 4) == "san.";
}

// "subject.O is \"Evil\"", "san.dns has no value", "eku is [\"serverAuth\"]".
std::string field_state(const std::string& field, const std::vector<std::string>& values) {
  std::string out = field;
  if (values.empty()) {
    out += " has no value";
    return out;
  }
  if (values.size() == 1 && !multi_valued(field)) {
    out += " is ";
    out += in_quotes(values.front());
    return out;
  }
  out += " is [";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += in_quotes(values[i]);
  }
  out += "]";
  return out;
}

std::regex compile(const std::string& pattern) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    std::string msg = "regex ";
    msg += in_quotes(pattern);
    msg += " does not compile: ";
    msg += e.what();
    throw Error(ErrorCode::invalid_input, msg);
  }
}

bool holds(const JitpCondition& c, const std::vector<std::string>& values) {
  const std::string first = c.values.empty() ? std::string() : c.values.front();
  const auto in_list = [&](const std::string& v) {
    return std::find(c.values.begin(), c.values.end(), v) != c.values.end();
  };
  switch (c.op) {
    case JitpOp::equals:
    case JitpOp::contains:
      return std::find(values.begin(), values.end(), first) != values.end();
    case JitpOp::matches: {
      const std::regex re = compile(first);
      return std::any_of(values.begin(), values.end(),
                         [&](const std::string& v) { return std::regex_match(v, re); });
    }
    case JitpOp::one_of:
      return !values.empty() && std::all_of(values.begin(), values.end(), in_list);
    case JitpOp::present:
      return values.empty() != c.present;
  }
  return false;
}

class Run {
 public:
  Run(Home& home, const JitpTemplate& tmpl, const JitpRequest& req, TimePoint now)
      : m_home(home),
        m_tmpl(tmpl),
        m_req(req),
        m_now(now),
        m_sha256(req.cert.fingerprint_sha256_hex()) {}

  JitpResult run() {
    JitpResult result;
    result.verified = verify();
    for (std::size_t i = 0; i < m_tmpl.conditions.size(); ++i) {
      const JitpCondition& c = m_tmpl.conditions[i];
      const auto values = certificate_field(m_req.cert, c.field);
      if (!holds(c, values)) {
        std::string reason = "condition ";
        reason += std::to_string(i + 1);
        reason += " (";
        reason += c.describe();
        reason += ") failed: ";
        reason += field_state(c.field, values);
        refuse(ErrorCode::policy, reason);
      }
      result.conditions.push_back(c.describe());
    }
    map_attributes(result);
    register_device(result);
    return result;
  }

 private:
  std::string template_file() const { return m_tmpl.file.empty() ? m_tmpl.name : m_tmpl.file; }

  // Recorded in the audit log (unless a dry run), then thrown.
  [[noreturn]] void refuse(ErrorCode code, const std::string& reason) {
    if (!m_req.dry_run) {
      json detail = {
          {"template", m_tmpl.name}, {"certificate_sha256", m_sha256}, {"reason", reason}};
      if (!m_device_id.empty()) detail["device_id"] = m_device_id;
      // As the other audit events name them: "device/<id>", or the
      // certificate before a device id was mapped.
      std::string subject = m_device_id.empty() ? "certificate/" : "device/";
      subject += m_device_id.empty() ? m_sha256 : m_device_id;
      m_home.store().append_audit(
          AuditEvent{0, m_now, m_req.actor, "jitp.refused", subject, dump(detail)});
    }
    throw Error(code, reason);
  }

  std::vector<Certificate> anchors() {
    std::vector<Certificate> out;
    std::optional<std::vector<TrustAnchorRecord>> bootstrap;  // read once, if needed
    for (const auto& name : m_tmpl.trust) {
      if (m_home.store().find_ca(name)) {
        out.push_back(home_ca_certificate(m_home, name));
        continue;
      }
      if (!bootstrap) bootstrap = bootstrap_anchors(m_home);
      const auto it = std::find_if(bootstrap->begin(), bootstrap->end(),
                                   [&](const TrustAnchorRecord& a) { return a.name == name; });
      if (it == bootstrap->end()) {
        std::string msg = "template ";
        msg += template_file();
        msg += ": trust: '";
        msg += printable(name);
        msg += "' is neither a CA of this home nor a bootstrap anchor (devpki-ca trust list)";
        throw Error(ErrorCode::not_found, msg);
      }
      out.push_back(Certificate::from_der(it->der));
    }
    return out;
  }

  VerifiedDeviceCert verify() {
    const DeviceCertCheck check{anchors(), m_req.intermediates, m_req.crls, m_now};
    try {
      return verify_device_certificate(m_home, m_req.cert, check);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::policy) throw;
      refuse(ErrorCode::policy, e.what());
    }
  }

  // The one value of `field` a {placeholder} stands for.
  std::string single_value(const JitpAttribute& a, const std::string& field) {
    const auto values = certificate_field(m_req.cert, field);
    if (values.size() == 1) return values.front();
    std::string reason = "attribute ";
    reason += a.name;
    reason += ": ";
    reason += field_state(field, values);
    if (!values.empty()) {
      reason += "; {";
      reason += field;
      reason += "} needs exactly one (a pattern attribute picks one)";
    }
    refuse(ErrorCode::policy, reason);
  }

  // A pattern attribute: the values of its field that match the whole
  // pattern must all give the same result (the first group, or the match).
  std::string pattern_value(const JitpAttribute& a) {
    const auto values = certificate_field(m_req.cert, a.field);
    std::string reason = "attribute ";
    reason += a.name;
    reason += ": ";
    if (values.empty()) refuse(ErrorCode::policy, reason + field_state(a.field, values));
    const std::regex re = compile(a.pattern);
    std::set<std::string> results;
    for (const auto& v : values) {
      std::smatch m;
      if (std::regex_match(v, m, re)) results.insert(m.size() > 1 ? m.str(1) : m.str(0));
    }
    if (results.size() == 1) return *results.begin();
    reason += field_state(a.field, values);
    if (results.empty()) {
      reason += values.size() == 1 ? ", which does not match " : ", none of which matches ";
      reason += in_quotes(a.pattern);
    } else {
      reason += ", several of which match ";
      reason += in_quotes(a.pattern);
      reason += " with different results";
    }
    refuse(ErrorCode::policy, reason);
  }

  void map_attributes(JitpResult& result) {
    bool has_device_id = false;
    for (const auto& a : m_tmpl.attributes) {
      std::string value;
      if (!a.pattern.empty()) {
        value = pattern_value(a);
      } else {
        std::map<std::string, std::string> vars;
        for (const auto& field : profile_detail::template_variables(a.text))
          vars.emplace(field, single_value(a, field));
        value = expand_template(a.text, vars);
      }
      if (value.empty()) {
        std::string reason = "attribute ";
        reason += a.name;
        reason += " maps to an empty value";
        refuse(ErrorCode::policy, reason);
      }
      if (a.name == "device_id") {
        try {
          validate_device_id(value);
        } catch (const Error& e) {
          std::string reason = "attribute device_id: ";
          reason += e.what();
          refuse(ErrorCode::policy, reason);
        }
        has_device_id = true;
        m_device_id = value;
      } else {
        result.attributes[a.name] = value;
      }
    }
    if (!has_device_id) {
      std::string msg = "template ";
      msg += template_file();
      msg += ": attributes.device_id: required key missing";
      throw Error(ErrorCode::invalid_input, msg);
    }
    result.device_id = m_device_id;
  }

  // "device X is registered with model=\"X1\"; this certificate maps
  // model=\"X2\": nothing changed", naming each attribute that differs.
  std::string conflict_message(const DeviceRecord& stored, const json& mapped) const {
    std::string before;
    std::string after;
    const json old = json::parse(stored.attributes, nullptr, false);
    if (old.is_object()) {
      std::set<std::string> keys;
      for (const auto& [k, v] : old.items())
        keys.insert(k);
      for (const auto& [k, v] : mapped.items())
        keys.insert(k);
      const auto render = [](const json& obj, const std::string& k) {
        std::string out = k;
        out += '=';
        if (!obj.contains(k)) {
          out += "(none)";
        } else {
          out += obj[k].is_string() ? in_quotes(obj[k].get<std::string>()) : dump(obj[k]);
        }
        return out;
      };
      for (const auto& k : keys) {
        if (old.contains(k) && mapped.contains(k) && old[k] == mapped[k]) continue;
        before += before.empty() ? "" : ", ";
        before += render(old, k);
        after += after.empty() ? "" : ", ";
        after += render(mapped, k);
      }
    }
    if (before.empty()) {  // not an object, or equal but written differently
      before = "attributes ";
      before += printable(stored.attributes);
      after = "attributes ";
      after += dump(mapped);
    }
    std::string msg = "device ";
    msg += m_device_id;
    msg += " is registered with ";
    msg += before;
    msg += "; this certificate maps ";
    msg += after;
    msg += ": nothing changed";
    return msg;
  }

  [[noreturn]] void refuse_decommissioned(const DeviceRecord& d) {
    std::string reason = "device ";
    reason += m_device_id;
    reason += " is decommissioned";
    if (d.decommissioned_at) {
      reason += " (since ";
      reason += format_time(*d.decommissioned_at);
      reason += ")";
    }
    reason += ": not registered";
    refuse(ErrorCode::policy, reason);
  }

  void register_device(JitpResult& result) {
    json mapped = json::object();
    for (const auto& [k, v] : result.attributes)
      mapped[k] = v;
    const std::string attributes = dump(mapped);  // keys sorted
    Store& store = m_home.store();
    if (m_req.dry_run) {
      const auto existing = store.find_device(m_device_id);
      if (!existing) {
        result.outcome = RegisterOutcome::registered;
        result.device.device_id = m_device_id;
        result.device.status = "active";
        result.device.created_at = m_now;
        result.device.updated_at = m_now;
      } else if (existing->status == "decommissioned") {
        refuse_decommissioned(*existing);
      } else if (existing->attributes == attributes) {
        result.outcome = RegisterOutcome::unchanged;
        result.device = *existing;
        return;
      } else if (existing->attributes.empty() || existing->attributes == "{}") {
        result.outcome = RegisterOutcome::registered;
        result.device = *existing;
        result.device.updated_at = m_now;
      } else {
        refuse(ErrorCode::conflict, conflict_message(*existing, mapped));
      }
      result.device.attributes = attributes;
      result.device.registered_by = m_tmpl.name;
      result.device.registered_cert = m_sha256;
      return;
    }
    const json detail = {
        {"template", m_tmpl.name}, {"certificate_sha256", m_sha256}, {"attributes", mapped}};
    const RegisterResult r = store.register_device(
        DeviceRegistration{m_device_id, attributes, m_tmpl.name, m_sha256, m_now},
        AuditEvent{0, m_now, m_req.actor, "jitp.register", "device/" + m_device_id, dump(detail)});
    switch (r.outcome) {
      case RegisterOutcome::registered:
      case RegisterOutcome::unchanged:
        result.outcome = r.outcome;
        result.device = r.device;
        return;
      case RegisterOutcome::conflict:
        refuse(ErrorCode::conflict, conflict_message(r.device, mapped));
      case RegisterOutcome::decommissioned:
        refuse_decommissioned(r.device);
    }
    throw Error(ErrorCode::internal, "register_device: unknown outcome");
  }

  Home& m_home;
  const JitpTemplate& m_tmpl;
  const JitpRequest& m_req;
  TimePoint m_now;
  std::string m_sha256;
  std::string m_device_id;  // once mapped
};

}  // namespace

JitpResult apply_jitp(Home& home, const JitpTemplate& tmpl, const JitpRequest& req,
                      const Clock& clock) {
  return Run(home, tmpl, req, clock.now()).run();
}

}  // namespace pki
