// devpki-mint batches: the batches of this home and their state.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "common/batch_render.hpp"
#include "devpki-mint/commands.hpp"
#include "pki/home.hpp"

namespace devpki::mint {

namespace {

Exit run_batches(const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  const auto batches = home.store().list_batches();
  if (g.json) {
    std::cout << "[";
    for (std::size_t i = 0; i < batches.size(); ++i)
      std::cout << (i ? "," : "") << batch_json(batches[i]);
    std::cout << "]\n";
    return Exit::ok;
  }
  if (batches.empty()) {
    std::cout << "no batches yet (devpki-mint --ca CA --profile P --count N ...)\n";
    return Exit::ok;
  }
  std::size_t id_w = 4, ca_w = 4, profile_w = 9;
  for (const auto& b : batches) {
    id_w = std::max(id_w, b.id.size() + 2);
    ca_w = std::max(ca_w, b.ca.size() + 2);
    profile_w = std::max(profile_w, b.profile.size() + 2);
  }
  const auto w = [](std::size_t n) { return std::setw(static_cast<int>(n)); };
  std::cout << std::left << w(id_w) << "ID" << w(ca_w) << "CA" << w(profile_w) << "PROFILE" << w(10)
            << "STATE" << w(12) << "COUNT" << w(22) << "CREATED (UTC)"
            << "OUT\n";
  for (const auto& b : batches) {
    std::cout << w(id_w) << b.id << w(ca_w) << b.ca << w(profile_w) << b.profile << w(10) << b.state
              << w(12) << b.count << w(22) << pki::format_time(b.created_at) << b.out_dir << "\n";
  }
  return Exit::ok;
}

}  // namespace

Command add_batches(CLI::App& app, const GlobalOptions& g) {
  CLI::App* cmd = app.add_subcommand(
      "batches", "List the batches of this home: id, CA, profile, state, count, created, out dir.");
  return {cmd, [&g] { return run_batches(g); }};
}

}  // namespace devpki::mint
