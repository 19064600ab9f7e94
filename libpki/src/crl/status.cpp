// crl_status: how fresh each CA's last CRLs are, for monitoring.
#include <algorithm>

#include "crl/crl_internal.hpp"
#include "pki/certificate.hpp"
#include "pki/home.hpp"

namespace pki {

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
    // A retired CA still answers for the certificates it issued until they
    // expire. Their notAfter never passes the CA's (issuance clamps it), so
    // the CA's own notAfter stands for "some certificate may be unexpired".
    if (ca.status == CaStatus::retired && now > ca.not_after) continue;
    const auto usage = Certificate::from_der(ca.cert_der).key_usage();
    if (!usage.empty() &&
        std::find(usage.begin(), usage.end(), KeyUsage::crl_sign) == usage.end()) {
      continue;  // publish_crl refuses it: nothing to monitor
    }
    CrlStatus s;
    s.ca = ca.name;
    s.full = store.last_crl(ca.name, false);
    s.freshness = s.full ? crl::freshness_at(*s.full, now) : CrlFreshness::missing;
    // Delta CRLs are opt-in: judged once the CA has published one (relying
    // parties that use deltas then depend on the next one), never "missing".
    if (home.profile(ca.profile).crl.delta_next_update) {
      s.delta = store.last_crl(ca.name, true);
      if (s.delta) s.delta_freshness = crl::freshness_at(*s.delta, now);
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
