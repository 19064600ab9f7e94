// publish_crl: number -> entries (streamed from the store) -> sign -> record
// -> write home/crl/ -> audit. Recording precedes writing, so a number is
// never published twice; a crash in between burns it (gaps are allowed).
#include <algorithm>
#include <optional>

#include "core/fs.hpp"
#include "crl/crl_builder.hpp"
#include "crl/crl_internal.hpp"
#include "ossl/check.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/home.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace {

// Published CRLs are public documents.
constexpr unsigned kPublicMode = 0644;

X509* x509_of(const Certificate& c) {
  return static_cast<X509*>(c.native_handle());
}

std::string publish_hint(const std::string& ca) {
  std::string s = "`devpki-ca crl --ca ";
  s += ca;
  s += '`';
  return s;
}

// freshestCRL URLs: {ca} is the publishing CA itself (unlike a certificate's
// CRL distribution points, which name its issuer). A template that starts with
// a variable is checked here, once the variable has its value.
std::vector<std::string> freshest_urls(const Home& home, const std::string& ca,
                                       const ProfileSpec& profile) {
  std::map<std::string, std::string> vars = home.settings().variables;
  vars["ca"] = ca;
  vars["profile"] = profile.name;
  std::vector<std::string> out;
  for (const auto& t : profile.crl.freshest_crl) {
    std::string url = expand_template(t, vars);
    if (const auto problem = profile_detail::url_problem(url)) {
      throw Error(ErrorCode::invalid_input, "freshest_crl URL '" + url + "' from template '" + t +
                                                "' (profile '" + profile.name + "'): " + *problem);
    }
    out.push_back(std::move(url));
  }
  return out;
}

void require_crl_sign(const Authority& ca) {
  // As in Authority's constructor: an absent keyUsage restricts nothing
  // (RFC 5280 4.2.1.3); devpki's CA certificates always carry one.
  const auto usage = ca.certificate().key_usage();
  if (!usage.empty() && std::find(usage.begin(), usage.end(), KeyUsage::crl_sign) == usage.end()) {
    throw Error(ErrorCode::policy, "certificate of CA '" + ca.name() +
                                       "' lacks cRLSign (RFC 5280 4.2.1.3): it cannot sign CRLs");
  }
}

struct Attempt {
  CrlRecord record;
  std::vector<std::uint8_t> der;
  Findings warnings;
};

// One pass from the number to the store's record. nullopt when another
// publisher recorded a CRL of this CA meanwhile (the number is taken).
std::optional<Attempt> sign_and_record(Home& home, const Authority& ca, const ProfileSpec& profile,
                                       const CrlOptions& opts, const Clock& clock) {
  Store& store = home.store();
  const std::string& name = ca.name();
  const TimePoint now = clock.now();
  const Certificate& cert = ca.certificate();
  const TimePoint ca_not_after = cert.not_after();
  if (now >= ca_not_after) {
    throw Error(ErrorCode::policy, "certificate of CA '" + name + "' expired at " +
                                       format_time(ca_not_after) + ": it can publish no CRL");
  }

  Attempt a;
  crl::CrlHeader h;
  h.issuer = x509_of(cert);
  h.number = store.last_crl_number(name) + 1;
  h.this_update = now;
  std::optional<CrlRecord> base;
  if (opts.delta) {
    base = store.last_crl(name, false);
    if (!base) {
      throw Error(ErrorCode::policy, "CA '" + name +
                                         "' has no full CRL to base a delta CRL on; publish one "
                                         "first with " +
                                         publish_hint(name));
    }
    h.delta_base = base->number;
    if (now > base->next_update) {
      a.warnings.warning("crl.delta_base_expired",
                         "the full CRL " + std::to_string(base->number) + " of '" + name +
                             "' this delta is based on expired at " +
                             format_time(base->next_update) + "; publish a full CRL too");
    }
  } else {
    h.freshest_crl = freshest_urls(home, name, profile);
  }
  const std::chrono::seconds life =
      opts.delta ? *profile.crl.delta_next_update : profile.crl.next_update;
  h.next_update = now + life;
  if (h.next_update > ca_not_after) {
    h.next_update = ca_not_after;
    a.warnings.warning("crl.next_update_clamped", "nextUpdate clamped to the notAfter of CA '" +
                                                      name + "' (" + format_time(ca_not_after) +
                                                      ") instead of " + format_time(now + life) +
                                                      ": renew or replace the CA");
  }

  crl::CrlBuilder builder(h);
  const auto add = [&](const RevocationRecord& r) { builder.add(r); };
  const std::int64_t covered =
      opts.delta ? store.for_each_revocation_change(name, base->covered_seq, now, add)
                 : store.for_each_revoked(name, now, add);
  a.der = builder.sign(crl::Signing::key(ca), profile.signature_digest);

  CrlRecord& r = a.record;
  r.issuer = name;
  r.number = h.number;
  r.delta = opts.delta;
  r.base_number = base ? base->number : 0;
  r.this_update = h.this_update;
  r.next_update = h.next_update;
  r.entries = builder.entries();
  r.covered_seq = covered;
  r.sha256 = ossl::hex(ossl::sha256(a.der));
  r.file = crl::relative_crl_file(name, opts.delta);
  r.created_at = now;
  try {
    store.record_crl(r);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::conflict) return std::nullopt;
    throw;
  }
  return a;
}

}  // namespace

