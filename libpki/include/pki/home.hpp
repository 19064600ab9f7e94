// A PKI home: the directory every tool works on (DESIGN.md "The home").
//   devpki.yaml  settings        store.db  inventory       keys/  CA keys (0700)
//   profiles/    profiles used   crl/      published CRLs
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pki/profile.hpp"
#include "pki/store.hpp"

namespace pki {

struct HomeSettings {
  // Relative sqlite paths are relative to the home.
  std::string store_url = "sqlite:store.db";
  // Values for {variables} in profile URL templates, e.g.
  //   base_url: http://pki.acme.example
  std::map<std::string, std::string> variables;
};

class Home {
 public:
  // Creates the layout and an empty store, copying every *.yaml profile from
  // `profile_source`. Error(conflict) if `dir` already holds a home;
  // Error(invalid_input) for a `base_url` variable that is not an http(s) or
  // ldap URL; nothing is left behind on failure.
  static Home create(const std::filesystem::path& dir, const std::filesystem::path& profile_source,
                     const HomeSettings& settings = {});
  // Error(not_found) naming `dir` and saying how to create one.
  static Home open(const std::filesystem::path& dir);
  static bool exists(const std::filesystem::path& dir);

  Home(Home&&) noexcept;
  Home& operator=(Home&&) noexcept;
  ~Home();

  const std::filesystem::path& root() const noexcept { return m_root; }
  std::filesystem::path keys_dir() const { return m_root / "keys"; }
  std::filesystem::path profiles_dir() const { return m_root / "profiles"; }
  std::filesystem::path crl_dir() const { return m_root / "crl"; }
  const HomeSettings& settings() const noexcept { return m_settings; }
  Store& store() { return *m_store; }

  // profiles/<name>.yaml, parsed and validated. Error(not_found) listing the
  // profiles this home has.
  ProfileSpec profile(const std::string& name) const;
  std::vector<std::string> profile_names() const;

 private:
  Home(std::filesystem::path root, HomeSettings settings, std::unique_ptr<Store> store);
  std::filesystem::path m_root;
  HomeSettings m_settings;
  std::unique_ptr<Store> m_store;
};

}  // namespace pki
