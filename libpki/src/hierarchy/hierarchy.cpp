#include "pki/hierarchy.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "core/fs.hpp"
#include "core/text.hpp"
#include "pki/error.hpp"

namespace pki {

namespace fsys = std::filesystem;

namespace {

constexpr std::string_view kFilePrefix = "file:";

void require_ca_profile(const ProfileSpec& profile) {
  if (!profile.is_ca) {
    throw Error(ErrorCode::policy,
                "profile '" + profile.name + "' is not a CA profile (basic_constraints.ca)");
  }
}

void require_subject(const DistinguishedName& subject) {
  // RFC 5280 4.1.2.6: a CA's subject MUST be a non-empty distinguished name.
  if (subject.empty())
    throw Error(ErrorCode::invalid_input, "a CA needs a non-empty subject (--subject)");
  if (const Findings f = subject.validate(); f.has_errors()) {
    throw Error(ErrorCode::invalid_input, "subject: " + f.error_summary());
  }
}

void require_protection(const CaKeyProtection& p) {
  if (!p.passphrase && !p.plaintext) {
    throw Error(ErrorCode::invalid_input,
                "CA keys are stored encrypted: give --passphrase-file or DEVPKI_PASSPHRASE "
                "(or --no-passphrase for a plaintext key, not for production)");
  }
}

std::string key_pem(const PrivateKey& key, const CaKeyProtection& p) {
  return p.passphrase ? key.to_encrypted_pem(*p.passphrase, p.encryption) : key.to_pem();
}

TimePoint not_after_for(const ProfileSpec& profile,
                        std::optional<std::chrono::seconds> override_validity, TimePoint now) {
  if (override_validity) {
    if (override_validity->count() <= 0)
      throw Error(ErrorCode::invalid_input, "validity must be positive");
    return now + *override_validity;
  }
  return profile.validity.forever ? forever() : now + profile.validity.duration;
}

CaRecord record_for(const std::string& name, const std::string& parent, const std::string& profile,
                    const Certificate& cert, const std::string& key_ref, TimePoint now) {
  CaRecord r;
  r.name = name;
  r.parent = parent;
  r.profile = profile;
  r.subject = cert.subject().to_string();
  r.serial_hex = cert.serial_hex();
  r.key_ref = key_ref;
  r.spki_sha256 = cert.public_key().spki_sha256_hex();
  r.ski_hex = cert.ski_hex();
  r.not_before = cert.not_before();
  r.not_after = cert.not_after();
  r.cert_der = cert.der();
  r.created_at = now;
  return r;
}

CertRecord cert_row(const std::string& issuer, const std::string& profile,
                    const std::string& serial, const std::string& subject, TimePoint nb,
                    TimePoint na, const std::string& spki, const std::string& output,
                    TimePoint now) {
  CertRecord c;
  c.issuer = issuer;
  c.serial_hex = serial;
  c.profile = profile;
  c.subject = subject;
  c.not_before = nb;
  c.not_after = na;
  c.spki_sha256 = spki;
  c.status = CertStatus::reserved;
  c.output = output;
  c.created_at = now;
  c.updated_at = now;
  return c;
}

void audit(Store& store, TimePoint now, const std::string& actor, const std::string& action,
           const std::string& subject, const std::string& detail) {
  store.append_audit(AuditEvent{0, now, actor, action, subject, detail});
}

struct KeyFile {
  fsys::path path;
  std::string ref;
};

KeyFile key_file_for(const Home& home, const std::string& name) {
  KeyFile k;
  k.path = home.keys_dir() / (name + ".key.pem");
  k.ref = std::string(kFilePrefix) + "keys/" + name + ".key.pem";
  if (std::filesystem::exists(std::filesystem::symlink_status(k.path))) {
    throw Error(ErrorCode::conflict,
                "key file '" + k.path.string() +
                    "' already exists, though no CA of that name does; move it away first");
  }
  return k;
}

// What creating any CA starts with: every refusal before anything changes,
// then the new key and the certificate spec. `url_ca` names the CA whose CRL
// and certificate the URL templates point at (the issuer).
struct NewCa {
  ProfileSpec profile;
  KeyFile key_file;
  PrivateKey key;
  CertificateSpec spec;
};

NewCa prepare_ca(Home& home, const std::string& name, const std::string& profile_name,
                 KeyAlgorithm alg, const DistinguishedName& subject,
                 const CaKeyProtection& protection, std::optional<std::chrono::seconds> validity,
                 const std::string& url_ca, TimePoint now) {
  validate_ca_name(name);
  if (home.store().find_ca(name)) {
    throw Error(ErrorCode::conflict, "a CA named '" + name + "' already exists");
  }
  NewCa n{home.profile(profile_name), {}, {}, {}};
  require_ca_profile(n.profile);
  require_key_allowed(n.profile, alg, "key " + std::string(to_string(alg)));
  require_subject(subject);
  require_protection(protection);
  n.key_file = key_file_for(home, name);
  n.key = PrivateKey::generate(alg);
  n.spec.profile = n.profile;
  n.spec.subject = subject;
  n.spec.public_key = n.key.public_key();
  n.spec.not_before = now - n.profile.validity.backdate;
  n.spec.not_after = not_after_for(n.profile, validity, now);  // the build clamps to the issuer's
  n.spec.variables = home.settings().variables;
  n.spec.variables["ca"] = url_ca;
  n.spec.variables["profile"] = n.profile.name;
  return n;
}

// "factory-2026" -> "factory"; "factory" -> "factory".
std::string_view without_year_suffix(std::string_view name, char sep) {
  if (name.size() > 5 && name[name.size() - 5] == sep &&
      std::all_of(name.end() - 4, name.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return name.substr(0, name.size() - 5);
  }
  return name;
}

std::string utc_year(TimePoint t) {
  const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(t)};
  return std::to_string(static_cast<int>(ymd.year()));
}

std::string date_of(TimePoint t) {
  return format_time(t).substr(0, 10);
}

std::string successor_name(const std::string& old_name, TimePoint now) {
  std::string n(without_year_suffix(old_name, '-'));
  n += '-';
  n += utc_year(now);
  return n;
}

// The old subject with its CN's trailing " <year>" replaced by (or, without
// one, followed by) " <this year>".
DistinguishedName successor_subject(const CaRecord& old, TimePoint now) {
  const DistinguishedName dn = DistinguishedName::parse(old.subject);
  std::vector<NameAttribute> attrs = dn.attributes();
  const auto cn = std::find_if(attrs.rbegin(), attrs.rend(),
                               [](const NameAttribute& a) { return a.type == "CN"; });
  if (cn == attrs.rend()) {
    throw Error(ErrorCode::invalid_input,
                "the subject of CA '" + old.name + "' (" + old.subject +
                    ") has no CN to derive the successor's subject from; give one with --subject");
  }
  std::string value(without_year_suffix(cn->value, ' '));
  value += ' ';
  value += utc_year(now);
  cn->value = std::move(value);
  return DistinguishedName(std::move(attrs));
}

// Two CAs with one subject make chain building depend on key identifiers,
// which not every relying party matches on (nginx's client CA list, CRL lookup).
void require_distinct_subject(Store& store, const DistinguishedName& subject) {
  for (const CaRecord& ca : store.list_cas()) {
    if (DistinguishedName::parse(ca.subject) == subject) {
      throw Error(ErrorCode::conflict, "CA '" + ca.name + "' already has the subject '" +
                                           ca.subject +
                                           "'; give the successor a distinct one with --subject");
    }
  }
}

}  // namespace

void validate_ca_name(const std::string& name) {
  const bool ok =
      !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0])) &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      });
  if (!ok) {
    throw Error(ErrorCode::invalid_input,
                "invalid CA name '" + printable(name) +
                    "': use 1 to 64 of a-z 0-9 . _ - starting with a letter or digit");
  }
}

