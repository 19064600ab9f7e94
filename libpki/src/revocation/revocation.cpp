#include "pki/revocation.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/fs.hpp"
#include "core/text.hpp"
#include "pki/certificate.hpp"
#include "pki/error.hpp"
#include "pki/home.hpp"
#include "pki/issuance.hpp"

namespace pki {

namespace {

struct ReasonName {
  RevocationReason reason;
  std::string_view name;
};

constexpr std::array kReasons = {
    ReasonName{RevocationReason::unspecified, "unspecified"},
    ReasonName{RevocationReason::key_compromise, "keyCompromise"},
    ReasonName{RevocationReason::ca_compromise, "cACompromise"},
    ReasonName{RevocationReason::affiliation_changed, "affiliationChanged"},
    ReasonName{RevocationReason::superseded, "superseded"},
    ReasonName{RevocationReason::cessation_of_operation, "cessationOfOperation"},
    ReasonName{RevocationReason::certificate_hold, "certificateHold"},
    ReasonName{RevocationReason::remove_from_crl, "removeFromCRL"},
    ReasonName{RevocationReason::privilege_withdrawn, "privilegeWithdrawn"},
    ReasonName{RevocationReason::aa_compromise, "aACompromise"},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string allowed_reasons() {
  std::string out;
  for (auto n : revocation_reason_names()) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// Live for revocation: issued or superseded and not yet expired. A revoked
// row is reported (already revoked) but not revoked again.
bool revocable(const CertRecord& c, TimePoint now) {
  return (c.status == CertStatus::issued || c.status == CertStatus::superseded ||
          c.status == CertStatus::revoked) &&
         c.not_after >= now;
}

std::string cert_name(const std::string& issuer, const std::string& serial) {
  std::string s = issuer;
  s += '/';
  s += serial;
  return s;
}

void require_ca(Store& store, const std::string& ca) {
  if (!store.find_ca(ca)) {
    throw Error(ErrorCode::not_found,
                "no CA named '" + printable(ca) + "' in this home (devpki-ca list shows them)");
  }
}

// One serial to one certificate row: under `ca` when given (a serial of
// another issuer is refused with the issuer named), else unique across CAs.
CertRecord resolve_serial(Store& store, const std::string& serial,
                          const std::optional<std::string>& ca) {
  CertQuery q;
  q.serial_hex = serial;
  auto rows = store.find_certs(q);
  if (ca) {
    for (auto& r : rows)
      if (r.issuer == *ca) return std::move(r);
    if (!rows.empty()) {
      throw Error(ErrorCode::invalid_input, "serial " + serial + " was issued by '" +
                                                rows.front().issuer + "', not by '" + *ca +
                                                "'; nothing was revoked");
    }
    throw Error(ErrorCode::not_found,
                "CA '" + *ca + "' issued no certificate with serial " + serial);
  }
  if (rows.empty()) {
    throw Error(ErrorCode::not_found, "no certificate with serial " + serial + " in this home");
  }
  if (rows.size() > 1) {
    std::string issuers;
    for (const auto& r : rows) {
      if (!issuers.empty()) issuers += ", ";
      issuers += r.issuer;
    }
    throw Error(ErrorCode::invalid_input, "serial " + serial + " exists under several CAs (" +
                                              issuers + "): name one with --ca");
  }
  return std::move(rows.front());
}

std::string reason_detail(const RevokeOptions& opts, std::size_t revoked) {
  std::string d = "{\"reason\":\"";
  d += to_string(opts.reason);
  d += "\",\"revoked\":";
  d += std::to_string(revoked);
  d += '}';
  return d;
}

}  // namespace

std::string_view to_string(RevocationReason r) noexcept {
  for (const auto& n : kReasons)
    if (n.reason == r) return n.name;
  return "unknown";
}

const std::vector<std::string_view>& revocation_reason_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const auto& n : kReasons)
      if (n.reason != RevocationReason::remove_from_crl) v.push_back(n.name);
    return v;
  }();
  return names;
}

RevocationReason parse_revocation_reason(std::string_view text) {
  for (const auto& n : kReasons) {
    if (n.reason == RevocationReason::remove_from_crl) continue;
    if (iequals(text, n.name) || text == std::to_string(static_cast<int>(n.reason))) {
      return n.reason;
    }
  }
  if (iequals(text, "removeFromCRL") || text == "8") {
    throw Error(ErrorCode::invalid_input,
                "removeFromCRL is not a reason to revoke (it only appears on delta CRLs); "
                "to lift a certificateHold use `devpki-ca release`");
  }
  throw Error(ErrorCode::invalid_input, "unknown revocation reason '" + printable(text) +
                                            "': use one of " + allowed_reasons());
}

