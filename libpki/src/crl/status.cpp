// crl_status: how fresh each CA's last CRLs are, for monitoring.
#include <algorithm>

#include "core/fs.hpp"
#include "crl/crl_internal.hpp"
#include "ossl/check.hpp"
#include "pki/certificate.hpp"
#include "pki/hierarchy.hpp"
#include "pki/home.hpp"

namespace pki {

namespace {

// The file a record names holds that CRL (its digest). A crash between
// recording a CRL and writing its file leaves the older CRL in place while
// the store counts the new one as published: this is how it is noticed.
bool file_matches(const Home& home, const CrlRecord& rec) {
  std::error_code ec;
  const auto file = home.root() / rec.file;
  if (!std::filesystem::is_regular_file(file, ec)) return false;
  try {
    return ossl::hex(ossl::sha256(fs::read_file(file, std::size_t{1} << 30))) == rec.sha256;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

namespace crl {

CrlFreshness freshness_at(const CrlRecord& rec, TimePoint now) noexcept {
  if (now > rec.next_update) return CrlFreshness::expired;
  // Past half its life: DESIGN.md "publishing warns when half its life is
  // gone", time to publish the next one.
  if (now >= rec.this_update + (rec.next_update - rec.this_update) / 2) return CrlFreshness::stale;
  return CrlFreshness::fresh;
}

}  // namespace crl

std::string_view to_string(CrlFreshness f) noexcept {
  switch (f) {
    case CrlFreshness::fresh:
      return "fresh";
    case CrlFreshness::stale:
      return "stale";
    case CrlFreshness::expired:
      return "expired";
    case CrlFreshness::missing:
      return "missing";
  }
  return "unknown";
}

std::vector<CrlStatus> crl_status(Home& home, TimePoint now) {
  Store& store = home.store();
  std::vector<CrlStatus> out;
  for (const CaRecord& ca : store.list_cas()) {
    // A retired (rolled-over) CA still answers for the certificates it
    // issued until the last of them expires (or the CA itself does).
    if (!ca_in_overlap(home, ca, now)) continue;
    const auto usage = Certificate::from_der(ca.cert_der).key_usage();
    if (!usage.empty() &&
        std::find(usage.begin(), usage.end(), KeyUsage::crl_sign) == usage.end()) {
      continue;  // publish_crl refuses it: nothing to monitor
    }
    CrlStatus s;
    s.ca = ca.name;
    s.full = store.last_crl(ca.name, false);
    s.freshness = s.full ? crl::freshness_at(*s.full, now) : CrlFreshness::missing;
    s.file_ok = !s.full || file_matches(home, *s.full);
    // Delta CRLs are opt-in: judged once the CA has published one (relying
    // parties that use deltas then depend on the next one), never "missing".
    if (home.profile(ca.profile).crl.delta_next_update) {
      s.delta = store.last_crl(ca.name, true);
      if (s.delta) {
        s.delta_freshness = crl::freshness_at(*s.delta, now);
        s.file_ok = s.file_ok && file_matches(home, *s.delta);
      }
    }
    std::uint64_t changes = 0;
    store.for_each_revocation_change(ca.name, s.full ? s.full->covered_seq : 0, now,
                                     [&](const RevocationRecord&) { ++changes; });
    s.revoked_since = changes;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace pki
