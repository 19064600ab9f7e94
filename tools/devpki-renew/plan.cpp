// devpki-renew plan: what is due, by when, under which rule; what cannot be
// renewed and why; counts by CA and profile.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "common/batch_render.hpp"
#include "devpki-renew/commands.hpp"
#include "devpki-renew/render.hpp"
#include "pki/clock.hpp"
#include "pki/error.hpp"
#include "pki/home.hpp"
#include "pki/renewal.hpp"

namespace devpki::renew {

void add_selector_options(CLI::App& cmd, SelectorOptions& s) {
  cmd.add_option("--within", s.within,
                 "also what comes due within this long (30d, 12h, 1y; default 0: due now)")
      ->type_name("DURATION");
  cmd.add_option("--ca", s.ca,
                 "certificates issued by this CA or another of its lineage (the CAs it was "
                 "rolled over from or to)")
      ->type_name("CA");
  cmd.add_option("--profile", s.profile, "certificates issued under this profile")
      ->type_name("PROFILE");
  cmd.add_option("--batch", s.batch, "certificates minted (or renewed) by this batch")
      ->type_name("ID");
}

pki::RenewalSelector make_selector(const SelectorOptions& s) {
  pki::RenewalSelector sel;
  if (!s.within.empty()) {
    try {
      sel.within = pki::parse_duration(s.within);
    } catch (const pki::Error& e) {
      throw pki::Error(pki::ErrorCode::invalid_input, std::string("--within: ") + e.what());
    }
  }
  if (!s.ca.empty()) sel.ca = s.ca;
  if (!s.profile.empty()) sel.profile = s.profile;
  if (!s.batch.empty()) sel.batch_id = s.batch;
  return sel;
}

namespace {

struct PlanOptions {
  SelectorOptions select;
  std::string at;
};

std::string state_text(const pki::RenewalCandidate& c, pki::TimePoint at) {
  if (c.decision.state == pki::RotationState::not_due) {
    return "due in " + pki::format_duration(std::chrono::duration_cast<std::chrono::seconds>(
                           c.decision.due_at - at));
  }
  return std::string(pki::to_string(c.decision.state));
}

void print_text(const pki::RenewalPlan& plan) {
  std::cout << "renewal plan at " << pki::format_time(plan.at);
  if (plan.horizon != plan.at) std::cout << ", due by " << pki::format_time(plan.horizon);
  std::cout << "\n";
  const auto w = [](std::size_t n) { return std::setw(static_cast<int>(n)); };
  std::size_t dev_w = 8, ser_w = 8, iss_w = 8, state_w = 16;
  for (const auto* list : {&plan.due, &plan.refused}) {
    for (const auto& c : *list) {
      dev_w = std::max(dev_w, c.cert.device_id.size() + 2);
      ser_w = std::max(ser_w, c.cert.serial_hex.size() + 2);
      iss_w = std::max(iss_w, c.cert.issuer.size() + 2);
    }
  }
  for (const auto& c : plan.due)
    state_w = std::max(state_w, state_text(c, plan.at).size() + 2);
  if (!plan.due.empty()) {
    std::cout << "\ndue (" << format_count(plan.due.size()) << "):\n"
              << std::left << w(dev_w) << "DEVICE" << w(iss_w) << "ISSUER" << w(ser_w) << "SERIAL"
              << w(22) << "NOT AFTER" << w(22) << "DUE FROM" << w(state_w) << "STATE"
              << "RULE\n";
    for (const auto& c : plan.due) {
      std::cout << w(dev_w) << c.cert.device_id << w(iss_w) << c.cert.issuer << w(ser_w)
                << c.cert.serial_hex << w(22) << pki::format_time(c.cert.not_after) << w(22)
                << pki::format_time(c.decision.due_at) << w(state_w) << state_text(c, plan.at)
                << c.decision.rule << "\n";
    }
  }
  if (!plan.refused.empty()) {
    std::cout << "\ncannot be renewed (" << format_count(plan.refused.size()) << "):\n"
              << std::left << w(dev_w) << "DEVICE" << w(iss_w) << "ISSUER" << w(ser_w) << "SERIAL"
              << w(22) << "NOT AFTER" << w(16) << "STATE"
              << "WHY\n";
    for (const auto& c : plan.refused) {
      std::cout << w(dev_w) << c.cert.device_id << w(iss_w) << c.cert.issuer << w(ser_w)
                << c.cert.serial_hex << w(22) << pki::format_time(c.cert.not_after) << w(16)
                << pki::to_string(c.decision.state) << c.decision.reason << "\n";
    }
  }
  std::cout << "\n";
  if (plan.groups.empty()) {
    std::cout << "nothing is due";
    if (plan.horizon != plan.at) std::cout << " by " << pki::format_time(plan.horizon);
    std::cout << " (" << format_count(plan.scanned) << " certificates looked at)\n";
  } else {
    std::cout << "by issuing CA and profile:\n";
    for (const auto& g : plan.groups) {
      std::cout << "  " << g.target_ca << " / " << g.profile << ": " << format_count(g.due)
                << " due, " << format_count(g.refused) << " cannot be renewed\n";
    }
  }
  if (!plan.profiles_without_policy.empty()) {
    std::cout << "profiles without a rotation: section (never due):";
    for (const auto& p : plan.profiles_without_policy)
      std::cout << " " << p;
    std::cout << "\n";
  }
}

Exit run_plan(const PlanOptions& o, const GlobalOptions& g) {
  const pki::RenewalSelector sel = make_selector(o.select);
  pki::TimePoint at = pki::SystemClock().now();
  if (!o.at.empty()) {
    try {
      at = pki::parse_time(o.at);
    } catch (const pki::Error& e) {
      throw pki::Error(pki::ErrorCode::invalid_input, std::string("--at: ") + e.what());
    }
  }
  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::RenewalPlan plan = pki::plan_renewals(home, sel, at);
  if (g.json) {
    std::cout << plan_json(plan) << "\n";
  } else {
    print_text(plan);
  }
  return Exit::ok;
}

}  // namespace

Command add_plan(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<PlanOptions>();
  CLI::App* cmd = app.add_subcommand(
      "plan",
      "List the certificates due for renewal (device, issuer, serial, notAfter, due from, the "
      "rule), those that cannot be renewed and why (revoked, decommissioned, past grace), and "
      "counts by issuing CA and profile. Reads only; needs no CA key.");
  add_selector_options(*cmd, o->select);
  cmd->add_option("--at", o->at,
                  "plan as of this time instead of now (2027-03-01T00:00:00Z): what will be due "
                  "then")
      ->type_name("TIME");
  return {cmd, [o, &g] { return run_plan(*o, g); }};
}

}  // namespace devpki::renew
