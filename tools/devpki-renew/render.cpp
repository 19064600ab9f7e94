#include "devpki-renew/render.hpp"

#include <sstream>

#include "common/cli.hpp"

namespace devpki::renew {

namespace {

void candidate_json(std::ostringstream& o, const pki::RenewalCandidate& c, bool refused) {
  o << "{\"device_id\":" << json_string(c.cert.device_id)
    << ",\"issuer\":" << json_string(c.cert.issuer)
    << ",\"serial\":" << json_string(c.cert.serial_hex)
    << ",\"profile\":" << json_string(c.cert.profile)
    << ",\"not_after\":" << json_string(pki::format_time(c.cert.not_after))
    << ",\"due_at\":" << json_string(pki::format_time(c.decision.due_at))
    << ",\"state\":" << json_string(pki::to_string(c.decision.state))
    << ",\"rule\":" << json_string(c.decision.rule) << ",\"target_ca\":" << json_string(c.target_ca)
    << ",\"rekey\":" << json_string(pki::to_string(c.rekey));
  if (refused) o << ",\"reason\":" << json_string(c.decision.reason);
  o << "}";
}

void plan_body(std::ostringstream& o, const pki::RenewalPlan& plan) {
  o << "\"at\":" << json_string(pki::format_time(plan.at))
    << ",\"horizon\":" << json_string(pki::format_time(plan.horizon)) << ",\"due\":[";
  for (std::size_t i = 0; i < plan.due.size(); ++i) {
    if (i) o << ",";
    candidate_json(o, plan.due[i], false);
  }
  o << "],\"refused\":[";
  for (std::size_t i = 0; i < plan.refused.size(); ++i) {
    if (i) o << ",";
    candidate_json(o, plan.refused[i], true);
  }
  o << "],\"groups\":[";
  for (std::size_t i = 0; i < plan.groups.size(); ++i) {
    const auto& g = plan.groups[i];
    o << (i ? "," : "") << "{\"target_ca\":" << json_string(g.target_ca)
      << ",\"profile\":" << json_string(g.profile) << ",\"due\":" << g.due
      << ",\"refused\":" << g.refused << "}";
  }
  o << "],\"profiles_without_policy\":[";
  for (std::size_t i = 0; i < plan.profiles_without_policy.size(); ++i)
    o << (i ? "," : "") << json_string(plan.profiles_without_policy[i]);
  o << "],\"scanned\":" << plan.scanned;
}

}  // namespace

std::string plan_json(const pki::RenewalPlan& plan) {
  std::ostringstream o;
  o << "{";
  plan_body(o, plan);
  o << "}";
  return o.str();
}

std::string preview_json(const pki::RenewPreview& pv) {
  std::ostringstream o;
  o << "{\"dry_run\":true,\"target_ca\":" << json_string(pv.target_ca)
    << ",\"profile\":" << json_string(pv.profile) << ",\"items\":[";
  for (std::size_t i = 0; i < pv.items.size(); ++i) {
    const auto& it = pv.items[i];
    o << (i ? "," : "") << "{\"index\":" << it.index
      << ",\"device_id\":" << json_string(it.device_id)
      << ",\"old_issuer\":" << json_string(it.old_issuer)
      << ",\"old_serial\":" << json_string(it.old_serial)
      << ",\"action\":" << json_string(pki::to_string(it.action))
      << ",\"reason\":" << json_string(it.reason) << "}";
  }
  o << "],\"plan\":{";
  plan_body(o, pv.plan);
  o << "}}";
  return o.str();
}

}  // namespace devpki::renew
