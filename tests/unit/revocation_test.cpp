// Revocation and decommissioning (pki/revocation.hpp): reasons, each way of
// selecting certificates, what is refused with nothing recorded, holds, and
// decommissioning (unknown ids, idempotence, dry run, no re-minting).
#include <doctest/doctest.h>

#include <fstream>

#include "pki/batch.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/home.hpp"
#include "pki/issuance.hpp"
#include "pki/revocation.hpp"
#include "test_util.hpp"

using namespace pki;
using namespace std::chrono;

namespace {

const std::filesystem::path kProfiles = std::filesystem::path(DEVPKI_SOURCE_DIR) / "profiles";
const TimePoint kNow = sys_days{2026y / November / 27} + 12h;

struct Fixture {
  test::TempDir dir;
  FixedClock clock{kNow};
  Home home = Home::create(dir.path() / "pki", kProfiles);
  BatchSecrets secrets;

  Fixture() {
    RootOptions root;
    root.name = "root";
    root.subject = DistinguishedName::parse("/O=Acme/CN=Acme Root CA");
    root.protection.passphrase = "pw";
    root.protection.encryption.pbkdf2_iterations = 1000;
    create_root(home, root, clock);
    for (const char* name : {"factory", "fleet"}) {
      IssuingCaOptions ica;
      ica.name = name;
      ica.parent = "root";
      ica.subject = DistinguishedName::parse(std::string("/O=Acme/CN=Acme ") + name);
      ica.protection.passphrase = "pw";
      ica.protection.encryption.pbkdf2_iterations = 1000;
      ica.parent_passphrase = "pw";
      create_issuing_ca(home, ica, clock);
    }
    secrets.ca_passphrase = "pw";
  }

  // One device certificate from `ca`; returns its serial.
  std::string sign(const std::string& ca, const std::string& device, bool allow = false) {
    const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
    SignRequest req;
    req.ca = ca;
    req.profile = "device-ldevid";
    req.csr = test::make_csr_der(key, test::CsrOptions{}.with_cn(device));
    req.device_id = device;
    req.out = dir.path() / (ca + "-" + device + "-" + std::to_string(counter++) + ".pem");
    req.passphrase = "pw";
    req.allow_decommissioned = allow;
    return sign_csr(home, req, clock).serial_hex;
  }

  BatchResult mint(const std::string& id, std::uint64_t n, const std::string& pattern,
                   bool allow = false, bool reissue = false) {
    BatchRequest r;
    r.ca = "factory";
    r.profile = "device-idevid";
    r.source = BatchSource::count;
    r.count = n;
    r.id_pattern = pattern;
    r.out = dir.path() / ("out-" + id);
    r.batch_id = id;
    r.allow_decommissioned = allow;
    r.reissue = reissue;
    return run_batch(home, r, secrets, clock);
  }

  CertStatus status(const std::string& ca, const std::string& serial) {
    return home.store().find_cert(ca, serial)->status;
  }

  std::size_t audit_count(const std::string& action) {
    std::size_t n = 0;
    for (const auto& e : home.store().audit_log())
      n += e.action == action ? 1 : 0;
    return n;
  }

  int counter = 0;
};

template <class F>
ErrorCode code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("expected a pki::Error");
  return ErrorCode::internal;
}

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected a pki::Error");
  return {};
}

RevokeTarget by_serial(std::string s, std::optional<std::string> ca = std::nullopt) {
  RevokeTarget t;
  t.serial_hex = std::move(s);
  t.ca = std::move(ca);
  return t;
}

RevokeOptions because(RevocationReason r) {
  RevokeOptions o;
  o.reason = r;
  return o;
}

}  // namespace

