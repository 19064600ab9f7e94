#include "pki/issuance.hpp"

#include <algorithm>

#include "cert/general_name.hpp"
#include "core/fs.hpp"
#include "core/text.hpp"
#include "issuance/san_match.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"

namespace pki {

namespace {

std::string san_text(const SubjectAltName& s) {
  return std::string(to_string(s.type)) + ":" + s.value;
}

bool profile_uses(const ProfileSpec& p, std::string_view var) {
  std::string token = "{";
  token += var;
  token += '}';
  auto has = [&](const std::string& t) { return t.find(token) != std::string::npos; };
  return std::any_of(p.subject.begin(), p.subject.end(),
                     [&](const auto& kv) { return has(kv.second); }) ||
         std::any_of(p.san.add.begin(), p.san.add.end(),
                     [&](const auto& s) { return has(s.value); }) ||
         std::any_of(p.san.allow.begin(), p.san.allow.end(),
                     [&](const auto& r) { return has(r.pattern); });
}

}  // namespace

void validate_device_id(const std::string& id) {
  const bool ok = !id.empty() && id.size() <= 64 &&
                  std::isalnum(static_cast<unsigned char>(id[0])) &&
                  std::all_of(id.begin(), id.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                           c == ':' || c == '-';
                  });
  if (!ok) {
    throw Error(ErrorCode::invalid_input,
                "invalid device id '" + printable(id) +
                    "': use 1 to 64 of A-Z a-z 0-9 . _ : - starting with a letter or digit");
  }
}

DistinguishedName build_subject(const ProfileSpec& profile,
                                const std::map<std::string, std::string>& vars) {
  std::vector<NameAttribute> attrs;
  for (const auto& [type, templ] : profile.subject) {
    std::string value = expand_template(templ, vars);
    if (!value.empty()) attrs.push_back({type, std::move(value)});
  }
  DistinguishedName dn(std::move(attrs));
  if (const Findings f = dn.validate(); f.has_errors()) {
    throw Error(ErrorCode::invalid_input,
                "subject from profile '" + profile.name + "': " + f.error_summary());
  }
  return dn;
}

std::vector<SubjectAltName> build_sans(const ProfileSpec& profile,
                                       const std::vector<SubjectAltName>& requested,
                                       const std::map<std::string, std::string>& vars) {
  std::vector<SubjectAltName> out;
  auto add_unique = [&](SubjectAltName s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  };
  for (const auto& a : profile.san.add) {
    SubjectAltName s{a.type, expand_template(a.value, vars)};
    if (const std::string err = san_syntax_error(s); !err.empty()) {
      throw Error(ErrorCode::invalid_input, "profile '" + profile.name + "' SAN: " + err);
    }
    add_unique(std::move(s));
  }
  for (const auto& r : requested) {
    if (const std::string err = san_syntax_error(r); !err.empty()) {
      throw Error(ErrorCode::invalid_input, "CSR subjectAltName: " + err);
    }
    const bool allowed =
        std::any_of(profile.san.allow.begin(), profile.san.allow.end(), [&](const SanRule& rule) {
          return rule.type == r.type &&
                 san_matches(r.type, expand_template(rule.pattern, vars), r.value);
        });
    if (!allowed) {
      std::string list;
      for (const auto& rule : profile.san.allow) {
        list += (list.empty() ? "" : ", ") + std::string(to_string(rule.type)) + ":" +
                expand_template(rule.pattern, vars);
      }
      throw Error(ErrorCode::policy, "CSR subjectAltName " + san_text(r) +
                                         " is not allowed by profile '" + profile.name +
                                         "' (allowed: " + (list.empty() ? "none" : list) + ")");
    }
    add_unique(r);
  }
  if (out.size() > profile.san.max) {
    throw Error(ErrorCode::policy, "certificate would carry " + std::to_string(out.size()) +
                                       " subject alternative names; profile '" + profile.name +
                                       "' allows " + std::to_string(profile.san.max));
  }
  return out;
}