CreatedCa create_root(Home& home, const RootOptions& opts, const Clock& clock) {
  const TimePoint now = clock.now();
  const NewCa n = prepare_ca(home, opts.name, opts.profile, opts.key, opts.subject, opts.protection,
                             opts.validity, opts.name, now);
  const ProfileSpec& profile = n.profile;
  const KeyFile& kf = n.key_file;
  const PrivateKey& key = n.key;
  const KeySigner signer(key, "file " + kf.path.string());
  // A self-signed root is its own record's issuer, so its signature necessarily
  // precedes its row; nothing else in devpki signs before recording.
  Findings warnings;
  const Certificate cert = Authority::self_sign(n.spec, signer, nullptr, &warnings);

  write_secret_file(kf.path, key_pem(key, opts.protection));
  CaRecord rec = record_for(opts.name, "", profile.name, cert, kf.ref, now);
  try {
    home.store().add_ca(rec);
  } catch (...) {
    ::unlink(kf.path.c_str());  // no CA row: the key belongs to nothing
    throw;
  }
  // From here the CA exists with its key; a failure after the reserve leaves
  // its own certificate row reserved, which `devpki-ca recover` completes.
  home.store().reserve(
      cert_row(opts.name, profile.name, rec.serial_hex, rec.subject, rec.not_before, rec.not_after,
               rec.spki_sha256, "ca:" + opts.name, now),
      ReserveOptions{false, now});
  home.store().commit_issued(opts.name, rec.serial_hex, rec.cert_der, now);
  audit(home.store(), now, opts.actor, "ca.init", opts.name,
        "{\"serial\":\"" + rec.serial_hex + "\",\"key\":\"" + std::string(to_string(opts.key)) +
            "\",\"encrypted\":" + (opts.protection.passphrase ? "true" : "false") + "}");
  return {rec, warnings};
}