TEST_CASE("reason names: RFC 5280 names, case-insensitive, numbers; removeFromCRL refused") {
  CHECK(parse_revocation_reason("keyCompromise") == RevocationReason::key_compromise);
  CHECK(parse_revocation_reason("KEYCOMPROMISE") == RevocationReason::key_compromise);
  CHECK(parse_revocation_reason("5") == RevocationReason::cessation_of_operation);
  CHECK(parse_revocation_reason("certificateHold") == RevocationReason::certificate_hold);
  CHECK(to_string(RevocationReason::aa_compromise) == "aACompromise");
  for (auto name : revocation_reason_names())
    CHECK(to_string(parse_revocation_reason(name)) == name);
  CHECK(std::find(revocation_reason_names().begin(), revocation_reason_names().end(),
                  "removeFromCRL") == revocation_reason_names().end());
  const std::string unknown = message_of([] { parse_revocation_reason("stolen"); });
  CHECK(unknown.find("unknown revocation reason 'stolen'") != std::string::npos);
  CHECK(unknown.find("keyCompromise") != std::string::npos);
  CHECK(code_of([] { parse_revocation_reason("removeFromCRL"); }) == ErrorCode::invalid_input);
  CHECK(code_of([] { parse_revocation_reason("7"); }) == ErrorCode::invalid_input);
  CHECK(code_of([] { parse_revocation_reason(""); }) == ErrorCode::invalid_input);
}

TEST_CASE("revoke by serial: recorded with reason and time; a second time is refused unchanged") {
  Fixture f;
  const std::string s = f.sign("factory", "SN1");
  RevokeOptions o = because(RevocationReason::key_compromise);
  o.invalidity_date = kNow - hours(48);
  const auto r = revoke(f.home, by_serial(s), o, f.clock);
  CHECK(r.revoked == 1);
  CHECK(r.cas == std::vector<std::string>{"factory"});
  REQUIRE(r.items.size() == 1);
  CHECK(r.items[0].device_id == "SN1");
  CHECK(f.status("factory", s) == CertStatus::revoked);
  const auto rec = f.home.store().find_revocation("factory", s);
  REQUIRE(rec);
  CHECK(rec->reason == 1);
  CHECK(rec->revoked_at == kNow);
  CHECK(rec->invalidity_date == kNow - hours(48));
  CHECK(f.audit_count("cert.revoke") == 1);

  // Again, with another reason: refused, the entry as it was, no audit event.
  const std::string again = message_of(
      [&] { revoke(f.home, by_serial(s), because(RevocationReason::superseded), f.clock); });
  CHECK(again.find("already revoked (keyCompromise") != std::string::npos);
  CHECK(again.find("nothing was changed") != std::string::npos);
  CHECK(f.home.store().find_revocation("factory", s)->reason == 1);
  CHECK(f.audit_count("cert.revoke") == 1);
}

TEST_CASE("revoke refuses with nothing recorded: unknown, other issuer, ambiguous, future date") {
  Fixture f;
  const std::string s = f.sign("factory", "SN1");
  CHECK(code_of([&] {
          revoke(f.home, by_serial("0badc0de"), because(RevocationReason::unspecified), f.clock);
        }) == ErrorCode::not_found);
  const std::string other = message_of([&] {
    revoke(f.home, by_serial(s, "fleet"), because(RevocationReason::unspecified), f.clock);
  });
  CHECK(other.find("was issued by 'factory', not by 'fleet'") != std::string::npos);
  CHECK(code_of([&] {
          revoke(f.home, by_serial(s, "nosuchca"), because(RevocationReason::unspecified), f.clock);
        }) == ErrorCode::not_found);
  CHECK(code_of([&] {
          revoke(f.home, by_serial("xyz"), because(RevocationReason::unspecified), f.clock);
        }) == ErrorCode::invalid_input);
  RevokeOptions future = because(RevocationReason::key_compromise);
  future.invalidity_date = kNow + hours(1);
  CHECK(code_of([&] { revoke(f.home, by_serial(s), future, f.clock); }) ==
        ErrorCode::invalid_input);
  RevokeTarget none;
  CHECK(code_of([&] { revoke(f.home, none, because(RevocationReason::unspecified), f.clock); }) ==
        ErrorCode::invalid_input);
  RevokeTarget two = by_serial(s);
  two.device_id = "SN1";
  CHECK(code_of([&] { revoke(f.home, two, because(RevocationReason::unspecified), f.clock); }) ==
        ErrorCode::invalid_input);
  // A CA certificate's serial is under its parent: the root.
  const auto fleet_ca = f.home.store().find_ca("fleet");
  CHECK(revoke(f.home, by_serial(fleet_ca->serial_hex, "root"),
               because(RevocationReason::ca_compromise), f.clock)
            .revoked == 1);

  CHECK(f.status("factory", s) == CertStatus::issued);
  CHECK(!f.home.store().find_revocation("factory", s));
}

