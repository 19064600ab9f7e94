// CRLs: each CA publishes a v2 CRL (RFC 5280 5) of the certificates it
// revoked that have not expired yet, with a CRL number that strictly
// increases across runs (kept in the store), thisUpdate/nextUpdate from the
// CA's profile (`crl:`), reason codes and invalidity dates on the entries,
// and the CA's key identifier. Optionally delta CRLs (5.2.4); the full CRL
// then carries freshestCRL when the profile names a delta URL.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pki/clock.hpp"
#include "pki/findings.hpp"
#include "pki/store.hpp"

namespace pki {

class Home;
class Authority;

struct CrlOptions {
  bool delta = false;  // a delta CRL against the CA's last full CRL
  std::string actor = "devpki";
};

struct PublishedCrl {
  CrlRecord record;
  std::vector<std::uint8_t> der;
  std::string pem;                 // the same CRL, as written to pem_file
  std::filesystem::path der_file;  // home/crl/<ca>.crl or <ca>-delta.crl
  std::filesystem::path pem_file;  // the same with .pem appended
  Findings warnings;               // nextUpdate clamped to the CA's notAfter, ...
};

// Signs the CA's next CRL, records it (number, times, entries, digest) and
// then writes home/crl/ atomically (DER and PEM). Error(policy) for a CA
// whose certificate lacks cRLSign, or a delta without delta_next_update in
// the CA's profile or without a full CRL to base it on. A crash between
// recording and writing burns a number (gaps are allowed; reuse is not).
PublishedCrl publish_crl(Home& home, const Authority& ca, const CrlOptions& opts,
                         const Clock& clock);

// Where the CA's published files are.
std::filesystem::path crl_file(const Home& home, const std::string& ca, bool delta);

// The chain bundle home/crl/<ca>-chain.crl.pem: the CA's last full CRL,
// then during a rollover the last full CRL of every other CA of its lineage
// in overlap at `now` (ca_lineage, ca_in_overlap; newest first), then every
// ancestor's, root last. That is what nginx's ssl_crl and `openssl verify
// -crl_check_all` need: one CRL per CA in the chain, and during a rollover
// one for each issuing CA a relying party trusts, so one bundle serves the
// devices of both. Each file is read back and checked against the store's
// record (number and digest). Error(not_found) naming the CA without a CRL
// and the command that publishes one; Error(policy) for one already expired
// at `now`.
std::filesystem::path write_crl_bundle(Home& home, const std::string& ca, TimePoint now);

// After `ca` published a full CRL: rewrites the bundle of `ca` and of every
// CA that has a CRL of its own and whose bundle carries `ca`'s: the CAs under
// it and the other CAs of its rollover lineage (a retired CA past its overlap
// is left alone). A bundle
// that cannot be written (an ancestor without a usable CRL) is reported in
// `problem`, not thrown: the CRL itself is published either way.
struct BundleResult {
  std::string ca;
  std::filesystem::path file;  // empty when `problem` is set
  std::string problem;
};
std::vector<BundleResult> write_crl_bundles(Home& home, const std::string& ca, TimePoint now);

// Freshness of a CA's last full CRL (and delta when the profile has them).
enum class CrlFreshness { fresh, stale, expired, missing };  // stale: past half its life
std::string_view to_string(CrlFreshness f) noexcept;

struct CrlStatus {
  std::string ca;
  std::optional<CrlRecord> full;
  std::optional<CrlRecord> delta;
  CrlFreshness freshness = CrlFreshness::missing;  // of the full CRL
  std::optional<CrlFreshness> delta_freshness;     // when the profile has deltas
  std::uint64_t revoked_since = 0;                 // revocations not yet on the last full CRL
  // The files in home/crl/ are the CRLs recorded last (false after a crash
  // between recording and writing, or a file changed by hand): publish again.
  bool file_ok = true;
};

// One row per CA that can sign CRLs (cRLSign) and must: active CAs, and
// retired (rolled-over) ones while ca_in_overlap(), i.e. until the last
// certificate they issued expires (Store::last_issued_not_after, capped by
// the CA's own notAfter), when they stop being needed. In store order.
std::vector<CrlStatus> crl_status(Home& home, TimePoint now);

// A parsed CRL, for tests and `devpki-ca show`-like output.
struct CrlInfo {
  std::uint64_t number = 0;
  std::optional<std::uint64_t> delta_base;
  std::string issuer;  // RFC 4514
  TimePoint this_update{};
  TimePoint next_update{};
  std::size_t entries = 0;
};
// PEM or DER. Error(invalid_input) for anything else.
CrlInfo parse_crl(const std::vector<std::uint8_t>& bytes);

}  // namespace pki
