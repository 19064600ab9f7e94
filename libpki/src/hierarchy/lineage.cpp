// Issuing CA rollover lineages: a CA, the CAs it was rolled over from and to,
// which of them issues now and which still answer for what they issued.
#include <algorithm>
#include <map>

#include "core/text.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"

namespace pki {

namespace {

// A lineage is a chain of rollovers; anything longer is a loop in the store.
constexpr std::size_t kMaxLineage = 256;

CaRecord require_ca(Store& store, const std::string& name) {
  auto rec = store.find_ca(name);
  if (!rec) {
    throw Error(ErrorCode::not_found,
                "no CA named '" + printable(name) + "' (see `devpki-ca list`)");
  }
  return std::move(*rec);
}

}  // namespace

std::string current_issuer(Home& home, const std::string& name) {
  Store& store = home.store();
  CaRecord rec = require_ca(store, name);
  for (std::size_t i = 0; rec.status != CaStatus::active; ++i) {
    if (rec.successor.empty()) {
      std::string msg = "CA '" + rec.name;
      msg += "' is ";
      msg += to_string(rec.status);
      msg +=
          " without a successor: nothing issues in its place; name an active CA (see "
          "`devpki-ca list`)";
      throw Error(ErrorCode::policy, msg);
    }
    if (i >= kMaxLineage) {
      throw Error(ErrorCode::store, "the successors of CA '" + name + "' loop");
    }
    const auto next = store.find_ca(rec.successor);
    if (!next) {
      throw Error(ErrorCode::store,
                  "the store lacks CA '" + rec.successor + "', successor of '" + rec.name + "'");
    }
    rec = *next;
  }
  return rec.name;
}

std::vector<CaRecord> ca_lineage(Home& home, const std::string& name) {
  Store& store = home.store();
  const CaRecord self = require_ca(store, name);
  // Predecessors are found by their successor field: one pass over the CAs.
  std::map<std::string, CaRecord> by_name;
  std::map<std::string, std::string> predecessor_of;
  for (CaRecord& ca : store.list_cas()) {
    if (!ca.successor.empty()) predecessor_of[ca.successor] = ca.name;
    std::string key = ca.name;
    by_name.emplace(std::move(key), std::move(ca));
  }
  std::vector<CaRecord> older;
  for (auto it = predecessor_of.find(self.name); it != predecessor_of.end();
       it = predecessor_of.find(it->second)) {
    const auto found = by_name.find(it->second);
    if (found == by_name.end() || older.size() >= kMaxLineage) {
      throw Error(ErrorCode::store, "the rollover lineage of CA '" + name + "' loops");
    }
    older.push_back(found->second);
  }
  std::vector<CaRecord> out(older.rbegin(), older.rend());
  out.push_back(self);
  for (std::string next = self.successor; !next.empty();) {
    const auto found = by_name.find(next);
    if (found == by_name.end()) {
      throw Error(ErrorCode::store,
                  "the store lacks CA '" + next + "', successor of '" + out.back().name + "'");
    }
    if (out.size() >= kMaxLineage) {
      throw Error(ErrorCode::store, "the rollover lineage of CA '" + name + "' loops");
    }
    out.push_back(found->second);
    next = found->second.successor;
  }
  return out;
}

bool ca_in_overlap(Home& home, const CaRecord& ca, TimePoint at) {
  if (ca.status == CaStatus::active) return true;
  // A CA past its notAfter can sign no CRL, and nothing it issued outlives it
  // except a forever() notAfter, which no relying party can check anyway.
  if (at >= ca.not_after) return false;
  const auto last = home.store().last_issued_not_after(ca.name);
  return last && *last >= at;
}

std::vector<Certificate> ca_trust_chain(Home& home, const std::string& name, TimePoint at) {
  std::vector<Certificate> chain = ca_chain(home, name);
  const std::vector<CaRecord> lineage = ca_lineage(home, name);
  std::vector<Certificate> others;
  // Newest first: during the overlap relying parties mostly meet the successor.
  for (auto it = lineage.rbegin(); it != lineage.rend(); ++it) {
    if (it->name == name || !ca_in_overlap(home, *it, at)) continue;
    others.push_back(Certificate::from_der(it->cert_der));
  }
  // Rollover keeps the parent, so the rest of the chain serves every member.
  chain.insert(chain.begin() + 1, others.begin(), others.end());
  return chain;
}

}  // namespace pki
