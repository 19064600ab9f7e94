// devpki-ca subcommands: one file each, listed explicitly in main.cpp.
#pragma once

#include <optional>
#include <string>

#include "common/cli.hpp"
#include "pki/hierarchy.hpp"

namespace devpki::ca {

// A new CA key's protection (--passphrase-file, or --no-passphrase) and the
// passphrase that unlocks its parent's key: the same one unless
// --parent-passphrase-file gives another (issue-ca, rollover).
void read_new_ca_passphrases(const PassphraseOptions& p, const std::string& parent_file,
                             pki::CaKeyProtection& protection,
                             std::optional<std::string>& parent_passphrase);

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
Command add_trust(CLI::App& app, const GlobalOptions& g);

}  // namespace devpki::ca