RevokeReport revoke(Home& home, const RevokeTarget& target, const RevokeOptions& opts,
                    const Clock& clock) {
  const TimePoint now = clock.now();
  const int selectors = (target.serial_hex ? 1 : 0) + (target.device_id ? 1 : 0) +
                        (target.batch_id ? 1 : 0) + (target.serials.empty() ? 0 : 1);
  if (selectors != 1) {
    throw Error(ErrorCode::invalid_input,
                "name exactly one of: a serial, a device, a batch or a list of serials");
  }
  if (opts.reason == RevocationReason::remove_from_crl) {
    throw Error(ErrorCode::invalid_input, "removeFromCRL is not a reason to revoke");
  }
  if (opts.invalidity_date && *opts.invalidity_date > now) {
    throw Error(ErrorCode::invalid_input,
                "the invalidity date " + format_time(*opts.invalidity_date) + " is in the future");
  }
  Store& store = home.store();
  if (target.ca) require_ca(store, *target.ca);

  // Selection: every certificate that is or was live, before anything is written.
  std::vector<CertRecord> selected;
  if (target.serial_hex || !target.serials.empty()) {
    std::vector<std::string> serials;
    if (target.serial_hex) {
      serials.push_back(*target.serial_hex);
    } else {
      serials = target.serials;
    }
    std::unordered_set<std::string> seen;
    for (std::size_t i = 0; i < serials.size(); ++i) {
      std::string s;
      try {
        s = normalize_serial_hex(serials[i]);
      } catch (const Error& e) {
        if (serials.size() == 1) throw;
        throw Error(ErrorCode::invalid_input,
                    "serial #" + std::to_string(i + 1) + " of the list: " + e.what());
      }
      if (!seen.insert(s).second) {
        throw Error(ErrorCode::invalid_input,
                    "serial " + s + " is listed twice (entry #" + std::to_string(i + 1) + ")");
      }
      CertRecord row = resolve_serial(store, s, target.ca);
      if (row.status == CertStatus::reserved || row.status == CertStatus::abandoned) {
        throw Error(ErrorCode::policy, "certificate " + cert_name(row.issuer, s) + " is " +
                                           std::string(to_string(row.status)) +
                                           ", never issued: there is nothing to revoke");
      }
      if (const auto issuer = store.find_ca(row.issuer);
          issuer && issuer->parent.empty() && issuer->serial_hex == row.serial_hex) {
        throw Error(ErrorCode::policy,
                    "certificate " + cert_name(row.issuer, s) +
                        " is the root CA's own "
                        "self-signed certificate: a root cannot revoke itself on its own CRL "
                        "(relying parties hold it as a trust anchor); take it out of their trust "
                        "stores instead. Nothing was revoked");
      }
      if (row.not_after < now) {
        throw Error(ErrorCode::policy,
                    "certificate " + cert_name(row.issuer, s) + " expired on " +
                        format_time(row.not_after) +
                        ": an expired certificate is no longer listed on CRLs; nothing was "
                        "revoked");
      }
      selected.push_back(std::move(row));
    }
  } else if (target.device_id) {
    validate_device_id(*target.device_id);
    CertQuery q;
    q.device_id = *target.device_id;
    q.issuer = target.ca;
    bool any = false;
    for (auto& row : store.find_certs(q)) {
      any = true;
      if (revocable(row, now)) selected.push_back(std::move(row));
    }
    if (selected.empty()) {
      throw Error(ErrorCode::not_found,
                  "device '" + *target.device_id + "' " +
                      (any ? "has no unexpired certificate" : "is not known") +
                      (target.ca ? " under CA '" + *target.ca + "'" : std::string()) +
                      "; nothing was revoked");
    }
  } else {
    if (!store.find_batch(*target.batch_id)) {
      throw Error(ErrorCode::not_found, "no batch '" + printable(*target.batch_id) +
                                            "' (devpki-mint batches lists them)");
    }
    const std::array statuses = {CertStatus::issued, CertStatus::superseded, CertStatus::revoked};
    store.for_each_batch_cert(*target.batch_id, statuses, false, [&](const CertRecord& row) {
      if (revocable(row, now) && (!target.ca || row.issuer == *target.ca)) selected.push_back(row);
      return true;
    });
    if (selected.empty()) {
      throw Error(ErrorCode::not_found, "batch '" + *target.batch_id +
                                            "' has no unexpired certificate; nothing was revoked");
    }
  }

  std::vector<RevokeRequest> reqs;
  reqs.reserve(selected.size());
  for (const auto& row : selected) {
    reqs.push_back(RevokeRequest{row.issuer, row.serial_hex, static_cast<int>(opts.reason), now,
                                 opts.invalidity_date});
  }
  // One transaction: all recorded or none, with its audit event. Rows
  // already revoked are left as they are (reported), unless a
  // certificateHold is made permanent.
  RevokeReport report;
  const auto hook = [&](std::span<const RevokeResult> results) -> std::optional<AuditEvent> {
    std::set<std::string> cas;
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      RevokedItem item{reqs[i].issuer,
                       reqs[i].serial_hex,
                       r.device_id,
                       r.outcome,
                       static_cast<RevocationReason>(r.reason),
                       r.revoked_at};
      if (r.outcome == RevokeOutcome::revoked) {
        ++report.revoked;
        cas.insert(item.issuer);
      } else if (r.outcome == RevokeOutcome::already_revoked) {
        ++report.already_revoked;
      } else {
        // The selection was read just before: a concurrent change. Rolled
        // back: nothing of this request can be trusted to be what was meant.
        throw Error(ErrorCode::conflict, "certificate " + cert_name(item.issuer, item.serial_hex) +
                                             " changed while revoking (" +
                                             std::string(to_string(r.outcome)) +
                                             "); nothing was revoked, run it again");
      }
      report.items.push_back(std::move(item));
    }
    report.cas.assign(cas.begin(), cas.end());
    if (report.revoked == 0) {
      const auto& first = report.items.front();
      std::string msg = report.items.size() == 1
                            ? "certificate " + cert_name(first.issuer, first.serial_hex) +
                                  " is already revoked (" + std::string(to_string(first.reason)) +
                                  ", " + format_time(first.revoked_at) + ")"
                            : "all " + std::to_string(report.items.size()) +
                                  " selected certificates are already revoked";
      if (first.reason == RevocationReason::certificate_hold &&
          opts.reason == RevocationReason::certificate_hold) {
        msg += "; to make a hold permanent, revoke again with another reason";
      }
      throw Error(ErrorCode::conflict, msg + "; nothing was changed");
    }
    const std::string subject =
        target.serial_hex  ? cert_name(report.items.front().issuer, report.items.front().serial_hex)
        : target.device_id ? "device/" + *target.device_id
        : target.batch_id  ? "batch/" + *target.batch_id
                           : "list";
    return AuditEvent{
        0, now, opts.actor, "cert.revoke", subject, reason_detail(opts, report.revoked)};
  };
  store.revoke(reqs, now, hook);
  return report;
}

