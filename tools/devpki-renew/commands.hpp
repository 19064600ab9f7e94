// devpki-renew's subcommands: plan (what rotation policy says is due) and
// run (renew it as a batch).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/cli.hpp"

namespace devpki::renew {

// The selectors plan and run share.
struct SelectorOptions {
  std::string within;  // duration text, "30d"
  std::string ca;
  std::string profile;
  std::string batch;
};
void add_selector_options(CLI::App& cmd, SelectorOptions& s);

Command add_plan(CLI::App& app, const GlobalOptions& g);
Command add_run(CLI::App& app, const GlobalOptions& g);

}  // namespace devpki::renew
