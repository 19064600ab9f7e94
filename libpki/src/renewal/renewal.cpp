// devpki-renew's library side: plan_renewals(), preview_renewal() and
// run_renewal() of pki/renewal.hpp.
#include "pki/renewal.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "batch/engine.hpp"
#include "batch/inputs.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/revocation.hpp"

namespace pki {

std::string_view to_string(RenewAction a) noexcept {
  switch (a) {
    case RenewAction::renew_kept_key:
      return "renew-kept-key";
    case RenewAction::renew_new_key:
      return "renew-new-key";
    case RenewAction::refuse:
      return "refuse";
  }
  return "?";
}

namespace {

struct ProfilePolicy {
  RotationPolicy rotation;
  std::chrono::seconds lifetime{0};
  bool forever = false;
};

// The home's end-entity profiles (or the selected one), by name.
std::map<std::string, ProfilePolicy> load_policies(Home& home, const RenewalSelector& sel,
                                                   std::vector<std::string>& without_policy) {
  std::vector<std::string> names;
  if (sel.profile) {
    names.push_back(*sel.profile);
  } else {
    names = home.profile_names();
  }
  std::map<std::string, ProfilePolicy> out;
  for (const auto& name : names) {
    const ProfileSpec p = home.profile(name);  // Error(not_found) listing the home's profiles
    if (p.is_ca) {
      if (sel.profile) {
        throw Error(ErrorCode::invalid_input,
                    "profile '" + name +
                        "' issues CA certificates; devpki-renew renews device certificates "
                        "(a CA is rotated with devpki-ca rollover)");
      }
      continue;
    }
    if (!p.rotation.enabled) without_policy.push_back(name);
    out.emplace(name, ProfilePolicy{p.rotation, p.validity.duration, p.validity.forever});
  }
  std::sort(without_policy.begin(), without_policy.end());
  return out;
}

std::string revocation_detail(Store& store, const CertRecord& c) {
  std::string out = "certificate " + c.issuer + "/" + c.serial_hex + " is revoked";
  if (const auto r = store.find_revocation(c.issuer, c.serial_hex)) {
    out += " (";
    out += to_string(static_cast<RevocationReason>(r->reason));
    out += ", ";
    out += format_time(r->revoked_at);
    out += ")";
  }
  return out;
}

bool by_due_then_device(const RenewalCandidate& a, const RenewalCandidate& b) {
  return std::tie(a.decision.due_at, a.cert.device_id, a.cert.issuer, a.cert.serial_hex) <
         std::tie(b.decision.due_at, b.cert.device_id, b.cert.issuer, b.cert.serial_hex);
}

}  // namespace

RenewalPlan plan_renewals(Home& home, const RenewalSelector& sel, TimePoint at) {
  if (sel.within < std::chrono::seconds(0)) {
    throw Error(ErrorCode::invalid_input, "--within must not be negative");
  }
  Store& store = home.store();
  RenewalPlan plan;
  plan.at = at;
  plan.horizon = at + sel.within;

  ExpiringQuery q;
  if (sel.ca) {
    for (const auto& ca : ca_lineage(home, *sel.ca))  // Error(not_found) for an unknown CA
      q.issuers.push_back(ca.name);
  }
  if (sel.batch_id) {
    if (!store.find_batch(*sel.batch_id)) {
      throw Error(ErrorCode::not_found,
                  "no batch " + *sel.batch_id + " in this home (devpki-mint batches lists them)");
    }
    q.batch_id = sel.batch_id;
  }
  q.profile = sel.profile;
  const auto policies = load_policies(home, sel, plan.profiles_without_policy);

  // The scan's bound: the latest notAfter that can come due by the horizon
  // under any policy, for a certificate of its profile's lifetime.
  std::chrono::seconds lead{0};
  bool any_policy = false;
  for (const auto& [name, p] : policies) {
    if (!p.rotation.enabled || p.forever) continue;
    any_policy = true;
    lead = std::max(lead, max_lead(p.rotation, p.lifetime));
  }
  if (!any_policy) return plan;
  q.not_after_max = plan.horizon + lead;

  std::map<std::string, std::string> issuer_of;  // old issuer -> current issuer, or "" + reason
  std::map<std::string, std::string> issuer_problem;
  const auto target_of = [&](const std::string& issuer) -> const std::string* {
    auto it = issuer_of.find(issuer);
    if (it == issuer_of.end()) {
      try {
        it = issuer_of.emplace(issuer, current_issuer(home, issuer)).first;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::policy) throw;
        issuer_problem.emplace(issuer, e.what());
        it = issuer_of.emplace(issuer, std::string()).first;
      }
    }
    return it->second.empty() ? nullptr : &it->second;
  };