std::string release_hold(Home& home, const std::string& ca, const std::string& serial_hex,
                         const Clock& clock, const std::string& actor) {
  const TimePoint now = clock.now();
  Store& store = home.store();
  const std::string serial = normalize_serial_hex(serial_hex);
  const CertRecord row =
      resolve_serial(store, serial, ca.empty() ? std::nullopt : std::optional<std::string>(ca));
  switch (store.release_hold(row.issuer, serial, now)) {
    case ReleaseOutcome::released:
      break;
    case ReleaseOutcome::not_found:
      throw Error(ErrorCode::not_found,
                  "certificate " + cert_name(row.issuer, serial) + " is not revoked");
    case ReleaseOutcome::not_on_hold: {
      const auto rev = store.find_revocation(row.issuer, serial);
      if (!rev || rev->released_at) {
        throw Error(ErrorCode::conflict, "certificate " + cert_name(row.issuer, serial) +
                                             " is not revoked; nothing was changed");
      }
      throw Error(ErrorCode::conflict,
                  "certificate " + cert_name(row.issuer, serial) + " is not on hold (revoked: " +
                      std::string(to_string(static_cast<RevocationReason>(rev->reason))) +
                      ", which is permanent); nothing was changed");
    }
  }
  store.append_audit(
      AuditEvent{0, now, actor, "cert.release", cert_name(row.issuer, serial), "{}"});
  return cert_name(row.issuer, serial);
}

