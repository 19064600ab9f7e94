// One-time enrollment secrets (pki/enrollment.hpp): tokens and QR setup
// codes. The secret is shown once; the store keeps HMAC-SHA256 of it under
// the home's enrollment key, so a copy of the inventory alone cannot be
// turned into redeemable secrets, and a lookup is one index probe.
#include <fcntl.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "enrollment/secrets_internal.hpp"
#include "ossl/check.hpp"
#include "pki/enrollment.hpp"
#include "pki/hierarchy.hpp"
#include "pki/onboarding.hpp"

namespace pki {

namespace {

constexpr std::string_view kTokenPrefix = "dpt_";
constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";  // RFC 4648, lower case
constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kTokenBytes = 16;
constexpr std::size_t kTokenBodyChars = 26;  // ceil(128 / 5)
constexpr std::size_t kTokenCheckChars = 4;  // 20 bits
constexpr std::size_t kSetupCodeChars = 12;  // 60 bits
constexpr std::size_t kKeyBytes = 32;

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::vector<std::uint8_t> b(n);
  ossl::check(RAND_bytes(b.data(), static_cast<int>(n)), "RAND_bytes");
  return b;
}

// Big-endian bit string -> base32 digits of `alphabet`, `chars` of them
// (the last digit padded with zero bits).
std::string to_base32(std::span<const std::uint8_t> bytes, std::size_t chars,
                      std::string_view alphabet) {
  std::string out;
  out.reserve(chars);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t i = 0;
  while (out.size() < chars) {
    if (bits < 5) {
      const std::uint8_t next = i < bytes.size() ? bytes[i] : 0;
      ++i;
      acc = (acc << 8) | next;
      bits += 8;
    }
    out += alphabet[(acc >> (bits - 5)) & 31u];
    bits -= 5;
  }
  return out;
}

std::vector<std::uint8_t> from_base32(std::string_view text, std::size_t bytes,
                                      std::string_view alphabet, bool& padding_zero) {
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const auto pos = alphabet.find(c);
    acc = (acc << 5) | static_cast<std::uint32_t>(pos);
    bits += 5;
    if (bits >= 8) {
      if (out.size() < bytes) out.push_back(static_cast<std::uint8_t>((acc >> (bits - 8)) & 0xffu));
      bits -= 8;
    }
    acc &= (1u << bits) - 1u;
  }
  padding_zero = acc == 0;
  return out;
}

std::string token_check(std::span<const std::uint8_t> body) {
  return to_base32(ossl::sha256(body), kTokenCheckChars, kBase32);
}

std::filesystem::path key_file(const Home& home) {
  return home.keys_dir() / "enrollment.key";
}

std::string kind_action(std::string_view kind, std::string_view what) {
  std::string s(kind);
  s += '.';
  s += what;
  return s;
}

}  // namespace

std::string_view to_string(SecretKind k) noexcept {
  return k == SecretKind::token ? "token" : "setup_code";
}

std::string_view to_string(RedeemRefusal r) noexcept {
  switch (r) {
    case RedeemRefusal::malformed:
      return "malformed";
    case RedeemRefusal::unknown:
      return "unknown";
    case RedeemRefusal::replayed:
      return "replayed";
    case RedeemRefusal::expired:
      return "expired";
    case RedeemRefusal::revoked:
      return "revoked";
    case RedeemRefusal::device:
      return "device";
    case RedeemRefusal::csr:
      return "csr";
  }
  return "unknown";
}

namespace enrollment {

std::optional<std::vector<std::uint8_t>> home_key(const Home& home, bool create) {
  const auto file = key_file(home);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) {
      const std::string text = fs::read_text(file, 1024);
      std::string hex = text;
      while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r'))
        hex.pop_back();
      std::vector<std::uint8_t> key;
      try {
        key = ossl::from_hex(hex);
      } catch (const Error&) {
        key.clear();
      }
      if (key.size() != kKeyBytes) {
        throw Error(ErrorCode::store, file.string() +
                                          " is not an enrollment key (64 hex digits): every token "
                                          "and setup code issued under it is unusable without it");
      }
      return key;
    }
    if (!create) return std::nullopt;
    // First use: write the key under a temporary name, then link() it into
    // place, which fails if another process got there first (its key wins).
    const std::string content = ossl::hex(random_bytes(kKeyBytes)) + "\n";
    // The temporary name is unique per attempt, not only per process: two
    // threads of one process making the key at once must not collide on it.
    const auto tmp =
        file.string() + ".tmp." + std::to_string(::getpid()) + "." + ossl::hex(random_bytes(8));
    {
      const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) throw fs::io_error("creating", tmp, errno);
      try {
        fs::write_all(fd, content, tmp);
        if (::fsync(fd) != 0) throw fs::io_error("syncing", tmp, errno);
      } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
      }
      ::close(fd);
    }
    const int rc = ::link(tmp.c_str(), file.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0 && err != EEXIST) throw fs::io_error("creating", file, err);
    // The key must outlive a power cut once secrets hashed under it are
    // committed: its directory entry is made durable too.
    const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) throw fs::io_error("opening", file.parent_path(), errno);
    const int sync_rc = ::fsync(dir);
    const int sync_err = errno;
    ::close(dir);
    if (sync_rc != 0) throw fs::io_error("syncing", file.parent_path(), sync_err);
  }
  throw Error(ErrorCode::internal, "could not read or create " + file.string());
}

