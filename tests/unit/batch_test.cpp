// The batch engine in-process: a home with a root and an issuing CA, batches
// in each mode, the refusals that must leave the store and the output
// directory untouched, and resume after a simulated crash (the real kill -9
// test is tests/cli/mint_crash_test.sh).
#include <doctest/doctest.h>

#include <set>

#include "home_fixture.hpp"
#include "pki/batch.hpp"

using namespace pki;
using namespace pki::test;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

const TimePoint kNow = sys_days{2026y / November / 27} + 12h;

struct Fixture : HomeFixture {
  Fixture() : HomeFixture(kNow) {}

  BatchRequest count_request(std::uint64_t n, const std::string& out) {
    BatchRequest r;
    r.ca = "factory";
    r.profile = "device-idevid";
    r.source = BatchSource::count;
    r.count = n;
    r.id_pattern = "ACME-{seq:06}";
    r.out = dir.path() / out;
    r.chunk = 4;
    return r;
  }
};

// Verifies `cert_pem` against root + chain with X509_V_FLAG_X509_STRICT at the fixture's time.
bool verifies(const std::string& cert_pem, const std::string& chain_pem) {
  return test::verifies(cert_pem, chain_pem, kNow);
}

}  // namespace

TEST_CASE("a count batch issues every device once, in jsonl") {
  Fixture f;
  auto req = f.count_request(10, "out");
  req.batch_id = "b1";
  std::vector<BatchProgress> seen;
  const auto r = run_batch(f.home, req, f.secrets, f.clock,
                           [&](const BatchProgress& p) { seen.push_back(p); });
  CHECK(r.state == BatchState::complete);
  CHECK(r.issued == 10);
  CHECK(r.rejected == 0);
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back().done == 10);
  CHECK(seen.back().total == 10);

  const auto lines = read_jsonl(req.out / "devices.jsonl");
  REQUIRE(lines.size() == 10);
  const std::string chain = slurp(req.out / "chain.pem");
  std::set<std::string> serials;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    char id[32];
    std::snprintf(id, sizeof id, "ACME-%06zu", i + 1);
    CHECK(l["device_id"] == id);
    serials.insert(l["serial"].get<std::string>());
    CHECK(verifies(l["cert"].get<std::string>(), chain));
    CHECK(l["key"].get<std::string>().find("BEGIN PRIVATE KEY") != std::string::npos);
  }
  CHECK(serials.size() == 10);
  CHECK(f.sql("SELECT count(*) FROM certificates WHERE batch_id = 'b1' AND status = 'issued'") ==
        "10");
  CHECK(f.sql("SELECT count(DISTINCT batch_index) FROM certificates WHERE batch_id = 'b1'") ==
        "10");
  CHECK(f.sql("SELECT state FROM batches WHERE id = 'b1'") == "complete");
  const auto manifest = read_jsonl(req.out / "manifest.jsonl");
  CHECK(manifest.size() == 10);
  CHECK(slurp(req.out / "manifest.jsonl").find("PRIVATE") == std::string::npos);
  CHECK(fs::exists(req.out / "SHA256SUMS"));

  // Running the finished batch again issues nothing and needs no CA key.
  const auto again = resume_batch(f.home, "b1", BatchSecrets{}, f.clock);
  CHECK(again.issued == 0);
  CHECK(again.already == 10);
  CHECK(read_jsonl(req.out / "devices.jsonl").size() == 10);
}

TEST_CASE("two threads issue the same batch shape") {
  Fixture f;
  auto req = f.count_request(40, "out2");
  req.threads = 2;
  req.batch_id = "b2";
  const auto r = run_batch(f.home, req, f.secrets, f.clock);
  CHECK(r.issued == 40);
  const auto lines = read_jsonl(req.out / "devices.jsonl");
  CHECK(lines.size() == 40);
  std::set<std::string> ids;
  for (const auto& l : lines)
    ids.insert(l["device_id"].get<std::string>());
  CHECK(ids.size() == 40);
  CHECK(f.sql("SELECT count(*) FROM certificates WHERE batch_id = 'b2' AND status = 'issued'") ==
        "40");
}

TEST_CASE("pem output: a directory per device, private key 0600") {
  Fixture f;
  auto req = f.count_request(3, "pem");
  req.format = BatchFormat::pem;
  const auto r = run_batch(f.home, req, f.secrets, f.clock);
  CHECK(r.issued == 3);
  for (const char* id : {"ACME-000001", "ACME-000002", "ACME-000003"}) {
    const fs::path d = req.out / id;
    CHECK(fs::exists(d / "cert.pem"));
    CHECK(fs::exists(d / "chain.pem"));
    REQUIRE(fs::exists(d / "key.pem"));
    const auto mode = fs::status(d / "key.pem").permissions() & fs::perms::all;
    CHECK(mode == (fs::perms::owner_read | fs::perms::owner_write));
    CHECK(verifies(slurp(d / "cert.pem"), slurp(req.out / "chain.pem")));
  }
}