DecommissionReport decommission(Home& home, const std::vector<std::string>& device_ids,
                                const DecommissionOptions& opts, const Clock& clock) {
  if (device_ids.empty()) {
    throw Error(ErrorCode::invalid_input, "no device to decommission: the list is empty");
  }
  if (opts.reason == RevocationReason::remove_from_crl) {
    throw Error(ErrorCode::invalid_input, "removeFromCRL is not a reason to revoke");
  }
  if (opts.reason == RevocationReason::certificate_hold) {
    throw Error(ErrorCode::invalid_input,
                "certificateHold is temporary; a decommissioned device does not come back: use "
                "`devpki-ca revoke --reason certificateHold` to suspend a device instead");
  }
  std::vector<std::string> ids;
  ids.reserve(device_ids.size());
  std::unordered_set<std::string> seen;
  seen.reserve(device_ids.size());
  for (std::size_t i = 0; i < device_ids.size(); ++i) {
    try {
      validate_device_id(device_ids[i]);
    } catch (const Error& e) {
      if (device_ids.size() == 1) throw;
      throw Error(ErrorCode::invalid_input,
                  "device #" + std::to_string(i + 1) + " of the list: " + e.what());
    }
    if (seen.insert(device_ids[i]).second) ids.push_back(device_ids[i]);
  }

  const TimePoint now = clock.now();
  Store& store = home.store();
  DecommissionReport report;
  const auto summarize = [&](std::span<const DecommissionResult> results) {
    report = DecommissionReport{};
    report.devices.assign(results.begin(), results.end());
    std::set<std::string> cas;
    for (const auto& d : report.devices) {
      if (!d.known) {
        report.unknown.push_back(d.device_id);
        continue;
      }
      if (!d.was_decommissioned) ++report.newly_decommissioned;
      report.revoked += d.revoked.size();
      report.already_revoked += d.already_revoked.size();
      for (const auto& c : d.revoked)
        cas.insert(c.issuer);
    }
    report.cas.assign(cas.begin(), cas.end());
  };
  const auto hook = [&](std::span<const DecommissionResult> results) -> std::optional<AuditEvent> {
    summarize(results);
    if (opts.before_commit) opts.before_commit(report);  // may throw: rolled back
    if (report.revoked == 0 && report.newly_decommissioned == 0) return std::nullopt;
    std::string detail = "{\"reason\":\"";
    detail += to_string(opts.reason);
    detail += "\",\"devices\":" + std::to_string(ids.size());
    detail += ",\"decommissioned\":" + std::to_string(report.newly_decommissioned);
    detail += ",\"revoked\":" + std::to_string(report.revoked);
    detail += ",\"unknown\":" + std::to_string(report.unknown.size()) + "}";
    const std::string subject =
        ids.size() == 1 ? "device/" + ids.front() : std::to_string(ids.size()) + " devices";
    return AuditEvent{0, now, opts.actor, "device.decommission", subject, detail};
  };
  const auto results =
      store.decommission(ids, static_cast<int>(opts.reason), now, opts.dry_run, hook);
  if (opts.dry_run) summarize(results);
  return report;
}

std::vector<std::string> read_device_list(const std::filesystem::path& file) {
  // 64-byte ids: 256 MiB holds several million of them.
  const std::string text = fs::read_text(file, std::size_t{256} << 20);
  std::vector<std::string> ids;
  std::unordered_map<std::string, std::size_t> first_line;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
      line.remove_suffix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
      line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    std::string id(line);
    const std::string where = file.string() + ":" + std::to_string(line_no) + ": ";
    try {
      validate_device_id(id);
    } catch (const Error& e) {
      throw Error(ErrorCode::invalid_input, where + e.what());
    }
    auto [it, inserted] = first_line.emplace(id, line_no);
    if (!inserted) {
      throw Error(ErrorCode::invalid_input, where + "device '" + id +
                                                "' is listed twice (first on line " +
                                                std::to_string(it->second) + ")");
    }
    ids.push_back(std::move(id));
  }
  if (ids.empty()) {
    throw Error(ErrorCode::invalid_input,
                file.string() + ": no device id in the file (one id per line; '#' comments)");
  }
  return ids;
}

std::vector<std::string> batch_devices(Home& home, const std::string& batch_id) {
  Store& store = home.store();
  if (!store.find_batch(batch_id)) {
    throw Error(ErrorCode::not_found,
                "no batch '" + printable(batch_id) + "' (devpki-mint batches lists them)");
  }
  std::vector<std::string> ids;
  std::unordered_set<std::string> seen;
  const std::array statuses = {CertStatus::issued, CertStatus::superseded, CertStatus::revoked};
  store.for_each_batch_cert(batch_id, statuses, false, [&](const CertRecord& row) {
    if (!row.device_id.empty() && seen.insert(row.device_id).second) ids.push_back(row.device_id);
    return true;
  });
  if (ids.empty()) {
    throw Error(ErrorCode::not_found,
                "batch '" + batch_id + "' has no issued certificate with a device id");
  }
  return ids;
}

}  // namespace pki