std::optional<std::string> secret_hash(const Home& home, SecretKind kind,
                                       std::string_view canonical, bool create_key) {
  const auto key = home_key(home, create_key);
  if (!key) return std::nullopt;
  return keyed_hash(*key, kind, canonical);
}

std::string keyed_hash(std::span<const std::uint8_t> key, SecretKind kind,
                       std::string_view canonical) {
  std::string msg(to_string(kind));
  msg += ':';
  msg += canonical;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len) == nullptr) {
    ossl::fail(ErrorCode::crypto, "HMAC-SHA256");
  }
  return ossl::hex(std::span<const std::uint8_t>(mac, len));
}

std::string new_token() {
  const auto body = random_bytes(kTokenBytes);
  std::string t(kTokenPrefix);
  t += to_base32(body, kTokenBodyChars, kBase32);
  t += token_check(body);
  return t;
}

std::string new_setup_code() {
  return to_base32(random_bytes(8), kSetupCodeChars, kCrockford);
}

std::string canonical_token(std::string_view text) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string shape = "expected dpt_ followed by 30 base32 characters (a-z, 2-7)";
  if (t.size() != kTokenPrefix.size() + kTokenBodyChars + kTokenCheckChars ||
      t.compare(0, kTokenPrefix.size(), kTokenPrefix) != 0) {
    throw Error(ErrorCode::invalid_input, "malformed token: " + shape);
  }
  const std::string_view rest = std::string_view(t).substr(kTokenPrefix.size());
  if (rest.find_first_not_of(kBase32) != std::string_view::npos) {
    throw Error(ErrorCode::invalid_input, "malformed token: " + shape);
  }
  bool zero_pad = false;
  const auto body = from_base32(rest.substr(0, kTokenBodyChars), kTokenBytes, kBase32, zero_pad);
  if (!zero_pad || body.size() != kTokenBytes ||
      token_check(body) != rest.substr(kTokenBodyChars)) {
    throw Error(ErrorCode::invalid_input,
                "malformed token: its check characters do not match (mistyped or truncated)");
  }
  return t;
}

}  // namespace enrollment

std::string default_issuing_ca(Home& home) {
  std::vector<std::string> issuing;
  for (const auto& c : home.store().list_cas())
    if (!c.parent.empty() && c.status == CaStatus::active) issuing.push_back(c.name);
  if (issuing.empty()) throw Error(ErrorCode::invalid_input, "this home has no active issuing CA");
  if (issuing.size() > 1) {
    std::string names;
    for (const auto& n : issuing) {
      names += names.empty() ? "" : ", ";
      names += n;
    }
    throw Error(ErrorCode::invalid_input,
                "name the CA that issues on redemption (--ca): this home has " + names);
  }
  return issuing.front();
}