CreatedCa create_issuing_ca(Home& home, const IssuingCaOptions& opts, const Clock& clock) {
  // The parent is unlocked first: a wrong passphrase costs no key generation.
  const Authority parent = load_authority(home, opts.parent, opts.parent_passphrase);
  const TimePoint now = clock.now();
  // URLs in a CA certificate point at its issuer's CRL and certificate.
  const NewCa n = prepare_ca(home, opts.name, opts.profile, opts.key, opts.subject, opts.protection,
                             opts.validity, opts.parent, now);
  const ProfileSpec& profile = n.profile;
  const KeyFile& kf = n.key_file;
  const PrivateKey& key = n.key;
  // check -> reserve -> sign -> deliver (key file, CA row) -> commit
  const Draft draft = parent.draft(n.spec);
  Store& store = home.store();
  store.reserve(
      cert_row(opts.parent, profile.name, draft.serial_hex(), draft.subject(), draft.not_before(),
               draft.not_after(), draft.spki_sha256(), "ca:" + opts.name, now),
      ReserveOptions{false, now});
  CaRecord rec;
  try {
    const Certificate cert = parent.sign(draft);
    write_secret_file(kf.path, key_pem(key, opts.protection));
    rec = record_for(opts.name, opts.parent, profile.name, cert, kf.ref, now);
    try {
      store.add_ca(rec);
    } catch (...) {
      ::unlink(kf.path.c_str());
      throw;
    }
  } catch (...) {
    store.abandon(opts.parent, draft.serial_hex(), now);
    throw;
  }
  // The CA exists with its key. Should the commit fail, its row stays
  // reserved and `devpki-ca recover` finds the CA and completes it.
  store.commit_issued(opts.parent, rec.serial_hex, rec.cert_der, now);
  audit(store, now, opts.actor, "ca.issue", opts.name,
        "{\"parent\":\"" + opts.parent + "\",\"serial\":\"" + rec.serial_hex + "\",\"key\":\"" +
            std::string(to_string(opts.key)) + "\"}");
  return {rec, draft.findings()};
}

std::vector<Certificate> ca_chain(Home& home, const std::string& name) {
  std::vector<Certificate> chain;
  std::string next = name;
  while (!next.empty()) {
    const auto rec = home.store().find_ca(next);
    if (!rec) {
      throw Error(chain.empty() ? ErrorCode::not_found : ErrorCode::store,
                  chain.empty() ? "no CA named '" + printable(next) + "' (see `devpki-ca list`)"
                                : "the store lacks CA '" + next + "', parent of '" + name + "'");
    }
    chain.push_back(Certificate::from_der(rec->cert_der));
    if (chain.size() > 16) throw Error(ErrorCode::store, "CA chain of '" + name + "' loops");
    next = rec->parent;
  }
  return chain;
}

