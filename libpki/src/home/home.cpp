#include "pki/home.hpp"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "core/fs.hpp"
#include "core/text.hpp"
#include "pki/error.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace fsys = std::filesystem;

namespace {

constexpr const char* kSettingsFile = "devpki.yaml";

std::string resolve_store_url(const fsys::path& root, const std::string& url) {
  std::string path = url;
  if (url.starts_with("sqlite:")) {
    path = url.substr(7);
    if (path.starts_with("//")) return url;  // sqlite:///abs
  } else if (url.find("://") != std::string::npos) {
    return url;  // another backend's URL, open_store decides
  }
  const fsys::path p(path);
  return "sqlite:" + (p.is_absolute() ? p : root / p).string();
}

HomeSettings parse_settings(const fsys::path& file) {
  const std::string text = fs::read_text(file, 1 << 20);
  HomeSettings s;
  const std::string where = file.string();
  try {
    const YAML::Node doc = YAML::Load(text);
    if (!doc.IsMap())
      throw Error(ErrorCode::invalid_input, where + ": expected a mapping of settings");
    for (const auto& kv : doc) {
      const std::string key = kv.first.as<std::string>();
      const std::string at = where + ":" + std::to_string(kv.first.Mark().line + 1) + ": " + key;
      if (key == "store") {
        s.store_url = kv.second.as<std::string>();
      } else if (key == "variables") {
        if (!kv.second.IsMap()) throw Error(ErrorCode::invalid_input, at + ": expected a mapping");
        for (const auto& v : kv.second)
          s.variables[v.first.as<std::string>()] = v.second.as<std::string>();
      } else {
        throw Error(ErrorCode::invalid_input, at + ": unknown setting (allowed: store, variables)");
      }
    }
  } catch (const YAML::Exception& e) {
    throw Error(ErrorCode::invalid_input,
                where + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return s;
}

std::string render_settings(const HomeSettings& s) {
  YAML::Emitter out;
  out << YAML::Comment("devpki home settings (docs/devpki-ca.md)") << YAML::Newline;
  out << YAML::BeginMap;
  out << YAML::Key << "store" << YAML::Value << s.store_url;
  out << YAML::Key << "variables" << YAML::Value << YAML::BeginMap;
  for (const auto& [k, v] : s.variables)
    out << YAML::Key << k << YAML::Value << v;
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void make_dir(const fsys::path& p, unsigned mode) {
  if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST) {
    throw Error(ErrorCode::io, "cannot create directory '" + p.string() + "'");
  }
  ::chmod(p.c_str(), mode);
}

}  // namespace

Home::Home(fsys::path root, HomeSettings settings, std::unique_ptr<Store> store)
    : m_root(std::move(root)), m_settings(std::move(settings)), m_store(std::move(store)) {}
Home::Home(Home&&) noexcept = default;
Home& Home::operator=(Home&&) noexcept = default;
Home::~Home() = default;

bool Home::exists(const fsys::path& dir) {
  return fsys::exists(dir / kSettingsFile);
}

Home Home::create(const fsys::path& dir, const fsys::path& profile_source,
                  const HomeSettings& settings) {
  if (exists(dir)) {
    throw Error(ErrorCode::conflict, "'" + dir.string() + "' already holds a devpki home");
  }
  if (const auto it = settings.variables.find("base_url"); it != settings.variables.end()) {
    if (const auto problem = profile_detail::url_problem(it->second)) {
      throw Error(ErrorCode::invalid_input,
                  "base URL '" + printable(it->second) + "': " + *problem);
    }
  }
  // Every profile must load before anything is written.
  std::vector<fsys::path> profiles;
  std::error_code ec;
  for (const auto& entry : fsys::directory_iterator(profile_source, ec)) {
    if (entry.path().extension() == ".yaml") {
      load_profile(entry.path());
      profiles.push_back(entry.path());
    }
  }
  if (ec || profiles.empty()) {
    throw Error(ErrorCode::not_found, "no profiles found in '" + profile_source.string() + "'");
  }

  const bool dir_existed = fsys::exists(dir);
  if (dir_existed && !fsys::is_empty(dir)) {
    throw Error(ErrorCode::conflict,
                "'" + dir.string() + "' exists and is not empty; choose a new directory");
  }
  try {
    fsys::create_directories(dir);
    make_dir(dir, 0700);
    make_dir(dir / "keys", 0700);  // CA keys: owner only
    make_dir(dir / "profiles", 0755);
    make_dir(dir / "crl", 0755);
    for (const auto& p : profiles) {
      fs::write_file_atomic(dir / "profiles" / p.filename(), fs::read_text(p, 1 << 20), 0644,
                            false);
    }
    auto store = open_store(resolve_store_url(dir, settings.store_url));
    fs::write_file_atomic(dir / kSettingsFile, render_settings(settings), 0644, false);
    return Home(dir, settings, std::move(store));
  } catch (...) {
    // Leave nothing half-made behind.
    if (!dir_existed) {
      fsys::remove_all(dir, ec);
    } else {
      for (const auto& e : fsys::directory_iterator(dir, ec))
        fsys::remove_all(e.path(), ec);
    }
    throw;
  }
}

Home Home::open(const fsys::path& dir) {
  if (!exists(dir)) {
    throw Error(ErrorCode::not_found, "no devpki home at '" + dir.string() +
                                          "' (create one with `devpki-ca --home " + dir.string() +
                                          " init ...`, or set --home / DEVPKI_HOME)");
  }
  HomeSettings settings = parse_settings(dir / kSettingsFile);
  auto store = open_store(resolve_store_url(dir, settings.store_url));
  return Home(dir, std::move(settings), std::move(store));
}

ProfileSpec Home::profile(const std::string& name) const {
  const fsys::path file = profiles_dir() / (name + ".yaml");
  const bool plain =
      !name.empty() && name.find_first_of("/\\") == std::string::npos && name[0] != '.';
  if (!plain || !fsys::exists(file)) {
    std::string list;
    for (const auto& n : profile_names())
      list += (list.empty() ? "" : ", ") + n;
    throw Error(ErrorCode::not_found, "no profile '" + printable(name) + "' in " +
                                          profiles_dir().string() + " (available: " + list + ")");
  }
  return load_profile(file);
}

std::vector<std::string> Home::profile_names() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fsys::directory_iterator(profiles_dir(), ec)) {
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace pki