std::vector<IssuedSecret> issue_enrollment_secrets(Home& home,
                                                   std::span<const IssueSecretRequest> reqs,
                                                   const Clock& clock) {
  const TimePoint now = clock.now();
  std::vector<IssuedSecret> out;
  out.reserve(reqs.size());
  std::vector<AuditEvent> audit;
  audit.reserve(reqs.size());

  // Read (or made, at the first request that passes its checks) once for
  // the whole call: a manifest's labels are thousands.
  std::optional<std::vector<std::uint8_t>> key;
  std::vector<std::string> ids;
  ids.reserve(reqs.size());
  for (const auto& r : reqs)
    ids.push_back(r.device_id);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const IssueSecretRequest& r = reqs[i];
    const std::string where =
        reqs.size() > 1 ? "request " + std::to_string(i + 1) + " (device " + r.device_id + "): "
                        : std::string();
    try {
      validate_device_id(r.device_id);
      if (r.ttl < std::chrono::minutes(1) || r.ttl > std::chrono::days(3650)) {
        throw Error(ErrorCode::invalid_input,
                    "the time to live must be from 1 minute to 3650 days");
      }
      if (r.profile.empty()) throw Error(ErrorCode::invalid_input, "no profile given");
      home.profile(r.profile);  // Error(not_found) listing the home's profiles
      const std::string ca = r.ca.empty() ? default_issuing_ca(home) : r.ca;
      current_issuer(home, ca);  // not_found for an unknown CA, policy for a dead end
      IssuedSecret s;
      s.secret =
          r.kind == SecretKind::token ? enrollment::new_token() : enrollment::new_setup_code();
      auto& rec = s.record;
      rec.id = ossl::hex(random_bytes(8));
      rec.kind = std::string(to_string(r.kind));
      rec.device_id = r.device_id;
      rec.ca = ca;
      rec.profile = r.profile;
      if (!key) key = enrollment::home_key(home, true);
      rec.secret_hash = enrollment::keyed_hash(*key, r.kind, s.secret);
      rec.state = "active";
      rec.created_at = now;
      rec.expires_at = now + r.ttl;
      AuditEvent ev;
      ev.at = now;
      ev.actor = r.actor;
      ev.action = kind_action(rec.kind, "issue");
      ev.subject = rec.id;
      ev.detail = nlohmann::json{
          {"device_id", rec.device_id},
          {"ca", rec.ca},
          {"profile", rec.profile},
          {"expires_at", format_time(rec.expires_at)},
          {"replace",
           r.replace}}.dump();
      audit.push_back(std::move(ev));
      out.push_back(std::move(s));
    } catch (const Error& e) {
      throw Error(e.code(), where + e.what());
    }
  }
  const auto gone = home.store().decommissioned_devices(ids);
  if (!gone.empty()) {
    // Named like the other refusals: the first request for such a device.
    std::string where;
    if (reqs.size() > 1) {
      const auto it = std::find(ids.begin(), ids.end(), gone.front());
      where = "request ";
      where += std::to_string(it - ids.begin() + 1);
      where += " (device ";
      where += gone.front();
      where += "): ";
    }
    throw Error(ErrorCode::policy, where + "device " + gone.front() +
                                       " is decommissioned: no enrollment secret is issued for it");
  }
  const bool replace = !reqs.empty() && reqs.front().replace;
  if (std::any_of(reqs.begin(), reqs.end(),
                  [&](const IssueSecretRequest& r) { return r.replace != replace; })) {
    throw Error(ErrorCode::invalid_input,
                "replace must be the same for every request of one call (the store applies it to "
                "all of them)");
  }
  std::vector<EnrollmentSecretRecord> records;
  records.reserve(out.size());
  for (const auto& s : out)
    records.push_back(s.record);
  home.store().add_enrollment_secrets(records, replace, now, audit);
  return out;
}

std::vector<EnrollmentSecretRecord> list_enrollment_secrets(Home& home, const SecretQuery& q) {
  return home.store().list_enrollment_secrets(q);
}

std::vector<EnrollmentSecretRecord> revoke_enrollment_secrets(Home& home,
                                                              const std::string& device_id,
                                                              std::optional<SecretKind> kind,
                                                              const Clock& clock,
                                                              const std::string& actor) {
  validate_device_id(device_id);
  AuditEvent ev;
  ev.at = clock.now();
  ev.actor = actor;
  ev.action = kind ? kind_action(to_string(*kind), "revoke") : std::string("enrollment.revoke");
  ev.detail = nlohmann::json{{"device_id", device_id}}.dump();
  std::optional<std::string_view> k;
  if (kind) k = to_string(*kind);
  auto revoked = home.store().revoke_enrollment_secrets(device_id, k, ev.at, ev);
  if (revoked.empty()) {
    throw Error(ErrorCode::not_found,
                "device " + device_id + " has no active " +
                    (kind ? (*kind == SecretKind::token ? "token" : "setup code")
                          : std::string("token or setup code")));
  }
  return revoked;
}

std::string secret_state(const EnrollmentSecretRecord& s, TimePoint now) {
  if (s.state == "active") return now < s.expires_at ? "active" : "expired";
  if (s.state == "redeemed" && s.redeemed_serial.empty()) return "interrupted";
  return s.state;
}

}  // namespace pki