TEST_CASE("revoke an expired certificate: refused") {
  Fixture f;
  const std::string s = f.sign("factory", "SN1");
  const auto rec = f.home.store().find_cert("factory", s);
  FixedClock later{rec->not_after + hours(1)};
  const std::string msg = message_of(
      [&] { revoke(f.home, by_serial(s), because(RevocationReason::key_compromise), later); });
  CHECK(msg.find("expired on") != std::string::npos);
  CHECK(f.status("factory", s) == CertStatus::issued);
}

TEST_CASE("revoke by device, by batch, by list, restricted to a CA") {
  Fixture f;
  const std::string a = f.sign("factory", "DEV-A");
  const std::string b = f.sign("fleet", "DEV-A");
  const std::string c = f.sign("factory", "DEV-C");

  RevokeTarget dev;
  dev.device_id = "DEV-A";
  dev.ca = "fleet";
  auto r = revoke(f.home, dev, because(RevocationReason::affiliation_changed), f.clock);
  CHECK(r.revoked == 1);
  CHECK(f.status("fleet", b) == CertStatus::revoked);
  CHECK(f.status("factory", a) == CertStatus::issued);

  // Without --ca: every CA; the fleet one is reported as already revoked.
  dev.ca.reset();
  r = revoke(f.home, dev, because(RevocationReason::key_compromise), f.clock);
  CHECK(r.revoked == 1);
  CHECK(r.already_revoked == 1);
  CHECK(f.status("factory", a) == CertStatus::revoked);
  // Everything already revoked: refused.
  CHECK(code_of([&] { revoke(f.home, dev, because(RevocationReason::key_compromise), f.clock); }) ==
        ErrorCode::conflict);
  RevokeTarget unknown;
  unknown.device_id = "NOBODY";
  CHECK(message_of([&] {
          revoke(f.home, unknown, because(RevocationReason::unspecified), f.clock);
        }).find("is not known") != std::string::npos);

  RevokeTarget list;
  list.serials = {c, "0x" + a};
  r = revoke(f.home, list, because(RevocationReason::superseded), f.clock);
  CHECK(r.revoked == 1);
  CHECK(r.already_revoked == 1);
  RevokeTarget dup;
  dup.serials = {c, c};
  CHECK(message_of([&] {
          revoke(f.home, dup, because(RevocationReason::unspecified), f.clock);
        }).find("listed twice") != std::string::npos);
  RevokeTarget bad;
  bad.serials = {c, "nothex"};
  CHECK(message_of([&] {
          revoke(f.home, bad, because(RevocationReason::unspecified), f.clock);
        }).find("serial #2 of the list") != std::string::npos);

  f.mint("b1", 5, "B-{seq}");
  RevokeTarget batch;
  batch.batch_id = "b1";
  r = revoke(f.home, batch, because(RevocationReason::cessation_of_operation), f.clock);
  CHECK(r.revoked == 5);
  CHECK(r.cas == std::vector<std::string>{"factory"});
  batch.batch_id = "nope";
  CHECK(code_of([&] { revoke(f.home, batch, because(RevocationReason::unspecified), f.clock); }) ==
        ErrorCode::not_found);
}

TEST_CASE("certificateHold: made permanent by another reason, or released") {
  Fixture f;
  const std::string s = f.sign("factory", "SN1");
  const std::string t = f.sign("factory", "SN2");
  revoke(f.home, by_serial(s), because(RevocationReason::certificate_hold), f.clock);
  revoke(f.home, by_serial(t), because(RevocationReason::certificate_hold), f.clock);
  // Hold again: refused, with the hint.
  CHECK(message_of([&] {
          revoke(f.home, by_serial(s), because(RevocationReason::certificate_hold), f.clock);
        }).find("make a hold permanent") != std::string::npos);
  // Permanent.
  CHECK(revoke(f.home, by_serial(s), because(RevocationReason::key_compromise), f.clock).revoked ==
        1);
  CHECK(f.home.store().find_revocation("factory", s)->reason == 1);
  CHECK(code_of([&] { release_hold(f.home, "factory", s, f.clock); }) == ErrorCode::conflict);
  // Released: valid again, and can be revoked later.
  CHECK(release_hold(f.home, "factory", "0x" + t, f.clock) == "factory/" + t);
  CHECK(f.status("factory", t) == CertStatus::issued);
  CHECK(f.home.store().find_revocation("factory", t)->released_at);
  CHECK(message_of([&] { release_hold(f.home, "factory", t, f.clock); }).find("is not revoked") !=
        std::string::npos);
  const std::string never = f.sign("factory", "SN3");
  CHECK(message_of([&] {
          release_hold(f.home, "factory", never, f.clock);
        }).find("is not revoked; nothing was changed") != std::string::npos);
  CHECK(code_of([&] { release_hold(f.home, "factory", "0abc", f.clock); }) == ErrorCode::not_found);
  CHECK(revoke(f.home, by_serial(t), because(RevocationReason::superseded), f.clock).revoked == 1);
  CHECK(f.audit_count("cert.release") == 1);
}

