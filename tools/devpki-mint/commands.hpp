// devpki-mint: the batch run (top-level options) and the `batches` listing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/cli.hpp"

namespace devpki::mint {

struct MintOptions {
  // A new batch.
  std::string ca;
  std::string profile;
  std::uint64_t count = 0;
  std::string id_pattern;
  std::uint64_t start = 1;
  std::string ids;   // CSV file
  std::string csrs;  // directory or .jsonl file
  std::string out;
  std::string format = "jsonl";
  std::string batch_id;
  std::string key = "ec-p256";
  bool reissue = false;
  bool allow_decommissioned = false;
  std::vector<std::string> vars;
  std::size_t chunk = 1000;
  // Resuming one.
  std::string resume;
  // Both.
  unsigned threads = 1;
  PassphraseOptions passphrase;
  std::string p12_passphrase_file;

  // The CLI11 nodes the usage checks look at.
  CLI::Option* count_opt = nullptr;
  CLI::Option* ids_opt = nullptr;
  CLI::Option* csrs_opt = nullptr;
  CLI::Option* threads_opt = nullptr;
  CLI::Option* format_opt = nullptr;
  // Every option that describes a new batch (refused with --resume and `batches`).
  std::vector<CLI::Option*> new_batch_opts;
  // Options that only make sense for a run (refused with `batches`).
  std::vector<CLI::Option*> run_opts;
};

// Adds the batch options to the top-level app.
void add_mint_options(CLI::App& app, MintOptions& o);
// The option combinations CLI11 cannot express; throws CLI::ValidationError
// (exit 1). `listing`: the `batches` subcommand was chosen.
void check_usage(const MintOptions& o, bool listing);
Exit run_mint(const MintOptions& o, const GlobalOptions& g);

Command add_batches(CLI::App& app, const GlobalOptions& g);

}  // namespace devpki::mint
