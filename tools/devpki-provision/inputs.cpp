// What the method subcommands share: chain and CRL inputs, issued-certificate JSON.
#include <nlohmann/json.hpp>
#include <string_view>

#include "devpki-provision/commands.hpp"
#include "pki/error.hpp"

namespace devpki::provision {

namespace {
constexpr std::size_t kMaxChainBytes = 1 << 20;
constexpr std::size_t kMaxCrlBytes = 64 << 20;
}  // namespace

void add_chain_options(CLI::App& cmd, ChainInputs& in) {
  cmd.add_option("--chain", in.chain,
                 "intermediate CA certificates (PEM bundle) between the certificate and a "
                 "trusted CA, when it does not chain to one directly")
      ->type_name("FILE");
  cmd.add_option("--crl", in.crls,
                 "the current CRL (PEM or DER) of the certificate's issuer when that is a CA of "
                 "another home (repeatable); this home's CAs are checked in its inventory")
      ->type_name("FILE");
}

std::vector<pki::Certificate> read_chain(const ChainInputs& in) {
  if (in.chain.empty()) return {};
  const auto bytes = read_input_file(in.chain, kMaxChainBytes, "chain");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  try {
    return pki::Certificate::from_pem_bundle(text);
  } catch (const pki::Error& e) {
    throw pki::Error(e.code(), "chain file '" + in.chain + "': " + e.what());
  }
}

std::vector<std::vector<std::uint8_t>> read_crls(const ChainInputs& in) {
  std::vector<std::vector<std::uint8_t>> out;
  for (const auto& f : in.crls)
    out.push_back(read_input_file(f, kMaxCrlBytes, "CRL"));
  return out;
}

std::string issued_json(pki::Home& home, const std::string& issuer, const std::string& serial) {
  const auto r = home.store().find_cert(issuer, serial);
  if (!r) {
    throw pki::Error(pki::ErrorCode::store, "certificate " + serial + " of '" + issuer +
                                                "' is not in the store after issuance");
  }
  return nlohmann::json{{"issuer", r->issuer},
                        {"serial", r->serial_hex},
                        {"device_id", r->device_id},
                        {"profile", r->profile},
                        {"subject", r->subject},
                        {"not_before", pki::format_time(r->not_before)},
                        {"not_after", pki::format_time(r->not_after)},
                        {"spki_sha256", r->spki_sha256},
                        {"output", r->output}}
      .dump();
}

}  // namespace devpki::provision