SignResult sign_csr(Home& home, const SignRequest& req, const Clock& clock) {
  // 1. validate request: everything that can be refused is refused before the store changes.
  if (!req.device_id.empty()) validate_device_id(req.device_id);
  const ProfileSpec profile = home.profile(req.profile);
  Findings profile_warnings = validate_profile(profile);  // errors made home.profile() throw
  if (profile.is_ca) {
    throw Error(ErrorCode::policy,
                "profile '" + profile.name + "' is a CA profile: use `devpki-ca issue-ca`");
  }
  const auto ca = home.store().find_ca(req.ca);
  if (!ca)
    throw Error(ErrorCode::not_found,
                "no CA named '" + printable(req.ca) + "' (see `devpki-ca list`)");
  // A rolled-over CA's requests go to the CA that issues in its place now.
  std::string issuer = req.ca;
  Findings redirect;
  if (ca->status == CaStatus::retired) {
    issuer = current_issuer(home, req.ca);
    std::string msg = "CA '" + req.ca;
    msg += "' was rolled over";
    if (ca->retired_at) msg += " on " + format_time(*ca->retired_at).substr(0, 10);
    msg += "; issued by its successor '" + issuer;
    msg += "' instead (use --ca " + issuer;
    msg += ")";
    redirect.warning("ca.rolled_over", std::move(msg));
  }
  if (req.out.empty()) throw Error(ErrorCode::invalid_input, "no output file given");
  fs::check_writable(req.out, req.overwrite);
  if (!req.device_id.empty() && !req.allow_decommissioned) {
    const std::string ids[] = {req.device_id};
    if (!home.store().decommissioned_devices(ids).empty()) {
      throw Error(ErrorCode::policy, "device '" + req.device_id +
                                         "' was decommissioned; nothing was issued (use "
                                         "--allow-decommissioned to issue it a certificate again)");
    }
  }

  const CertificationRequest csr = CertificationRequest::parse(req.csr, req.limits);
  if (csr.asks_ca()) {
    throw Error(ErrorCode::policy,
                "CSR requests basicConstraints CA:TRUE; devpki-ca sign issues only end-entity "
                "certificates");
  }
  if (csr.asks_cert_sign()) {
    throw Error(
        ErrorCode::policy,
        "CSR requests keyCertSign or cRLSign; devpki-ca sign issues only end-entity certificates");
  }
  const KeyDescription key = csr.public_key().describe();
  require_key_allowed(profile, key.algorithm(), "CSR key " + key.to_string());

  // 2. build
  std::map<std::string, std::string> vars = home.settings().variables;
  for (const auto& [k, v] : req.variables)
    vars[k] = v;
  vars["ca"] = issuer;  // CRL and AIA URLs point at the CA that signs
  vars["profile"] = profile.name;
  if (!req.device_id.empty()) {
    vars["device_id"] = req.device_id;
  } else if (profile_uses(profile, "device_id")) {
    throw Error(ErrorCode::invalid_input,
                "profile '" + profile.name + "' needs a device id (--device-id)");
  }
  const TimePoint now = clock.now();
  CertificateSpec spec;
  spec.profile = profile;
  spec.subject = build_subject(profile, vars);
  spec.sans = build_sans(profile, csr.sans(), vars);
  spec.public_key = csr.public_key();
  spec.not_before = now - profile.validity.backdate;
  spec.not_after = profile.validity.forever ? forever() : now + profile.validity.duration;
  spec.variables = vars;

  // 3. check (inside draft: RFC 5280, validity, name constraints, pathLen)
  const Authority authority = load_authority(home, issuer, req.passphrase);
  const Draft draft = authority.draft(spec);

  // 4. reserve: durable before any signature; refuses a live duplicate device.
  CertRecord rec;
  rec.issuer = issuer;
  rec.serial_hex = draft.serial_hex();
  rec.device_id = req.device_id;
  rec.profile = profile.name;
  rec.subject = draft.subject();
  rec.not_before = draft.not_before();
  rec.not_after = draft.not_after();
  rec.spki_sha256 = draft.spki_sha256();
  rec.status = CertStatus::reserved;
  rec.output = std::filesystem::absolute(req.out).string();
  rec.created_at = now;
  rec.updated_at = now;
  Store& store = home.store();
  store.reserve(rec, ReserveOptions{true, now});

  // 5. sign, 6. deliver: a failure here abandons the serial (it stays burnt).
  Certificate cert;
  try {
    cert = authority.sign(draft);
    fs::write_file_atomic(req.out, cert.to_pem(), 0644, req.overwrite);
  } catch (...) {
    store.abandon(issuer, rec.serial_hex, now);
    throw;
  }
  // 7. commit. Should it fail, the row stays reserved with its output in
  // place, and recover_reserved() completes it.
  store.commit_issued(issuer, rec.serial_hex, cert.der(), now);
  std::string detail = "{\"profile\":\"" + profile.name;
  detail += "\",\"device_id\":\"" + req.device_id;
  detail += "\",\"spki_sha256\":\"" + rec.spki_sha256;
  if (issuer != req.ca) detail += "\",\"requested_ca\":\"" + req.ca;
  detail += "\"}";
  store.append_audit(
      AuditEvent{0, now, req.actor, "cert.issue", issuer + "/" + rec.serial_hex, detail});
  profile_warnings.append(redirect);
  profile_warnings.append(draft.findings());
  return SignResult{std::move(cert), rec.serial_hex, std::move(profile_warnings), issuer};
}

RecoveryReport recover_reserved(Home& home, const Clock& clock, std::chrono::seconds min_age,
                                const std::string& actor) {
  RecoveryReport report;
  Store& store = home.store();
  const TimePoint now = clock.now();
  CertQuery q;
  q.status = CertStatus::reserved;
  for (const CertRecord& row : store.find_certs(q)) {
    if (row.created_at > now - min_age) {
      report.skipped.push_back(row);  // may belong to an issuance still running
      continue;
    }
    std::optional<std::vector<std::uint8_t>> der;
    if (row.output.starts_with("ca:")) {
      const auto ca = store.find_ca(row.output.substr(3));
      if (ca && ca->serial_hex == row.serial_hex && ca->parent == row.issuer) der = ca->cert_der;
      if (ca && ca->serial_hex == row.serial_hex && ca->name == row.issuer && ca->parent.empty())
        der = ca->cert_der;
    } else if (!row.output.empty()) {
      try {
        const Certificate cert = Certificate::load(row.output);
        const auto issuer = store.find_ca(row.issuer);
        if (issuer && cert.serial_hex() == row.serial_hex &&
            cert.public_key().spki_sha256_hex() == row.spki_sha256 &&
            cert.issuer() == Certificate::from_der(issuer->cert_der).subject()) {
          der = cert.der();
        }
      } catch (const Error&) {
        // missing or unreadable output: the certificate was never delivered
      }
    }
    CertRecord after = row;
    after.updated_at = now;
    if (der) {
      store.commit_issued(row.issuer, row.serial_hex, *der, now);
      after.status = CertStatus::issued;
      after.der = *der;
      report.completed.push_back(after);
    } else {
      store.abandon(row.issuer, row.serial_hex, now);
      after.status = CertStatus::abandoned;
      report.abandoned.push_back(after);
    }
    store.append_audit(AuditEvent{0, now, actor,
                                  der ? "cert.recover.issued" : "cert.recover.abandoned",
                                  row.issuer + "/" + row.serial_hex, "{}"});
  }
  return report;
}

}  // namespace pki
