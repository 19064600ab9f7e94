// devpki-provision subcommands that carry the provisioning methods out, one
// file each (enroll.cpp, jitp.cpp, qr.cpp, token.cpp); compare, assess and
// guide are in main.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "pki/certificate.hpp"
#include "pki/home.hpp"
#include "pki/store.hpp"

namespace devpki::provision {

Command add_enroll(CLI::App& app, const GlobalOptions& g);
Command add_jitp(CLI::App& app, const GlobalOptions& g);
Command add_qr(CLI::App& app, const GlobalOptions& g);
Command add_token(CLI::App& app, const GlobalOptions& g);

// What enroll and jitp read besides the certificate: --chain (PEM bundle of
// intermediates) and --crl (repeatable; for CAs of another home).
struct ChainInputs {
  std::string chain;
  std::vector<std::string> crls;
};
void add_chain_options(CLI::App& cmd, ChainInputs& in);
std::vector<pki::Certificate> read_chain(const ChainInputs& in);
std::vector<std::vector<std::uint8_t>> read_crls(const ChainInputs& in);

// An issued certificate as the JSON the tools print (devpki-ca sign's shape).
std::string issued_json(pki::Home& home, const std::string& issuer, const std::string& serial);

}  // namespace devpki::provision