RolloverResult rollover_ca(Home& home, const RolloverOptions& opts, const Clock& clock) {
  Store& store = home.store();
  // Every refusal before the parent is unlocked and a key generated.
  const auto old = store.find_ca(opts.ca);
  if (!old) {
    throw Error(ErrorCode::not_found,
                "no CA named '" + printable(opts.ca) + "' (see `devpki-ca list`)");
  }
  if (old->parent.empty()) {
    throw Error(ErrorCode::policy,
                "CA '" + old->name +
                    "' is a root: rollover replaces an issuing CA under the same parent; a new "
                    "root is a new hierarchy (devpki-ca init) that every relying party must trust");
  }
  if (old->status != CaStatus::active) {
    std::string msg = "CA '" + old->name + "' is " + std::string(to_string(old->status));
    if (!old->successor.empty()) {
      msg += " (rolled over to '" + old->successor + "'";
      if (old->retired_at) msg += " on " + date_of(*old->retired_at);
      msg += "); roll over its current issuer '";
      msg += current_issuer(home, old->name);
      msg += "' instead";
    } else {
      msg += "; only an active CA can be rolled over";
    }
    throw Error(ErrorCode::policy, msg);
  }
  const TimePoint now = clock.now();
  const std::string name = opts.name.empty() ? successor_name(old->name, now) : opts.name;
  validate_ca_name(name);
  if (store.find_ca(name)) {
    throw Error(ErrorCode::conflict,
                "a CA named '" + name + "' already exists; name the successor with --name");
  }
  const DistinguishedName subject = opts.subject ? *opts.subject : successor_subject(*old, now);
  require_subject(subject);
  require_distinct_subject(store, subject);
  require_protection(opts.protection);
  const Certificate old_cert = Certificate::from_der(old->cert_der);
  KeyAlgorithm alg = KeyAlgorithm::ec_p256;
  if (opts.key) {
    alg = *opts.key;
  } else if (const auto a = old_cert.public_key().describe().algorithm()) {
    alg = *a;
  } else {
    throw Error(ErrorCode::invalid_input, "the key of CA '" + old->name + "' (" +
                                              old_cert.public_key().describe().to_string() +
                                              ") is no algorithm devpki generates; give --key");
  }

  // As create_issuing_ca: the parent is unlocked before the key is generated.
  const Authority parent = load_authority(home, old->parent, opts.parent_passphrase);
  // The successor's URLs point at the same parent; its profile is the old CA's.
  const NewCa n = prepare_ca(home, name, old->profile, alg, subject, opts.protection, opts.validity,
                             old->parent, now);
  const KeyFile& kf = n.key_file;
  // check -> reserve -> sign -> deliver (key file, CA row + retirement) -> commit
  const Draft draft = parent.draft(n.spec);
  store.reserve(
      cert_row(old->parent, n.profile.name, draft.serial_hex(), draft.subject(), draft.not_before(),
               draft.not_after(), draft.spki_sha256(), "ca:" + name, now),
      ReserveOptions{false, now});
  CaRecord rec;
  try {
    const Certificate cert = parent.sign(draft);
    write_secret_file(kf.path, key_pem(n.key, opts.protection));
    rec = record_for(name, old->parent, n.profile.name, cert, kf.ref, now);
    try {
      // One transaction: the successor exists iff the old CA is retired.
      store.add_successor_ca(rec, old->name, now);
    } catch (...) {
      ::unlink(kf.path.c_str());
      throw;
    }
  } catch (...) {
    store.abandon(old->parent, draft.serial_hex(), now);
    throw;
  }
  // Should the commit fail, `devpki-ca recover` completes the reserved row.
  store.commit_issued(old->parent, rec.serial_hex, rec.cert_der, now);
  std::string detail = "{\"successor\":\"";
  detail += name;
  detail += "\",\"parent\":\"";
  detail += old->parent;
  detail += "\",\"serial\":\"";
  detail += rec.serial_hex;
  detail += "\",\"key\":\"";
  detail += to_string(alg);
  detail += "\"}";
  audit(store, now, opts.actor, "ca.rollover", old->name, detail);

  RolloverResult result;
  result.successor = CreatedCa{rec, draft.findings()};
  const auto retired = store.find_ca(old->name);
  result.predecessor = retired ? *retired : *old;
  return result;
}

Authority load_authority(Home& home, const std::string& name,
                         const std::optional<std::string>& passphrase, AuthorityUse use) {
  std::vector<Certificate> chain = ca_chain(home, name);
  const auto rec = home.store().find_ca(name);
  if (rec->status != CaStatus::active && use == AuthorityUse::issue) {
    std::string msg = "CA '" + name + "' ";
    if (rec->successor.empty()) {
      msg += "is ";
      msg += to_string(rec->status);
      msg += " and issues no more certificates";
    } else {
      msg += "was rolled over to '" + rec->successor + "'";
      if (rec->retired_at) msg += " on " + date_of(*rec->retired_at);
      std::string issuer = rec->successor;
      try {
        issuer = current_issuer(home, name);
      } catch (const Error&) {
        // a broken lineage: name the direct successor
      }
      msg += "; issue from " + issuer;
    }
    throw Error(ErrorCode::policy, msg);
  }
  if (!rec->key_ref.starts_with(kFilePrefix)) {
    throw Error(ErrorCode::invalid_input, "CA '" + name + "' key reference '" + rec->key_ref +
                                              "' needs a signer this build does not have");
  }
  const fsys::path file = home.root() / rec->key_ref.substr(kFilePrefix.size());
  PrivateKey key = [&] {
    try {
      return PrivateKey::load(file, passphrase);
    } catch (const Error& e) {
      throw Error(e.code(), "CA '" + name + "' key: " + e.what());
    }
  }();
  return Authority(name, std::move(chain),
                   std::make_shared<KeySigner>(std::move(key), "file " + file.string()));
}

}  // namespace pki
