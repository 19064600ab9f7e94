// devpki-ca subcommands: one file each, listed explicitly in main.cpp.
#pragma once

#include "common/cli.hpp"

namespace devpki::ca {

Command add_init(CLI::App& app, const GlobalOptions& g);
Command add_issue_ca(CLI::App& app, const GlobalOptions& g);
Command add_sign(CLI::App& app, const GlobalOptions& g);
Command add_list(CLI::App& app, const GlobalOptions& g);
Command add_show(CLI::App& app, const GlobalOptions& g);
Command add_chain(CLI::App& app, const GlobalOptions& g);
Command add_recover(CLI::App& app, const GlobalOptions& g);
Command add_revoke(CLI::App& app, const GlobalOptions& g);
Command add_release(CLI::App& app, const GlobalOptions& g);
Command add_crl(CLI::App& app, const GlobalOptions& g);
Command add_crl_status(CLI::App& app, const GlobalOptions& g);
Command add_rollover(CLI::App& app, const GlobalOptions& g);

}  // namespace devpki::ca
