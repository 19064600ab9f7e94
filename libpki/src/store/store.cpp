// Status names and open_store(): the URL decides the backend. A PostgreSQL
// backend adds one branch here and its own files next to sqlite_*.
#include "pki/store.hpp"

#include <string>

#include "pki/error.hpp"
#include "store/records.hpp"
#include "store/sqlite_store.hpp"

namespace pki {

std::string_view to_string(CaStatus s) noexcept {
  switch (s) {
    case CaStatus::active:
      return "active";
    case CaStatus::retired:
      return "retired";
  }
  return "unknown";
}

std::string_view to_string(CertStatus s) noexcept {
  switch (s) {
    case CertStatus::reserved:
      return "reserved";
    case CertStatus::issued:
      return "issued";
    case CertStatus::abandoned:
      return "abandoned";
    case CertStatus::revoked:
      return "revoked";
    case CertStatus::superseded:
      return "superseded";
  }
  return "unknown";
}

CertStatus parse_cert_status(std::string_view s) {
  for (const auto status : {CertStatus::reserved, CertStatus::issued, CertStatus::abandoned,
                            CertStatus::revoked, CertStatus::superseded}) {
    if (s == to_string(status)) return status;
  }
  throw Error(ErrorCode::invalid_input,
              "unknown certificate status '" + std::string(s) +
                  "': expected reserved, issued, abandoned, revoked or superseded");
}

std::string_view to_string(RevokeOutcome o) noexcept {
  switch (o) {
    case RevokeOutcome::revoked:
      return "revoked";
    case RevokeOutcome::already_revoked:
      return "already_revoked";
    case RevokeOutcome::not_found:
      return "not_found";
    case RevokeOutcome::not_revocable:
      return "not_revocable";
  }
  return "unknown";
}

std::string_view to_string(RegisterOutcome o) noexcept {
  switch (o) {
    case RegisterOutcome::registered:
      return "registered";
    case RegisterOutcome::unchanged:
      return "unchanged";
    case RegisterOutcome::conflict:
      return "conflict";
    case RegisterOutcome::decommissioned:
      return "decommissioned";
  }
  return "unknown";
}

std::string_view to_string(ClaimOutcome o) noexcept {
  switch (o) {
    case ClaimOutcome::claimed:
      return "claimed";
    case ClaimOutcome::unknown:
      return "unknown";
    case ClaimOutcome::redeemed:
      return "redeemed";
    case ClaimOutcome::revoked:
      return "revoked";
    case ClaimOutcome::expired:
      return "expired";
  }
  return "unknown";
}

namespace store {

CaStatus parse_ca_status(std::string_view s) {
  for (const auto status : {CaStatus::active, CaStatus::retired}) {
    if (s == to_string(status)) return status;
  }
  throw Error(ErrorCode::invalid_input,
              "unknown CA status '" + std::string(s) + "': expected active or retired");
}

}  // namespace store

namespace {

// "scheme://..." is a URL, and so is anything starting "sqlite:"; everything
// else is a path (a file name may contain ':' without being a URL).
std::string_view url_scheme(std::string_view url) {
  if (url.starts_with("sqlite:")) return "sqlite";
  const auto end = url.find("://");
  if (end == std::string_view::npos || end == 0) return {};
  const auto scheme = url.substr(0, end);
  for (const char c : scheme) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '-' || c == '.';
    if (!ok) return {};
  }
  return scheme;
}

std::string sqlite_path(std::string_view url) {
  auto rest = url.substr(std::string_view("sqlite:").size());
  if (rest.starts_with("//")) {
    // "sqlite:///abs/path": an empty authority, then the absolute path.
    rest.remove_prefix(2);
    if (!rest.starts_with('/')) {
      throw Error(ErrorCode::invalid_input,
                  "invalid store URL '" + std::string(url) +
                      "': a sqlite URL names a local file, use sqlite:///abs/path or sqlite:path");
    }
  }
  return std::string(rest);
}

}  // namespace

std::unique_ptr<Store> open_store(const std::string& url) {
  if (url.empty()) throw Error(ErrorCode::invalid_input, "empty store URL");
  const auto scheme = url_scheme(url);
  std::string path;
  if (scheme.empty()) {
    path = url;
  } else if (scheme == "sqlite") {
    path = sqlite_path(url);
  } else {
    // The URL itself is not echoed: a database URL may carry a password.
    throw Error(ErrorCode::invalid_input, "store URL scheme '" + std::string(scheme) +
                                              "' is not supported in this build (use sqlite:)");
  }
  if (path.empty()) {
    throw Error(ErrorCode::invalid_input, "store URL '" + url + "' names no file");
  }
  return std::make_unique<SqliteStore>(path);
}

}  // namespace pki
