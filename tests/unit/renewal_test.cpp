// Renewal in-process with an injected clock: plan_renewals() over the store
// (due, look-ahead, refused, past grace), run_renewal() through the batch
// engine (kept keys, the old certificate superseded, resume after a
// simulated crash supersedes what it recovers), the successor CA issuing
// after a rollover, and the refusals that leave everything untouched.
#include <doctest/doctest.h>

#include "home_fixture.hpp"
#include "pki/batch.hpp"
#include "pki/renewal.hpp"
#include "pki/revocation.hpp"

using namespace pki;
using namespace pki::test;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

const TimePoint kNow = sys_days{2026y / November / 27} + 12h;
constexpr auto kDay = hours(24);

// device-ldevid (shipped): 1y, renew_before 33% (120d 10h 48min of 365d),
// rekey allowed, grace 30d, revoke_superseded false, jitter 24h.
struct Fixture : HomeFixture {
  Fixture() : HomeFixture(kNow) {}

  BatchResult mint(std::uint64_t n, const std::string& id, const std::string& pattern) {
    BatchRequest r;
    r.ca = "factory";
    r.profile = "device-ldevid";
    r.source = BatchSource::count;
    r.count = n;
    r.id_pattern = pattern;
    r.out = dir.path() / id;
    r.batch_id = id;
    r.chunk = 4;
    return run_batch(home, r, secrets, clock);
  }

  RenewRequest renew_request(const std::string& out) {
    RenewRequest r;
    r.out = dir.path() / out;
    r.batch_id = out;
    r.chunk = 4;
    return r;
  }
};

std::string chain_pem(Home& home, const std::string& ca) {
  std::string out;
  for (const auto& c : ca_chain(home, ca))
    out += c.to_pem();
  return out;
}

}  // namespace

TEST_CASE("plan: due by the rule, look-ahead, grace and past grace") {
  Fixture f;
  f.mint(5, "m1", "D-{seq}");
  // Minted at kNow with a 5 min backdate: notAfter kNow + 365d, due 33% of
  // (365d + 5min) before it, up to 24h earlier by jitter.
  const auto plan0 = plan_renewals(f.home, {}, f.clock.now());
  CHECK(plan0.due.empty());
  CHECK(plan0.refused.empty());
  CHECK(plan0.scanned == 0);  // the scan reads only the window
  REQUIRE(plan0.profiles_without_policy.size() >= 1);

  RenewalSelector ahead;
  ahead.within = 250 * kDay;
  const auto plan1 = plan_renewals(f.home, ahead, f.clock.now());
  REQUIRE(plan1.due.size() == 5);
  for (const auto& c : plan1.due) {
    CHECK(c.decision.state == RotationState::not_due);
    CHECK(c.target_ca == "factory");
    CHECK(c.rekey == Rekey::allowed);
    CHECK(c.decision.due_at <= plan1.horizon);
    CHECK(c.decision.due_at > f.clock.now() + 243 * kDay);
  }
  REQUIRE(plan1.groups.size() == 1);
  CHECK(plan1.groups[0].due == 5);
  // Ordered by due time.
  for (std::size_t i = 1; i < plan1.due.size(); ++i)
    CHECK(plan1.due[i - 1].decision.due_at <= plan1.due[i].decision.due_at);

  // At the latest due time: all due; after notAfter: in grace; after grace: refused.
  const TimePoint latest = plan1.due.back().decision.due_at;
  CHECK(plan_renewals(f.home, {}, latest).due.size() == 5);
  CHECK(plan_renewals(f.home, {}, latest - seconds(1)).due.size() < 5);
  const TimePoint na = plan1.due.front().cert.not_after;
  const auto grace = plan_renewals(f.home, {}, na + seconds(1));
  REQUIRE(grace.due.size() == 5);
  CHECK(grace.due[0].decision.state == RotationState::in_grace);
  const auto past = plan_renewals(f.home, {}, na + 30 * kDay + seconds(1));
  CHECK(past.due.empty());
  REQUIRE(past.refused.size() == 5);
  CHECK(past.refused[0].decision.state == RotationState::past_grace);
}