TEST_CASE("refusals before anything exists leave the store and the output untouched") {
  Fixture f;
  const std::string before = f.sql("SELECT count(*) FROM certificates");
  const auto untouched = [&](const BatchRequest& req) {
    CHECK_FALSE(fs::exists(req.out));
    CHECK(f.sql("SELECT count(*) FROM certificates") == before);
    CHECK(f.sql("SELECT count(*) FROM batches") == "0");
  };
  auto req = f.count_request(3, "x");
  req.id_pattern = "ACME";
  require_error([&] { run_batch(f.home, req, f.secrets, f.clock); }, ErrorCode::invalid_input,
                "has no {seq}");
  untouched(req);
  req.id_pattern = "ACME {seq}";
  require_error([&] { run_batch(f.home, req, f.secrets, f.clock); }, ErrorCode::invalid_input,
                "invalid device id");
  untouched(req);
  req = f.count_request(3, "x");
  req.profile = "issuing-ca";
  require_error([&] { run_batch(f.home, req, f.secrets, f.clock); }, ErrorCode::policy,
                "CA certificates");
  untouched(req);
  req = f.count_request(3, "x");
  BatchSecrets wrong;
  wrong.ca_passphrase = "nope";
  CHECK_THROWS_AS(run_batch(f.home, req, wrong, f.clock), Error);
  untouched(req);
  req.format = BatchFormat::p12;
  require_error([&] { run_batch(f.home, req, f.secrets, f.clock); }, ErrorCode::invalid_input,
                "--p12-passphrase-file");
  untouched(req);

  // CSV: a duplicate id, a missing column.
  const fs::path csv = f.dir.path() / "ids.csv";
  std::ofstream(csv) << "device_id,model\nD-1,m1\nD-2,m2\nD-1,m3\n";
  req = f.count_request(0, "x");
  req.source = BatchSource::ids;
  req.input = csv;
  require_error([&] { run_batch(f.home, req, f.secrets, f.clock); }, ErrorCode::invalid_input,
                "D-1 appears twice");
  untouched(req);
  std::ofstream(csv) << "id,model\nD-1,m1\n";
  require_error([&] { run_batch(f.home, req, f.secrets, f.clock); }, ErrorCode::invalid_input,
                "no device_id column");
  untouched(req);
}

TEST_CASE("ids that already hold a live certificate are refused unless reissue") {
  Fixture f;
  auto req = f.count_request(3, "first");
  run_batch(f.home, req, f.secrets, f.clock);
  auto again = f.count_request(5, "second");
  require_error([&] { run_batch(f.home, again, f.secrets, f.clock); }, ErrorCode::conflict,
                "3 device id(s) already hold a live certificate");
  CHECK_FALSE(fs::exists(again.out));
  again.reissue = true;
  CHECK(run_batch(f.home, again, f.secrets, f.clock).issued == 5);
}

TEST_CASE("CSR mode: a bad CSR rejects that device only") {
  Fixture f;
  const fs::path dir = f.dir.path() / "csrs";
  fs::create_directories(dir);
  for (int i = 1; i <= 3; ++i) {
    const auto key = PrivateKey::generate(KeyAlgorithm::ec_p256);
    auto der = test::make_csr_der(key, test::CsrOptions{}.with_cn("dev"));
    if (i == 2) der[der.size() - 3] ^= 0x01;  // breaks the proof-of-possession signature
    std::ofstream(dir / ("DEV-" + std::to_string(i) + ".der"), std::ios::binary)
        .write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
  }
  BatchRequest req;
  req.ca = "factory";
  req.profile = "device-ldevid";
  req.source = BatchSource::csrs;
  req.input = dir;
  req.out = f.dir.path() / "csr-out";
  req.batch_id = "c1";
  const auto r = run_batch(f.home, req, f.secrets, f.clock);
  CHECK(r.issued == 2);
  CHECK(r.rejected == 1);
  const auto rejects = read_jsonl(req.out / "rejects.jsonl");
  REQUIRE(rejects.size() == 1);
  CHECK(rejects[0]["device_id"] == "DEV-2");
  const auto lines = read_jsonl(req.out / "devices.jsonl");
  REQUIRE(lines.size() == 2);
  CHECK_FALSE(lines[0].contains("key"));
  CHECK(f.sql("SELECT device_id FROM certificates WHERE batch_id = 'c1' ORDER BY batch_index") ==
        "DEV-1\nDEV-3");
}

