// devpki-ca chain: a CA's chain as PEM, the CA first and the root last;
// during a rollover the other issuing CA of the overlap follows the CA.
#include <iostream>
#include <memory>

#include "devpki-ca/commands.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/output.hpp"

namespace devpki::ca {

namespace {

struct ChainOptions {
  std::string ca;
  std::string out;
  bool force = false;
  bool no_root = false;
};

Exit run_chain(const ChainOptions& o, const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  // What a relying party must trust: during a rollover both issuing CAs.
  auto chain = pki::ca_trust_chain(home, o.ca, pki::SystemClock{}.now());
  if (o.no_root && chain.size() > 1) chain.pop_back();
  std::string pem;
  for (const auto& c : chain)
    pem += c.to_pem();
  const bool to_stdout = o.out.empty() || o.out == "-";
  if (!to_stdout) pki::write_public_file(o.out, pem, o.force);
  if (g.json) {
    std::cout << "{\"ca\":" << json_string(o.ca)
              << ",\"out\":" << json_string(to_stdout ? "" : o.out) << ",\"certificates\":[";
    for (std::size_t i = 0; i < chain.size(); ++i) {
      std::cout << (i ? "," : "") << "{\"subject\":" << json_string(chain[i].subject().to_string())
                << ",\"serial\":" << json_string(chain[i].serial_hex())
                << ",\"not_after\":" << json_string(pki::format_time(chain[i].not_after()))
                << ",\"pem\":" << json_string(chain[i].to_pem()) << "}";
    }
    std::cout << "]}\n";
  } else if (to_stdout) {
    std::cout << pem;
  } else {
    std::cerr << "wrote " << chain.size() << (chain.size() == 1 ? " certificate" : " certificates")
              << " to " << o.out << "\n";
  }
  return Exit::ok;
}

}  // namespace

Command add_chain(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<ChainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "chain",
      "Write a CA's certificate chain as PEM: the CA first, the root last. During a rollover "
      "(devpki-ca rollover), the other issuing CAs of its lineage that still answer for "
      "certificates follow the CA (newest first), so relying parties that trust this file accept "
      "the devices of both until the old CA's last certificate expires.");
  cmd->add_option("--ca", o->ca, "the CA whose chain to write")->required();
  cmd->add_option("--out", o->out, "file to write (default: stdout)")->type_name("FILE");
  cmd->add_flag("--force", o->force, "replace --out if it exists");
  cmd->add_flag("--no-root", o->no_root, "leave the root out (servers send the chain without it)");
  return {cmd, [o, &g] { return run_chain(*o, g); }};
}

}  // namespace devpki::ca