  std::map<std::pair<std::string, std::string>, RenewalGroup> groups;
  store.for_each_expiring(q, [&](const ExpiringCert& e) {
    ++plan.scanned;
    const auto pit = policies.find(e.cert.profile);
    if (pit == policies.end() || !pit->second.rotation.enabled) return true;
    const RotationPolicy& policy = pit->second.rotation;
    RotationFacts facts{e.cert.issuer,    e.cert.serial_hex, e.cert.not_before,
                        e.cert.not_after, e.cert.status,     e.device_decommissioned};
    RenewalCandidate c;
    c.cert = e.cert;
    c.rekey = policy.rekey;
    c.revoke_superseded = policy.revoke_superseded;
    c.decision = decide_rotation(facts, policy, at);
    // When it would come due on time alone (for the refused ones too).
    RotationFacts timely = facts;
    timely.status = CertStatus::issued;
    timely.device_decommissioned = false;
    const RotationDecision by_time = c.decision.state == RotationState::revoked ||
                                             c.decision.state == RotationState::decommissioned
                                         ? decide_rotation(timely, policy, at)
                                         : c.decision;
    if (by_time.state == RotationState::no_policy ||
        by_time.state == RotationState::never_expires) {
      return true;
    }
    if (by_time.due_at > plan.horizon) return true;  // not due by the horizon
    bool refuse = false;
    switch (c.decision.state) {
      case RotationState::due:
      case RotationState::in_grace:
      case RotationState::not_due:
        break;
      case RotationState::past_grace:
        refuse = true;
        break;
      case RotationState::revoked:
      case RotationState::decommissioned:
        // An identity that has ended (expired and revoked) is not news.
        if (e.cert.not_after < at) return true;
        refuse = true;
        if (c.decision.state == RotationState::revoked) {
          c.decision.reason = revocation_detail(store, e.cert);
        }
        c.decision.due_at = by_time.due_at;
        c.decision.grace_until = by_time.grace_until;
        c.decision.rule = by_time.rule;
        break;
      default:
        return true;  // superseded, not_issued: the store does not return them
    }
    if (const std::string* target = target_of(e.cert.issuer)) {
      c.target_ca = *target;
    } else {
      refuse = true;
      c.decision.reason = issuer_problem.at(e.cert.issuer);
    }
    auto& g = groups[{c.target_ca, c.cert.profile}];
    g.target_ca = c.target_ca;
    g.profile = c.cert.profile;
    if (refuse) {
      ++g.refused;
      plan.refused.push_back(std::move(c));
    } else {
      ++g.due;
      plan.due.push_back(std::move(c));
    }
    return true;
  });
  std::stable_sort(plan.due.begin(), plan.due.end(), by_due_then_device);
  std::stable_sort(plan.refused.begin(), plan.refused.end(), by_due_then_device);
  for (auto& [key, g] : groups)
    plan.groups.push_back(std::move(g));
  return plan;
}