TEST_CASE("plan: revoked and decommissioned certificates are refused with the reason") {
  Fixture f;
  f.mint(4, "m1", "D-{seq}");
  RevokeTarget t;
  t.device_id = "D-1";
  RevokeOptions ro;
  ro.reason = RevocationReason::key_compromise;
  revoke(f.home, t, ro, f.clock);
  DecommissionOptions dop;
  decommission(f.home, {"D-2"}, dop, f.clock);
  RenewalSelector ahead;
  ahead.within = 250 * kDay;
  const auto plan = plan_renewals(f.home, ahead, f.clock.now());
  CHECK(plan.due.size() == 2);
  REQUIRE(plan.refused.size() == 2);
  for (const auto& c : plan.refused) {
    if (c.cert.device_id == "D-1") {
      CHECK(c.decision.state == RotationState::revoked);
      CHECK(c.decision.reason.find("keyCompromise") != std::string::npos);
    } else {
      CHECK(c.cert.device_id == "D-2");
      CHECK(c.decision.state == RotationState::decommissioned);
    }
  }
}

TEST_CASE("run: kept keys, same identity, the old certificates superseded") {
  Fixture f;
  f.mint(6, "m1", "D-{seq}");
  f.clock.advance(250 * kDay);
  auto req = f.renew_request("r1");
  const auto r = run_renewal(f.home, req, f.secrets, f.clock);
  CHECK(r.state == BatchState::complete);
  CHECK(r.issued == 6);
  CHECK(r.rejected == 0);
  CHECK(
      f.sql("SELECT count(*) FROM certificates WHERE batch_id = 'm1' AND status = 'superseded'") ==
      "6");
  CHECK(f.sql("SELECT count(*) FROM certificates WHERE batch_id = 'r1' AND status = 'issued'") ==
        "6");
  CHECK(f.sql("SELECT count(*) FROM revocations") == "0");  // revoke_superseded: false
  const auto old_lines = read_jsonl(f.dir.path() / "m1" / "devices.jsonl");
  const auto new_lines = read_jsonl(req.out / "devices.jsonl");
  REQUIRE(new_lines.size() == 6);
  const std::string chain = chain_pem(f.home, "factory");
  for (const auto& n : new_lines) {
    CHECK(!n.contains("key"));
    const auto id = n["device_id"].get<std::string>();
    const auto o = std::find_if(old_lines.begin(), old_lines.end(),
                                [&](const auto& l) { return l["device_id"] == id; });
    REQUIRE(o != old_lines.end());
    const auto oc = Certificate::from_pem((*o)["cert"].get<std::string>());
    const auto nc = Certificate::from_pem(n["cert"].get<std::string>());
    CHECK(nc.subject() == oc.subject());
    CHECK(nc.sans() == oc.sans());
    CHECK(nc.public_key().spki_der() == oc.public_key().spki_der());
    CHECK(nc.serial_hex() != oc.serial_hex());
    CHECK(nc.not_after() == f.clock.now() + 365 * kDay);
    CHECK(verifies(n["cert"].get<std::string>(), chain, f.clock.now()));
  }
  // Nothing is due any more; a second run creates no batch.
  CHECK(plan_renewals(f.home, {}, f.clock.now()).due.empty());
  const auto again = run_renewal(f.home, f.renew_request("r2"), f.secrets, f.clock);
  CHECK(again.batch_id.empty());
  CHECK(!fs::exists(f.dir.path() / "r2"));
}