TEST_CASE("resume after a crash: delivered reservations commit, undelivered ones are abandoned") {
  Fixture f;
  auto req = f.count_request(12, "crash");
  req.batch_id = "k1";
  run_batch(f.home, req, f.secrets, f.clock);
  // Recreate what a kill -9 leaves: the last chunk (4 devices) delivered but
  // not committed, the batch still running, and a torn line after it.
  const std::string last_four =
      "SELECT serial_hex FROM certificates WHERE batch_id = 'k1' AND batch_index >= 8";
  const fs::path jsonl = req.out / "devices.jsonl";
  const std::string full = slurp(jsonl);
  std::size_t cut = 0;
  for (int i = 0; i < 8; ++i)
    cut = full.find('\n', cut) + 1;
  f.sql(
      "UPDATE certificates SET status = 'reserved', der = NULL WHERE batch_id = 'k1' AND "
      "batch_index >= 8");
  f.sql("UPDATE batches SET state = 'running', position = " + std::to_string(cut) +
        " WHERE id = 'k1'");
  // Lines 9 and 10 complete, line 11 torn, line 12 gone: devices 11 and 12 undelivered.
  std::size_t keep = cut;
  for (int i = 0; i < 2; ++i)
    keep = full.find('\n', keep) + 1;
  std::ofstream(jsonl, std::ios::binary | std::ios::trunc) << full.substr(0, keep + 40);
  fs::remove(req.out / "manifest.jsonl");
  const std::string serials_before = f.sql(last_four);

  const auto r = resume_batch(f.home, "k1", f.secrets, f.clock);
  CHECK(r.recovered == 2);
  CHECK(r.abandoned == 2);
  CHECK(r.issued == 2);
  CHECK(r.already == 10);
  CHECK(f.sql("SELECT count(*) FROM certificates WHERE batch_id = 'k1' AND status = 'issued'") ==
        "12");
  CHECK(f.sql("SELECT count(*) FROM certificates WHERE batch_id = 'k1' AND status = 'abandoned'") ==
        "2");
  const auto lines = read_jsonl(jsonl);
  REQUIRE(lines.size() == 12);
  std::set<std::string> ids;
  for (const auto& l : lines) {
    ids.insert(l["device_id"].get<std::string>());
    CHECK(f.sql("SELECT status FROM certificates WHERE issuer = 'factory' AND serial_hex = '" +
                l["serial"].get<std::string>() + "'") == "issued");
  }
  CHECK(ids.size() == 12);
  CHECK(read_jsonl(req.out / "manifest.jsonl").size() == 12);
  CHECK(f.sql("SELECT state FROM batches WHERE id = 'k1'") == "complete");
  CHECK(serials_before.size() > 0);
}

TEST_CASE("a resumed batch refuses a changed input and says how to finish it") {
  Fixture f;
  const fs::path csv = f.dir.path() / "ids.csv";
  std::ofstream(csv) << "device_id\nD-1\nD-2\n";
  BatchRequest req = f.count_request(0, "csv-out");
  req.source = BatchSource::ids;
  req.input = csv;
  req.batch_id = "c2";
  CHECK(run_batch(f.home, req, f.secrets, f.clock).issued == 2);
  f.sql("UPDATE batches SET state = 'running' WHERE id = 'c2'");
  std::ofstream(csv) << "device_id\nD-1\nD-3\n";
  require_error([&] { resume_batch(f.home, "c2", f.secrets, f.clock); }, ErrorCode::conflict,
                "changed since the batch started");
  require_error([&] { resume_batch(f.home, "c2", f.secrets, f.clock); }, ErrorCode::conflict,
                "`devpki-mint --resume c2` finishes it");
  // The original input back: the batch finishes, issuing nothing new.
  std::ofstream(csv) << "device_id\nD-1\nD-2\n";
  const auto r = resume_batch(f.home, "c2", f.secrets, f.clock);
  CHECK(r.issued == 0);
  CHECK(r.already == 2);
  CHECK(r.state == BatchState::complete);
}

TEST_CASE("a subject value the profile refuses, on any line of the input, refuses the batch") {
  Fixture f;
  std::ofstream(f.home.profiles_dir() / "device-model.yaml") << "name: device-model\n"
                                                                "validity: 1y\n"
                                                                "keys: [ec-p256]\n"
                                                                "subject:\n"
                                                                "  - O: Acme\n"
                                                                "  - OU: \"{model}\"\n"
                                                                "  - CN: \"{device_id}\"\n"
                                                                "key_usage: [digitalSignature]\n"
                                                                "extended_key_usage: [clientAuth]\n"
                                                                "basic_constraints: {ca: false}\n";
  const fs::path csv = f.dir.path() / "models.csv";
  {
    std::ofstream out(csv);
    out << "device_id,model\n";
    for (int i = 1; i <= 2500; ++i)
      out << "M-" << i << ",model-" << (i == 2345 ? std::string(80, 'x') : std::to_string(i))
          << "\n";
  }
  BatchRequest req = f.count_request(0, "models-out");
  req.profile = "device-model";
  req.source = BatchSource::ids;
  req.input = csv;
  require_error([&] { run_batch(f.home, req, f.secrets, f.clock); }, ErrorCode::invalid_input,
                "device M-2345 (position 2345)");
  CHECK_FALSE(fs::exists(req.out));
  CHECK(f.sql("SELECT count(*) FROM batches") == "0");
  CHECK(f.sql("SELECT count(*) FROM certificates WHERE device_id LIKE 'M-%'") == "0");
}