RenewPreview preview_renewal(Home& home, const RenewRequest& req, TimePoint at) {
  if (req.format == BatchFormat::p12) {
    throw Error(ErrorCode::invalid_input,
                "--format p12 bundles a private key, and a renewal makes none (the key is kept, "
                "or comes with the device's new CSR): use jsonl or pem");
  }
  RenewPreview pv;
  pv.plan = plan_renewals(home, req.select, at);
  const auto& plan = pv.plan;

  // One batch is one CA and one profile.
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& g : plan.groups) {
    if (g.due != 0) keys.emplace(g.target_ca, g.profile);
  }
  if (keys.size() > 1) {
    std::string msg = "the certificates due span " + std::to_string(keys.size()) +
                      " CA/profile pairs, and one run renews one; run each:";
    for (const auto& [ca, profile] : keys) {
      msg += " [--ca ";
      msg += ca;
      msg += " --profile ";
      msg += profile;
      msg += "]";
    }
    throw Error(ErrorCode::invalid_input, msg);
  }

  std::map<std::string, batch::CsrEntry> csrs;
  if (!req.csrs.empty()) csrs = batch::read_csrs_by_device(req.csrs);
  if (keys.empty()) return pv;  // nothing due: no batch
  pv.target_ca = keys.begin()->first;
  pv.profile = keys.begin()->second;
  const ProfileSpec profile = home.profile(pv.profile);
  if (!csrs.empty() && profile.rotation.rekey == Rekey::forbidden) {
    throw Error(ErrorCode::invalid_input,
                "profile '" + pv.profile +
                    "' has rotation.rekey: forbidden (renewal keeps the device's key); leave "
                    "--csrs out");
  }

  std::set<std::string> seen;
  const auto add = [&](const RenewalCandidate& c, bool refused) {
    RenewPreviewItem item;
    item.index = pv.items.size();
    item.device_id = c.cert.device_id;
    item.old_issuer = c.cert.issuer;
    item.old_serial = c.cert.serial_hex;
    const bool has_csr = csrs.count(c.cert.device_id) != 0;
    if (!seen.insert(c.cert.device_id).second) {
      item.reason = "device " + c.cert.device_id +
                    " has another certificate due with the same notAfter, renewed at an earlier "
                    "position of this run";
    } else if (refused) {
      item.reason = c.decision.reason;
    } else if (c.rekey == Rekey::required && !has_csr) {
      item.reason = "profile '" + pv.profile +
                    "' has rotation.rekey: required and no new CSR was given for this device "
                    "(--csrs)";
    }
    item.action = !item.reason.empty() ? RenewAction::refuse
                  : has_csr            ? RenewAction::renew_new_key
                                       : RenewAction::renew_kept_key;
    pv.items.push_back(std::move(item));
  };
  // Positions in device id order, not in due order: jitter shuffles due
  // times, and renewing in that order would touch the store's device-keyed
  // indexes and the old rows at random (each transaction rewriting most of
  // their pages). Device order is the order devices were minted in for a
  // pattern batch.
  std::vector<std::pair<const RenewalCandidate*, bool>> order;
  for (const auto& c : plan.due) {
    if (c.target_ca == pv.target_ca && c.cert.profile == pv.profile) order.emplace_back(&c, false);
  }
  for (const auto& c : plan.refused) {
    if (c.target_ca == pv.target_ca && c.cert.profile == pv.profile) order.emplace_back(&c, true);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.first->cert.device_id < b.first->cert.device_id;
  });
  for (const auto& [c, refused] : order)
    add(*c, refused);
  for (const auto& [device, entry] : csrs) {
    if (seen.count(device) != 0) continue;
    RenewPreviewItem item;
    item.index = pv.items.size();
    item.device_id = device;
    item.action = RenewAction::refuse;
    item.reason = "a CSR was given for device " + device +
                  ", which has no certificate due for renewal in this selection by " +
                  format_time(plan.horizon) + " (unknown device, or not due yet)";
    pv.items.push_back(std::move(item));
  }
  return pv;
}

BatchResult run_renewal(Home& home, const RenewRequest& req, const BatchSecrets& secrets,
                        const Clock& clock, const ProgressFn& progress) {
  RenewPreview pv = preview_renewal(home, req, clock.now());
  if (pv.items.empty()) {
    BatchResult r;
    r.state = BatchState::complete;
    r.out = req.out;
    if (!pv.plan.refused.empty()) {
      r.warnings.warning("renew.refused",
                         std::to_string(pv.plan.refused.size()) +
                             " certificate(s) would be due but cannot be renewed (revoked, "
                             "decommissioned or past grace); `devpki-renew plan` lists them "
                             "and why");
    }
    const auto& none = pv.plan.profiles_without_policy;
    if (req.select.profile &&
        std::find(none.begin(), none.end(), *req.select.profile) != none.end()) {
      r.warnings.warning("renew.no_policy", "profile '" + *req.select.profile +
                                                "' has no rotation: section, so its certificates "
                                                "are never due (docs/profiles.md)");
    }
    return r;
  }
  const ProfileSpec profile = home.profile(pv.profile);
  std::vector<RenewalItemRecord> items;
  items.reserve(pv.items.size());
  for (auto& it : pv.items) {
    RenewalItemRecord rec;
    rec.index = it.index;
    rec.device_id = std::move(it.device_id);
    rec.old_issuer = std::move(it.old_issuer);
    rec.old_serial = std::move(it.old_serial);
    rec.revoke_old = profile.rotation.revoke_superseded;
    rec.refusal = std::move(it.reason);
    items.push_back(std::move(rec));
  }
  // The plan is done with: its memory is not held through the batch.
  const std::string target_ca = std::move(pv.target_ca);
  const std::string profile_name = std::move(pv.profile);
  pv = RenewPreview{};
  BatchRequest b;
  b.ca = target_ca;
  b.profile = profile_name;
  b.source = BatchSource::renewal;
  b.input = req.csrs;
  b.out = req.out;
  b.format = req.format;
  b.batch_id = req.batch_id;
  b.threads = req.threads;
  b.chunk = req.chunk;
  b.reissue = true;  // the devices hold the certificates being renewed
  b.actor = req.actor;
  return batch::run_renewal_batch(home, b, std::move(items), secrets, clock, progress);
}

}  // namespace pki