TEST_CASE("run: resume after a crash supersedes what it recovers") {
  Fixture f;
  f.mint(12, "m1", "D-{seq:02}");
  f.clock.advance(250 * kDay);
  auto req = f.renew_request("r1");
  run_renewal(f.home, req, f.secrets, f.clock);
  // What a kill -9 leaves: the last chunk (4) delivered but not committed
  // (so its old certificates are still issued), and a torn line.
  const fs::path jsonl = req.out / "devices.jsonl";
  const std::string full = slurp(jsonl);
  std::size_t cut = 0;
  for (int i = 0; i < 8; ++i)
    cut = full.find('\n', cut) + 1;
  f.sql(
      "UPDATE certificates SET status = 'issued' WHERE (issuer, serial_hex) IN (SELECT "
      "old_issuer, old_serial FROM renewal_items WHERE batch_id = 'r1' AND batch_index >= 8)");
  f.sql(
      "UPDATE certificates SET status = 'reserved', der = NULL WHERE batch_id = 'r1' AND "
      "batch_index >= 8");
  f.sql("UPDATE batches SET state = 'running', position = " + std::to_string(cut) +
        " WHERE id = 'r1'");
  std::size_t keep = cut;
  for (int i = 0; i < 2; ++i)
    keep = full.find('\n', keep) + 1;
  std::ofstream(jsonl, std::ios::binary | std::ios::trunc) << full.substr(0, keep + 40);
  fs::remove(req.out / "manifest.jsonl");
  CHECK(f.sql("SELECT count(*) FROM certificates WHERE batch_id = 'm1' AND status = 'issued'") ==
        "4");

  const auto r = resume_batch(f.home, "r1", f.secrets, f.clock);
  CHECK(r.recovered == 2);
  CHECK(r.abandoned == 2);
  CHECK(r.issued == 2);
  CHECK(r.already == 10);
  CHECK(
      f.sql("SELECT count(*) FROM certificates WHERE batch_id = 'm1' AND status = 'superseded'") ==
      "12");
  CHECK(f.sql("SELECT count(*) FROM certificates WHERE batch_id = 'r1' AND status = 'issued'") ==
        "12");
  CHECK(read_jsonl(jsonl).size() == 12);
  CHECK(f.sql("SELECT state FROM batches WHERE id = 'r1'") == "complete");
}

TEST_CASE("run: after a rollover the successor renews the old CA's certificates") {
  Fixture f;
  f.mint(3, "m1", "D-{seq}");
  f.clock.advance(10 * kDay);
  RolloverOptions ro;
  ro.ca = "factory";
  ro.name = "factory-g2";
  ro.protection.passphrase = "pw";
  ro.protection.encryption.pbkdf2_iterations = 1000;
  ro.parent_passphrase = "pw";
  rollover_ca(f.home, ro, f.clock);
  f.clock.advance(240 * kDay);
  RenewalSelector sel;
  sel.ca = "factory-g2";  // the lineage: factory's certificates too
  const auto plan = plan_renewals(f.home, sel, f.clock.now());
  REQUIRE(plan.due.size() == 3);
  CHECK(plan.due[0].cert.issuer == "factory");
  CHECK(plan.due[0].target_ca == "factory-g2");
  auto req = f.renew_request("r1");
  req.select = sel;
  const auto r = run_renewal(f.home, req, f.secrets, f.clock);
  CHECK(r.issued == 3);
  CHECK(f.sql("SELECT DISTINCT ca FROM batches WHERE id = 'r1'") == "factory-g2");
  CHECK(f.sql("SELECT DISTINCT issuer FROM certificates WHERE batch_id = 'r1'") == "factory-g2");
  const std::string chain = chain_pem(f.home, "factory-g2");
  for (const auto& n : read_jsonl(req.out / "devices.jsonl"))
    CHECK(verifies(n["cert"].get<std::string>(), chain, f.clock.now()));
}

TEST_CASE("run: refusals before the batch exists leave the store and the output untouched") {
  Fixture f;
  f.mint(3, "m1", "D-{seq}");
  f.clock.advance(250 * kDay);
  const std::string before = f.sql("SELECT count(*) || '/' || max(id) FROM audit") + "|" +
                             f.sql("SELECT count(*) FROM certificates");
  auto req = f.renew_request("r1");
  req.format = BatchFormat::p12;
  require_error([&] { run_renewal(f.home, req, f.secrets, f.clock); }, ErrorCode::invalid_input,
                "p12");
  req = f.renew_request("r1");
  req.select.ca = "nope";
  require_error([&] { run_renewal(f.home, req, f.secrets, f.clock); }, ErrorCode::not_found,
                "nope");
  req = f.renew_request("r1");
  req.select.profile = "issuing-ca";
  require_error([&] { run_renewal(f.home, req, f.secrets, f.clock); }, ErrorCode::invalid_input,
                "devpki-ca rollover");
  req = f.renew_request("r1");
  BatchSecrets wrong;
  wrong.ca_passphrase = "not it";
  CHECK_THROWS_AS(run_renewal(f.home, req, wrong, f.clock), Error);
  CHECK(!fs::exists(req.out));
  CHECK(f.sql("SELECT count(*) || '/' || max(id) FROM audit") + "|" +
            f.sql("SELECT count(*) FROM certificates") ==
        before);
  CHECK(f.sql("SELECT count(*) FROM batches") == "1");
}

