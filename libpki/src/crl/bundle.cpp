// The chain bundle: one CRL per CA from `ca` up to the root, plus those of
// the CAs `ca` was rolled over from or to that still answer for certificates,
// as `openssl verify -crl_check_all` and nginx's ssl_crl want them.
#include <openssl/pem.h>

#include <algorithm>

#include "core/fs.hpp"
#include "crl/crl_internal.hpp"
#include "ossl/check.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/home.hpp"

namespace pki {

namespace {

constexpr unsigned kPublicMode = 0644;
// A CRL of a million entries is ~50 MB.
constexpr std::size_t kMaxCrlBytes = std::size_t{1} << 30;

std::vector<std::string> chain_names(Store& store, const std::string& ca) {
  std::vector<std::string> names;
  for (std::string next = ca; !next.empty();) {
    const auto rec = store.find_ca(next);
    if (!rec) {
      if (names.empty()) {
        throw Error(ErrorCode::not_found, "no CA named '" + next + "' (see `devpki-ca list`)");
      }
      throw Error(ErrorCode::store, "the store lacks CA '" + next + "', parent of '" + ca + "'");
    }
    names.push_back(next);
    if (names.size() > 16) throw Error(ErrorCode::store, "CA chain of '" + ca + "' loops");
    next = rec->parent;
  }
  return names;
}

// The CAs whose CRLs `ca`'s bundle carries: `ca`, the other members of its
// rollover lineage in overlap at `now` (newest first), then its ancestors.
// A relying party that trusts both CAs of a rollover (nginx
// ssl_client_certificate) checks the devices of either against one ssl_crl.
struct BundleMember {
  std::string name;
  bool lineage = false;  // rolled over from or to `ca` (not an ancestor)
};
std::vector<BundleMember> bundle_members(Home& home, const std::string& ca, TimePoint now) {
  const std::vector<std::string> chain = chain_names(home.store(), ca);
  std::vector<BundleMember> out{{ca, false}};
  const std::vector<CaRecord> lineage = ca_lineage(home, ca);
  for (auto it = lineage.rbegin(); it != lineage.rend(); ++it) {
    if (it->name != ca && ca_in_overlap(home, *it, now)) out.push_back({it->name, true});
  }
  for (std::size_t i = 1; i < chain.size(); ++i)
    out.push_back({chain[i], false});
  return out;
}

std::string publish_hint(const std::string& ca) {
  std::string s = "publish one with `devpki-ca crl --ca ";
  s += ca;
  s += '`';
  return s;
}

// The CA's last full CRL as published, checked against its record. The
// file may be replaced by a concurrent publisher between reading the record
// and the file: then the record is read again, once.
std::vector<std::uint8_t> recorded_crl(Home& home, const BundleMember& member,
                                       const std::string& for_ca, TimePoint now) {
  const std::string& name = member.name;
  for (int attempt = 0;; ++attempt) {
    const auto rec = home.store().last_crl(name, false);
    if (!rec) {
      std::string msg = "CA '" + name + "'";
      if (member.lineage) {
        msg += " (same rollover lineage as '" + for_ca;
        msg += "', whose bundle carries its CRL during the overlap)";
      } else if (name != for_ca) {
        msg += " (in the chain of '" + for_ca + "')";
      }
      msg += " has no CRL; ";
      msg += publish_hint(name);
      throw Error(ErrorCode::not_found, msg);
    }
    if (now > rec->next_update) {
      throw Error(ErrorCode::policy, "the last CRL of '" + name + "' (number " +
                                         std::to_string(rec->number) + ") expired at " +
                                         format_time(rec->next_update) + "; " + publish_hint(name));
    }
    const std::filesystem::path file = home.root() / rec->file;
    std::vector<std::uint8_t> der = fs::read_file(file, kMaxCrlBytes);
    // The recorded digest was taken over the DER that carries the recorded
    // number: equal digests mean the same CRL, no need to parse it (which
    // cost more than building it for 100,000 entries).
    if (ossl::hex(ossl::sha256(der)) == rec->sha256) {
      return der;
    }
    const auto again = home.store().last_crl(name, false);
    if (attempt == 0 && again && again->number != rec->number) continue;
    throw Error(ErrorCode::conflict, file.string() + " is not CRL " + std::to_string(rec->number) +
                                         " of '" + name + "' as recorded in the store; " +
                                         publish_hint(name) + " again");
  }
}

}  // namespace

namespace crl {

std::string to_pem(std::span<const std::uint8_t> der) {
  ossl::BioPtr bio(ossl::check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  ossl::check(
      PEM_write_bio(bio.get(), PEM_STRING_X509_CRL, "", der.data(), static_cast<long>(der.size())),
      "PEM_write_bio");
  return ossl::bio_string(bio.get());
}

}  // namespace crl

std::filesystem::path write_crl_bundle(Home& home, const std::string& ca, TimePoint now) {
  validate_ca_name(ca);  // a path component below
  std::string pem;
  for (const BundleMember& member : bundle_members(home, ca, now)) {
    pem += crl::to_pem(recorded_crl(home, member, ca, now));
  }
  const std::filesystem::path out = home.crl_dir() / (ca + "-chain.crl.pem");
  fs::write_file_atomic(out, pem, kPublicMode, true);
  return out;
}

std::vector<BundleResult> write_crl_bundles(Home& home, const std::string& ca, TimePoint now) {
  std::vector<BundleResult> out;
  Store& store = home.store();
  for (const CaRecord& rec : store.list_cas()) {
    if (rec.name != ca) {
      // A CA that never published has nothing to bundle yet (its own
      // publication writes its bundle); a retired CA out of its overlap
      // needs no bundle any more.
      if (!store.last_crl(rec.name, false) || !ca_in_overlap(home, rec, now)) continue;
      // `ca`'s CRL, which just changed, is in the bundles of the CAs under
      // it and of the other CAs of its rollover lineage.
      const auto members = bundle_members(home, rec.name, now);
      if (std::none_of(members.begin(), members.end(),
                       [&](const BundleMember& m) { return m.name == ca; })) {
        continue;
      }
    }
    BundleResult r;
    r.ca = rec.name;
    try {
      r.file = write_crl_bundle(home, rec.name, now);
    } catch (const Error& e) {
      r.problem = e.what();
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace pki