TEST_CASE("decommission: revokes every live certificate, lists unknown ids, runs twice cleanly") {
  Fixture f;
  const std::string a1 = f.sign("factory", "DEV-A");
  const std::string a2 = f.sign("fleet", "DEV-A");
  const std::string b = f.sign("factory", "DEV-B");
  revoke(f.home, by_serial(b), because(RevocationReason::key_compromise), f.clock);

  DecommissionOptions o;
  o.dry_run = true;
  auto plan = decommission(f.home, {"DEV-A", "DEV-B", "GHOST"}, o, f.clock);
  CHECK(plan.revoked == 2);
  CHECK(plan.already_revoked == 1);
  CHECK(plan.unknown == std::vector<std::string>{"GHOST"});
  CHECK(plan.newly_decommissioned == 2);
  CHECK(f.status("factory", a1) == CertStatus::issued);  // the dry run wrote nothing
  CHECK(f.home.store().decommissioned_devices(std::vector<std::string>{"DEV-A"}).empty());
  CHECK(f.audit_count("device.decommission") == 0);

  o.dry_run = false;
  auto done = decommission(f.home, {"DEV-A", "DEV-B", "GHOST"}, o, f.clock);
  CHECK(done.revoked == 2);
  CHECK(done.cas == std::vector<std::string>{"factory", "fleet"});
  CHECK(f.status("factory", a1) == CertStatus::revoked);
  CHECK(f.status("fleet", a2) == CertStatus::revoked);
  CHECK(f.home.store().find_revocation("fleet", a2)->reason == 5);
  CHECK(f.home.store().find_revocation("factory", b)->reason == 1);  // kept
  CHECK(f.home.store().find_device("DEV-A")->status == "decommissioned");
  CHECK(!f.home.store().find_device("GHOST"));
  CHECK(f.audit_count("device.decommission") == 1);

  auto again = decommission(f.home, {"DEV-A", "DEV-B", "GHOST"}, o, f.clock);
  CHECK(again.revoked == 0);
  CHECK(again.newly_decommissioned == 0);
  CHECK(again.already_revoked == 3);
  CHECK(again.cas.empty());
  CHECK(f.audit_count("device.decommission") == 1);
}

TEST_CASE("decommission refuses an empty or malformed list, and certificateHold") {
  Fixture f;
  f.sign("factory", "DEV-A");
  DecommissionOptions o;
  CHECK(code_of([&] { decommission(f.home, {}, o, f.clock); }) == ErrorCode::invalid_input);
  CHECK(message_of([&] {
          decommission(f.home, {"DEV-A", "bad id"}, o, f.clock);
        }).find("device #2 of the list") != std::string::npos);
  o.reason = RevocationReason::certificate_hold;
  CHECK(code_of([&] { decommission(f.home, {"DEV-A"}, o, f.clock); }) == ErrorCode::invalid_input);
  CHECK(f.home.store().decommissioned_devices(std::vector<std::string>{"DEV-A"}).empty());
}