TEST_CASE("run: kept keys of every key type (fixed-encoding fast path and the general decoder)") {
  Fixture f;
  const std::pair<KeyAlgorithm, const char*> kinds[] = {{KeyAlgorithm::ec_p256, "P256-{seq}"},
                                                        {KeyAlgorithm::ec_p384, "P384-{seq}"},
                                                        {KeyAlgorithm::ed25519, "ED-{seq}"},
                                                        {KeyAlgorithm::rsa_2048, "RSA-{seq}"}};
  int n = 0;
  for (const auto& [alg, pattern] : kinds) {
    BatchRequest r;
    r.ca = "factory";
    r.profile = "device-ldevid";
    r.source = BatchSource::count;
    r.count = 2;
    r.id_pattern = pattern;
    r.key = alg;
    r.batch_id = "m" + std::to_string(n++);
    r.out = f.dir.path() / r.batch_id;
    run_batch(f.home, r, f.secrets, f.clock);
  }
  f.clock.advance(250 * kDay);
  auto req = f.renew_request("r1");
  const auto r = run_renewal(f.home, req, f.secrets, f.clock);
  CHECK(r.issued == 8);
  CHECK(r.rejected == 0);
  const std::string chain = chain_pem(f.home, "factory");
  for (const auto& line : read_jsonl(req.out / "devices.jsonl")) {
    const auto id = line["device_id"].get<std::string>();
    const auto nc = Certificate::from_pem(line["cert"].get<std::string>());
    const auto old_serial =
        f.sql("SELECT serial_hex FROM certificates WHERE status = 'superseded' AND device_id = '" +
              id + "'");
    REQUIRE(!old_serial.empty());
    const auto old = f.home.store().find_cert("factory", old_serial);
    REQUIRE(old);
    const auto oc = Certificate::from_der(old->der);
    INFO(id);
    CHECK(nc.public_key().spki_der() == oc.public_key().spki_der());
    CHECK(f.sql("SELECT spki_sha256 FROM certificates WHERE batch_id = 'r1' AND device_id = '" +
                id + "'") == old->spki_sha256);
    CHECK(verifies(line["cert"].get<std::string>(), chain, f.clock.now()));
  }
}

TEST_CASE("run: a certificate revoked after the run was planned is refused when reached") {
  Fixture f;
  f.mint(12, "m1", "D-{seq:02}");
  f.clock.advance(250 * kDay);
  auto req = f.renew_request("r1");
  bool revoked = false;
  // The first progress report comes after the positions are recorded and
  // before any is signed; positions go in device id order, D-12 last.
  const auto r = run_renewal(f.home, req, f.secrets, f.clock, [&](const BatchProgress&) {
    if (revoked) return;
    revoked = true;
    RevokeTarget t;
    t.device_id = "D-12";
    RevokeOptions ro;
    ro.reason = RevocationReason::key_compromise;
    revoke(f.home, t, ro, f.clock);
  });
  REQUIRE(revoked);
  CHECK(r.issued == 11);
  CHECK(r.rejected == 1);
  const auto rejects = read_jsonl(req.out / "rejects.jsonl");
  REQUIRE(rejects.size() == 1);
  CHECK(rejects[0]["device_id"] == "D-12");
  CHECK(rejects[0]["reason"].get<std::string>().find("changed after the renewal was planned") !=
        std::string::npos);
  CHECK(f.sql("SELECT status FROM certificates WHERE batch_id = 'm1' AND device_id = 'D-12'") ==
        "revoked");
}
