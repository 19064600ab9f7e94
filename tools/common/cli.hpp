// What the devpki tools share: exit codes, the pki::Error -> exit code map,
// --home resolution, passphrase sources, JSON output. Kept small on purpose.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki/error.hpp"

namespace devpki {

// DESIGN.md: 0 success, 1 usage, 2 failure, 3 partial.
enum class Exit : int { ok = 0, usage = 1, failure = 2, partial = 3 };

// Runs a tool's main: parses, calls the selected subcommand, maps pki::Error
// to exit 2 with "<tool>: error: <message>" on stderr and CLI11 errors to exit 1.
int run_main(CLI::App& app, int argc, char** argv, const std::function<Exit()>& dispatch);

struct GlobalOptions {
  std::string home;  // --home, else $DEVPKI_HOME, else ./pki
  bool json = false;
};

// Adds --home and --json to the top-level app; with app.fallthrough() they may
// also follow the subcommand ("devpki-ca list --json").
void add_global_options(CLI::App& app, GlobalOptions& g);
std::filesystem::path resolve_home(const GlobalOptions& g);

// A subcommand: its CLI11 node and what runs when it was chosen.
struct Command {
  CLI::App* app = nullptr;
  std::function<Exit()> run;
};
// Runs the parsed one of `commands`.
Exit dispatch(const std::vector<Command>& commands);

// Where a CA key's passphrase comes from: --passphrase-file, else
// DEVPKI_PASSPHRASE, else none. --no-passphrase states a plaintext key is meant.
struct PassphraseOptions {
  std::string file;
  bool none = false;
};
void add_passphrase_options(CLI::App& cmd, PassphraseOptions& p, bool creating);
// nullopt when no source is given; Error(invalid_input) for an empty file.
std::optional<std::string> read_passphrase(const PassphraseOptions& p);

// JSON string escaping for --json output.
std::string json_escape(std::string_view s);
std::string json_string(std::string_view s);

void warn(std::string_view tool, std::string_view message);

// A file given on the command line (a CSR, a certificate, a signature), read
// whole: Error(not_found) "cannot read <what> '<path>': ..." when it cannot
// be read, Error(invalid_input) when it is larger than `cap` bytes.
std::vector<std::uint8_t> read_input_file(const std::string& path, std::size_t cap,
                                          std::string_view what);

}  // namespace devpki

namespace devpki {
// Where `init` copies profiles from: --profiles, else $DEVPKI_PROFILES, else
// the source tree's profiles/ (running from a build), else the installed ones.
std::filesystem::path shipped_profiles_dir(const std::string& flag);
// A data file shipped with devpki (provisioning.yaml): --data FILE, else
// $DEVPKI_DATA/<name>, else the source tree's data/ (running from a build),
// else the installed one.
std::filesystem::path shipped_data_file(const std::string& flag, const std::string& name);
}  // namespace devpki