namespace crl {

std::string relative_crl_file(const std::string& ca, bool delta) {
  std::string f = "crl/";
  f += ca;
  f += delta ? "-delta.crl" : ".crl";
  return f;
}

}  // namespace crl

std::filesystem::path crl_file(const Home& home, const std::string& ca, bool delta) {
  validate_ca_name(ca);  // a path component: no '/' or '..'
  return home.root() / crl::relative_crl_file(ca, delta);
}

PublishedCrl publish_crl(Home& home, const Authority& ca, const CrlOptions& opts,
                         const Clock& clock) {
  Store& store = home.store();
  const std::string& name = ca.name();
  const auto rec = store.find_ca(name);
  if (!rec) throw Error(ErrorCode::not_found, "no CA named '" + name + "' (see `devpki-ca list`)");
  if (rec->cert_der != ca.certificate().der()) {
    throw Error(ErrorCode::invalid_input,
                "the certificate given for CA '" + name + "' is not the one in the store");
  }
  require_crl_sign(ca);
  // The CA's own profile decides its CRLs: lifetime, deltas, digest.
  const ProfileSpec profile = home.profile(rec->profile);
  if (opts.delta && !profile.crl.delta_next_update) {
    throw Error(ErrorCode::policy, "CA '" + name + "' publishes no delta CRLs: its profile '" +
                                       profile.name + "' has no crl.delta_next_update");
  }

  PublishedCrl out;
  out.der_file = crl_file(home, name, opts.delta);
  out.pem_file = out.der_file;
  out.pem_file += ".pem";
  // Refuse before a number is used (a missing crl/ directory).
  fs::check_writable(out.der_file, true);

  std::optional<Attempt> a = sign_and_record(home, ca, profile, opts, clock);
  if (!a) {
    // Someone else published meanwhile: start again with the next number
    // and what the store holds now.
    a = sign_and_record(home, ca, profile, opts, clock);
    if (!a) {
      throw Error(ErrorCode::conflict,
                  "CRLs of '" + name + "' are being published concurrently; try again");
    }
  }
  out.record = std::move(a->record);
  out.der = std::move(a->der);
  out.warnings = std::move(a->warnings);

  const std::string_view der_text(reinterpret_cast<const char*>(out.der.data()), out.der.size());
  fs::write_file_atomic(out.der_file, der_text, kPublicMode, true);
  out.pem = crl::to_pem(out.der);
  fs::write_file_atomic(out.pem_file, out.pem, kPublicMode, true);

  const CrlRecord& r = out.record;
  std::string detail = "{\"number\":";
  detail += std::to_string(r.number);
  detail += ",\"delta\":";
  detail += r.delta ? "true" : "false";
  if (r.delta) {
    detail += ",\"base\":";
    detail += std::to_string(r.base_number);
  }
  detail += ",\"entries\":";
  detail += std::to_string(r.entries);
  detail += ",\"next_update\":\"";
  detail += format_time(r.next_update);
  detail += "\"}";
  store.append_audit(AuditEvent{0, r.created_at, opts.actor, "crl.publish", name, detail});
  return out;
}

}  // namespace pki