TEST_CASE("a decommissioned device is not minted or signed again without the override") {
  Fixture f;
  f.mint("first", 3, "M-{seq}");
  decommission(f.home, {"M-2"}, DecommissionOptions{}, f.clock);
  const std::string msg = message_of([&] { f.mint("second", 3, "M-{seq}"); });
  CHECK(msg.find("were decommissioned (M-2)") != std::string::npos);
  CHECK(!f.home.store().find_batch("second"));
  CHECK(!std::filesystem::exists(f.dir.path() / "out-second"));
  CHECK(f.mint("third", 1, "M-2{seq}").issued == 1);  // M-21: not decommissioned
  CHECK(f.mint("fourth", 3, "M-{seq}", true, true).state == BatchState::complete);

  decommission(f.home, {"SIGNED"}, DecommissionOptions{}, f.clock);  // unknown: not marked
  f.sign("factory", "SIGNED");
  decommission(f.home, {"SIGNED"}, DecommissionOptions{}, f.clock);
  CHECK(code_of([&] { f.sign("factory", "SIGNED"); }) == ErrorCode::policy);
  CHECK(!f.sign("factory", "SIGNED", true).empty());
}

TEST_CASE("batch_devices and read_device_list") {
  Fixture f;
  f.mint("b", 4, "L-{seq}");
  CHECK(batch_devices(f.home, "b") == std::vector<std::string>{"L-1", "L-2", "L-3", "L-4"});
  CHECK(code_of([&] { batch_devices(f.home, "nope"); }) == ErrorCode::not_found);

  const auto file = f.dir.path() / "ids.txt";
  auto write = [&](const std::string& text) { std::ofstream(file, std::ios::binary) << text; };
  write("# retired in November\r\nL-1\r\n\n  L-2  \n#L-3\nL-4");
  CHECK(read_device_list(file) == std::vector<std::string>{"L-1", "L-2", "L-4"});
  write("L-1\nL-2\nL-1\n");
  CHECK(message_of([&] { read_device_list(file); })
            .find(":3: device 'L-1' is listed twice "
                  "(first on line 1)") != std::string::npos);
  write("L-1\nbad/id\n");
  CHECK(message_of([&] { read_device_list(file); }).find("ids.txt:2: invalid device id") !=
        std::string::npos);
  write("# nothing\n\n");
  CHECK(message_of([&] { read_device_list(file); }).find("no device id") != std::string::npos);
  write("");
  CHECK(code_of([&] { read_device_list(file); }) == ErrorCode::invalid_input);
  CHECK(code_of([&] { read_device_list(f.dir.path() / "missing.txt"); }) != ErrorCode::internal);
}

TEST_CASE("decommission: a before_commit hook that throws rolls everything back") {
  Fixture f;
  const std::string s = f.sign("factory", "DEV-A");
  DecommissionOptions o;
  std::vector<std::string> seen_cas;
  o.before_commit = [&](const DecommissionReport& r) {
    seen_cas = r.cas;
    throw Error(ErrorCode::crypto, "wrong passphrase for factory");
  };
  CHECK(code_of([&] { decommission(f.home, {"DEV-A"}, o, f.clock); }) == ErrorCode::crypto);
  CHECK(seen_cas == std::vector<std::string>{"factory"});
  CHECK(f.status("factory", s) == CertStatus::issued);
  CHECK(!f.home.store().find_revocation("factory", s));
  CHECK(f.home.store().decommissioned_devices(std::vector<std::string>{"DEV-A"}).empty());
  CHECK(f.audit_count("device.decommission") == 0);
  // The hook may read the store inside the transaction (the tool unlocks CA keys there).
  o.before_commit = [&](const DecommissionReport&) {
    CHECK(f.home.store().find_cert("factory", s)->status == CertStatus::revoked);
  };
  CHECK(decommission(f.home, {"DEV-A"}, o, f.clock).revoked == 1);
  CHECK(f.audit_count("device.decommission") == 1);
}

TEST_CASE("the root's own certificate cannot be revoked; an issuing CA's can, under its parent") {
  Fixture f;
  const auto root = f.home.store().find_ca("root");
  const std::string msg = message_of([&] {
    revoke(f.home, by_serial(root->serial_hex), because(RevocationReason::ca_compromise), f.clock);
  });
  CHECK(msg.find("self-signed certificate: a root cannot revoke itself") != std::string::npos);
  CHECK(!f.home.store().find_revocation("root", root->serial_hex));
  const auto fleet = f.home.store().find_ca("fleet");
  CHECK(revoke(f.home, by_serial(fleet->serial_hex), because(RevocationReason::ca_compromise),
               f.clock)
            .cas == std::vector<std::string>{"root"});
}
