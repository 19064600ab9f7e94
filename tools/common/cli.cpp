#include "common/cli.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace devpki {

int run_main(CLI::App& app, int argc, char** argv, const std::function<Exit()>& dispatch) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(Exit::usage);
  }
  try {
    return static_cast<int>(dispatch());
  } catch (const pki::Error& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << "\n";
    return static_cast<int>(Exit::failure);
  } catch (const std::exception& e) {
    std::cerr << app.get_name() << ": internal error: " << e.what() << "\n";
    return static_cast<int>(Exit::failure);
  }
}

void add_global_options(CLI::App& app, GlobalOptions& g) {
  app.add_option("--home", g.home, "PKI home directory (default: $DEVPKI_HOME, then ./pki)")
      ->type_name("DIR");
  app.add_flag("--json", g.json, "print the result as JSON on stdout (for scripts)");
  app.fallthrough();
}

Exit dispatch(const std::vector<Command>& commands) {
  for (const auto& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  throw pki::Error(pki::ErrorCode::internal, "no subcommand was selected");
}

std::filesystem::path resolve_home(const GlobalOptions& g) {
  if (!g.home.empty()) return g.home;
  if (const char* env = std::getenv("DEVPKI_HOME"); env != nullptr && *env != '\0') return env;
  return "pki";
}

void add_passphrase_options(CLI::App& cmd, PassphraseOptions& p, bool creating) {
  cmd.add_option("--passphrase-file", p.file,
                 "file whose first line is the CA key passphrase (else $DEVPKI_PASSPHRASE)")
      ->type_name("FILE");
  if (creating) {
    cmd.add_flag("--no-passphrase", p.none,
                 "store the new CA key unencrypted (not for production; prints a warning)");
  }
}

std::optional<std::string> read_passphrase(const PassphraseOptions& p) {
  std::optional<std::string> out;
  if (!p.file.empty()) {
    std::ifstream in(p.file, std::ios::binary);
    if (!in) {
      throw pki::Error(pki::ErrorCode::not_found, "cannot read passphrase file '" + p.file + "'");
    }
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      throw pki::Error(
          pki::ErrorCode::invalid_input,
          "passphrase file '" + p.file + "' is empty (its first line is the passphrase)");
    }
    out = line;
  } else if (const char* env = std::getenv("DEVPKI_PASSPHRASE"); env != nullptr && *env != '\0') {
    out = env;
  }
  return out;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string json_string(std::string_view s) {
  return "\"" + json_escape(s) + "\"";
}

void warn(std::string_view tool, std::string_view message) {
  std::cerr << tool << ": warning: " << message << "\n";
}

}  // namespace devpki

namespace devpki {
std::filesystem::path shipped_profiles_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("DEVPKI_PROFILES"); env != nullptr && *env != '\0') return env;
  if (std::filesystem::is_directory(DEVPKI_SOURCE_PROFILES)) return DEVPKI_SOURCE_PROFILES;
  return DEVPKI_INSTALLED_PROFILES;
}

std::filesystem::path shipped_data_file(const std::string& flag, const std::string& name) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("DEVPKI_DATA"); env != nullptr && *env != '\0') {
    return std::filesystem::path(env) / name;
  }
  const std::filesystem::path source = std::filesystem::path(DEVPKI_SOURCE_DATA) / name;
  if (std::filesystem::is_regular_file(source)) return source;
  return std::filesystem::path(DEVPKI_INSTALLED_DATA) / name;
}
}  // namespace devpki

namespace devpki {

std::vector<std::uint8_t> read_input_file(const std::string& path, std::size_t cap,
                                          std::string_view what) {
  std::string label(what);
  label += " file '";
  label += path;
  label += "'";
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw pki::Error(pki::ErrorCode::not_found, "cannot read " + label + ": " + ec.message());
  if (size > cap) {
    throw pki::Error(
        pki::ErrorCode::invalid_input,
        label + " is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(cap));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw pki::Error(pki::ErrorCode::not_found, "cannot read " + label);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in),
                                   std::istreambuf_iterator<char>());
}

}  // namespace devpki
