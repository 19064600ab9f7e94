#include "batch/outputs.hpp"

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ossl/check.hpp"
#include "ossl/handles.hpp"
#include "pki/certificate.hpp"
#include "pki/error.hpp"
#include "pki/key.hpp"
#include "test_util.hpp"

using namespace pki;
using namespace pki::batch;
namespace stdfs = std::filesystem;

namespace {

using Pkcs12Ptr = std::unique_ptr<PKCS12, ossl::Free<PKCS12, PKCS12_free>>;

std::string slurp(const stdfs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const stdfs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

unsigned mode_of(const stdfs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

ErrorCode error_code_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("no pki::Error thrown");
  return ErrorCode::internal;
}

// A CA signing device certificates with chosen serials (raw OpenSSL: the
// issuance module is not what is under test).
struct TestCa {
  PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  std::string pem;

  TestCa() { pem = sign(key.public_key(), "01", "Test CA", std::chrono::hours(24 * 365)); }

  std::string sign(const PublicKey& pub, const std::string& serial_hex, const std::string& cn,
                   std::chrono::seconds validity) const {
    ossl::X509Ptr x(X509_new());
    X509_set_version(x.get(), 2);
    BIGNUM* raw = nullptr;
    REQUIRE(BN_hex2bn(&raw, serial_hex.c_str()) > 0);
    ossl::BignumPtr bn(raw);
    REQUIRE(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())) != nullptr);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(validity.count()));
    auto add_cn = [&](X509_NAME* name, const std::string& v) {
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(v.c_str()), -1, -1, 0);
    };
    add_cn(X509_get_subject_name(x.get()), cn);
    add_cn(X509_get_issuer_name(x.get()), "Test CA");
    X509_set_pubkey(x.get(), static_cast<EVP_PKEY*>(pub.native_handle()));
    REQUIRE(X509_sign(x.get(), static_cast<EVP_PKEY*>(key.native_handle()), EVP_sha256()) > 0);
    return Certificate::adopt(x.release()).to_pem();
  }
};

struct Device {
  Delivery d;
  CertRecord row;
};

Device make_device(const TestCa& ca, const std::string& id, const std::string& serial,
                   bool with_key = true) {
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  Device dev;
  dev.d.device_id = id;
  dev.d.serial_hex = serial;
  dev.d.cert_pem = ca.sign(key.public_key(), serial, id, std::chrono::hours(24 * 30));
  if (with_key) dev.d.key_pem = key.to_pem();
  dev.d.spki_sha256 = key.public_key().spki_sha256_hex();
  dev.row.issuer = "issuing";
  dev.row.serial_hex = serial;
  dev.row.device_id = id;
  dev.row.batch_id = "b1";
  dev.row.spki_sha256 = dev.d.spki_sha256;
  dev.row.not_after = Certificate::from_pem(dev.d.cert_pem).not_after();
  return dev;
}

std::vector<Delivery> deliveries(const std::vector<Device>& devs) {
  std::vector<Delivery> out;
  for (const auto& d : devs)
    out.push_back(d.d);
  return out;
}
std::vector<CertRecord> rows(const std::vector<Device>& devs) {
  std::vector<CertRecord> out;
  for (const auto& d : devs)
    out.push_back(d.row);
  return out;
}

SinkOptions options(const stdfs::path& dir, BatchFormat f, const TestCa& ca, bool resume = false) {
  SinkOptions o;
  o.dir = dir;
  o.format = f;
  o.chain_pem = ca.pem;
  o.resume = resume;
  if (f == BatchFormat::p12) o.p12_passphrase = "correct horse";
  return o;
}

// Runs finish_outputs over `devs` as the issued rows.
void finish(const OutputSink& sink, const stdfs::path& dir, const std::vector<Device>& devs,
            const std::vector<BatchReject>& rejects = {}) {
  finish_outputs(
      sink, dir,
      [&](const RowVisitor& visit) {
        for (const auto& d : devs)
          visit(d.row);
      },
      rejects);
}

// reconcile()'s DER is the delivered certificate's, empty when not delivered.
void check_der(const OutputSink::Reconciled& r, const std::vector<Device>& devs) {
  REQUIRE(r.der.size() == devs.size());
  for (std::size_t i = 0; i < devs.size(); ++i) {
    CAPTURE(i);
    if (r.delivered[i]) {
      CHECK(r.der[i] == Certificate::from_pem(devs[i].d.cert_pem).der());
    } else {
      CHECK(r.der[i].empty());
    }
  }
}

bool sha256sum_ok(const stdfs::path& dir) {
  const std::string cmd = "cd '" + dir.string() + "' && sha256sum --quiet -c SHA256SUMS";
  return std::system(cmd.c_str()) == 0;
}

const std::string kTempSuffix = ".tmp-0123456789abcdef";

}  // namespace

TEST_CASE("batch format names") {
  CHECK(to_string(BatchFormat::jsonl) == "jsonl");
  CHECK(to_string(BatchFormat::pem) == "pem");
  CHECK(to_string(BatchFormat::p12) == "p12");
  CHECK(parse_batch_format("p12") == BatchFormat::p12);
  try {
    parse_batch_format("zip");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid_input);
    CHECK(std::string(e.what()) == "unknown format 'zip': use jsonl, pem or p12");
  }
}

TEST_CASE("jsonl: delivers chunks, positions are the file size") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  auto sink = open_sink(options(dir, BatchFormat::jsonl, ca));
  CHECK(mode_of(dir) == 0700);
  CHECK(slurp(dir / "chain.pem") == ca.pem);
  CHECK(mode_of(dir / "devices.jsonl") == 0600);

  const std::vector<Device> c1{make_device(ca, "ACME-1", "0a"), make_device(ca, "ACME-2", "0b")};
  const std::vector<Device> c2{make_device(ca, "ACME-3", "0c", false)};
  const auto p1 = sink->deliver(deliveries(c1));
  CHECK(p1 == stdfs::file_size(dir / "devices.jsonl"));
  const auto p2 = sink->deliver(deliveries(c2));
  CHECK(p2 > p1);
  CHECK(p2 == stdfs::file_size(dir / "devices.jsonl"));
  CHECK(sink->deliver({}) == p2);

  const auto lines = lines_of(slurp(dir / "devices.jsonl"));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].starts_with(R"({"device_id":"ACME-1","serial":"0a","cert":"-----BEGIN)"));
  const auto j0 = nlohmann::json::parse(lines[0]);
  CHECK(j0["cert"] == c1[0].d.cert_pem);
  CHECK(j0["key"] == c1[0].d.key_pem);
  CHECK(j0["chain"] == "chain.pem");
  const auto j2 = nlohmann::json::parse(lines[2]);
  CHECK(j2["device_id"] == "ACME-3");
  CHECK_FALSE(j2.contains("key"));  // CSR mode
  CHECK(sink->files_for("ACME-1") == std::vector<std::string>{"devices.jsonl"});
}

TEST_CASE("jsonl: reconcile after a crash") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  const std::vector<Device> c1{make_device(ca, "ACME-1", "0a"), make_device(ca, "ACME-2", "0b")};
  const std::vector<Device> c2{make_device(ca, "ACME-3", "0c"), make_device(ca, "ACME-4", "0d")};
  std::uint64_t p1 = 0, p2 = 0;
  {
    auto sink = open_sink(options(dir, BatchFormat::jsonl, ca));
    p1 = sink->deliver(deliveries(c1));
    p2 = sink->deliver(deliveries(c2));
  }
  const auto file = dir / "devices.jsonl";
  const std::string full = slurp(file);
  const auto line3_len = full.find('\n', p1) + 1 - p1;

  SUBCASE("(a) torn last line") {
    stdfs::resize_file(file, p2 - 10);
    auto sink = open_sink(options(dir, BatchFormat::jsonl, ca, true));
    const auto r = sink->reconcile(p1, rows(c2));
    check_der(r, c2);
    CHECK(r.delivered == std::vector<bool>{true, false});
    CHECK(r.position == p1 + line3_len);
    CHECK(stdfs::file_size(file) == r.position);
    // Delivery goes on from there.
    const auto p = sink->deliver(deliveries({c2[1]}));
    CHECK(p == stdfs::file_size(file));
    CHECK(sink->reconcile(p1, rows(c2)).delivered == std::vector<bool>{true, true});
  }
  SUBCASE("(b) chunk written but not committed") {
    auto sink = open_sink(options(dir, BatchFormat::jsonl, ca, true));
    const auto r = sink->reconcile(p1, rows(c2));
    check_der(r, c2);
    CHECK(r.delivered == std::vector<bool>{true, true});
    CHECK(r.position == p2);
    CHECK(slurp(file) == full);
  }
  SUBCASE("nothing of the chunk written") {
    stdfs::resize_file(file, p1);
    auto sink = open_sink(options(dir, BatchFormat::jsonl, ca, true));
    const auto r = sink->reconcile(p1, rows(c2));
    check_der(r, c2);
    CHECK(r.delivered == std::vector<bool>{false, false});
    CHECK(r.position == p1);
  }
  SUBCASE("a line whose serial is not reserved cuts the file there") {
    auto sink = open_sink(options(dir, BatchFormat::jsonl, ca, true));
    const auto r = sink->reconcile(p1, rows({c2[1]}));  // ACME-3 not reserved
    CHECK(r.delivered == std::vector<bool>{false});
    CHECK(r.position == p1);
    CHECK(stdfs::file_size(file) == p1);
  }
  SUBCASE("a line whose certificate does not match the row is invalid") {
    auto other = c2;
    other[0].row.spki_sha256 = std::string(64, '0');
    auto sink = open_sink(options(dir, BatchFormat::jsonl, ca, true));
    const auto r = sink->reconcile(p1, rows(other));
    CHECK(r.delivered == std::vector<bool>{false, false});
    CHECK(r.position == p1);
  }
  SUBCASE("the committed part is never cut, even if garbage follows") {
    spit(file, full.substr(0, p1) + "not json\n");
    auto sink = open_sink(options(dir, BatchFormat::jsonl, ca, true));
    CHECK(sink->reconcile(p1, rows(c2)).position == p1);
    CHECK(slurp(file) == full.substr(0, p1));
  }
  SUBCASE("committed data missing is an error") {
    stdfs::resize_file(file, p1 - 1);
    auto sink = open_sink(options(dir, BatchFormat::jsonl, ca, true));
    CHECK(error_code_of([&] { sink->reconcile(p1, rows(c2)); }) == ErrorCode::io);
  }
}

TEST_CASE("pem: delivers per-device directories") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  auto sink = open_sink(options(dir, BatchFormat::pem, ca));
  const std::vector<Device> c1{make_device(ca, "ACME-1", "0a"), make_device(ca, "ACME-2", "0b")};
  const std::vector<Device> c2{make_device(ca, "ACME-3", "0c", false)};
  CHECK(sink->deliver(deliveries(c1)) == 0);
  CHECK(sink->deliver(deliveries(c2)) == 0);

  CHECK(mode_of(dir / "ACME-1") == 0700);
  CHECK(mode_of(dir / "ACME-1" / "key.pem") == 0600);
  CHECK(slurp(dir / "ACME-1" / "key.pem") == c1[0].d.key_pem);
  CHECK(slurp(dir / "ACME-1" / "cert.pem") == c1[0].d.cert_pem);
  CHECK(slurp(dir / "ACME-1" / "chain.pem") == ca.pem);
  CHECK_FALSE(stdfs::exists(dir / "ACME-3" / "key.pem"));
  CHECK(slurp(dir / "ACME-3" / "cert.pem") == c2[0].d.cert_pem);
  CHECK(sink->files_for("ACME-1") ==
        std::vector<std::string>{"ACME-1/cert.pem", "ACME-1/chain.pem", "ACME-1/key.pem"});
  CHECK(sink->files_for("ACME-3") ==
        std::vector<std::string>{"ACME-3/cert.pem", "ACME-3/chain.pem"});
  // No temporary file left anywhere.
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
  }
}

TEST_CASE("pem: reconcile after a crash") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  const std::vector<Device> devs{make_device(ca, "ACME-1", "0a"), make_device(ca, "ACME-2", "0b"),
                                 make_device(ca, "ACME-3", "0c"),
                                 make_device(ca, "ACME-4", "0d", false),
                                 make_device(ca, "ACME-5", "0e")};
  {
    auto sink = open_sink(options(dir, BatchFormat::pem, ca));
    sink->deliver(deliveries(devs));
  }
  // (c) key.pem written, cert.pem not yet.
  stdfs::remove(dir / "ACME-2" / "cert.pem");
  // (d) cert.pem of another serial (an older attempt).
  spit(dir / "ACME-3" / "cert.pem", make_device(ca, "ACME-3", "77").d.cert_pem);
  // key.pem that does not belong to the certificate.
  spit(dir / "ACME-5" / "key.pem", make_device(ca, "ACME-5", "0e").d.key_pem);
  // (e) leftover temporary files.
  spit(dir / "ACME-1" / (".cert.pem" + kTempSuffix), "partial");
  spit(dir / (".manifest.jsonl" + kTempSuffix), "partial");
  spit(dir / "keep.tmp-notours", "x");  // not our name pattern

  auto sink = open_sink(options(dir, BatchFormat::pem, ca, true));
  const auto r = sink->reconcile(0, rows(devs));
  check_der(r, devs);
  CHECK(r.delivered == std::vector<bool>{true, false, false, true, false});
  CHECK(r.position == 0);
  CHECK(stdfs::exists(dir / "ACME-1" / "cert.pem"));
  CHECK_FALSE(stdfs::exists(dir / "ACME-1" / (".cert.pem" + kTempSuffix)));
  CHECK_FALSE(stdfs::exists(dir / (".manifest.jsonl" + kTempSuffix)));
  CHECK(stdfs::exists(dir / "keep.tmp-notours"));
  CHECK_FALSE(stdfs::exists(dir / "ACME-2"));
  CHECK_FALSE(stdfs::exists(dir / "ACME-3"));
  CHECK(stdfs::exists(dir / "ACME-4" / "cert.pem"));  // CSR mode: no key.pem, still complete
  CHECK_FALSE(stdfs::exists(dir / "ACME-5"));

  // The abandoned devices are issued again under new serials.
  const std::vector<Device> again{make_device(ca, "ACME-2", "1b"), make_device(ca, "ACME-3", "1c")};
  sink->deliver(deliveries(again));
  CHECK(sink->reconcile(0, rows(again)).delivered == std::vector<bool>{true, true});
}

TEST_CASE("pem: with keys generated here, a device without its key.pem is not delivered") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  const std::vector<Device> devs{make_device(ca, "ACME-1", "0a"), make_device(ca, "ACME-2", "0b")};
  {
    auto sink = open_sink(options(dir, BatchFormat::pem, ca));
    sink->deliver(deliveries(devs));
  }
  // A power cut may persist the rename of cert.pem but not that of key.pem.
  stdfs::remove(dir / "ACME-2" / "key.pem");
  auto opts = options(dir, BatchFormat::pem, ca, true);
  opts.device_keys = true;
  auto sink = open_sink(opts);
  const auto r = sink->reconcile(0, rows(devs));
  CHECK(r.delivered == std::vector<bool>{true, false});
  CHECK(stdfs::exists(dir / "ACME-1" / "key.pem"));
  CHECK_FALSE(stdfs::exists(dir / "ACME-2"));
}

TEST_CASE("p12: one file per device, readable with the passphrase") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  const auto opts = options(dir, BatchFormat::p12, ca);
  auto sink = open_sink(opts);
  const std::vector<Device> c1{make_device(ca, "ACME-1", "0a")};
  const std::vector<Device> c2{make_device(ca, "ACME-2", "0b"), make_device(ca, "ACME-3", "0c")};
  CHECK(sink->deliver(deliveries(c1)) == 0);
  CHECK(sink->deliver(deliveries(c2)) == 0);
  CHECK(sink->files_for("ACME-2") == std::vector<std::string>{"ACME-2.p12"});

  const auto file = dir / "ACME-2.p12";
  CHECK(mode_of(file) == 0600);
  const std::string der = slurp(file);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(p12);
  const ASN1_OCTET_STRING* salt = nullptr;
  const ASN1_INTEGER* iter = nullptr;
  const X509_ALGOR* mac_alg = nullptr;
  PKCS12_get0_mac(nullptr, &mac_alg, &salt, &iter, p12.get());
  REQUIRE(mac_alg != nullptr);
  const ASN1_OBJECT* mac_oid = nullptr;
  X509_ALGOR_get0(&mac_oid, nullptr, nullptr, mac_alg);
  CHECK(OBJ_obj2nid(mac_oid) == NID_sha256);
  CHECK(ASN1_INTEGER_get(iter) >= PKCS12_DEFAULT_ITER);

  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* chain = nullptr;
  REQUIRE(PKCS12_parse(p12.get(), "correct horse", &key, &cert, &chain) == 1);
  ossl::EvpPkeyPtr key_owner(key);
  ossl::X509Ptr cert_owner(cert);
  ossl::X509StackPtr chain_owner(chain);
  CHECK(sk_X509_num(chain) == 1);
  CHECK(X509_check_private_key(cert, key) == 1);
  int len = 0;
  const unsigned char* alias = X509_alias_get0(cert, &len);
  REQUIRE(alias != nullptr);
  CHECK(std::string(reinterpret_cast<const char*>(alias), static_cast<std::size_t>(len)) ==
        "ACME-2");
  CHECK(PKCS12_verify_mac(p12.get(), "wrong", -1) == 0);
  ossl::clear_errors();

  // The openssl CLI reads it too (and sees the AES-256-CBC / PBES2 encryption).
  spit(tmp.path() / "pass", "correct horse\n");
  const std::string cmd = "openssl pkcs12 -info -noout -passin file:'" +
                          (tmp.path() / "pass").string() + "' -in '" + file.string() + "' 2>'" +
                          (tmp.path() / "info").string() + "'";
  CHECK(std::system(cmd.c_str()) == 0);
  const std::string info = slurp(tmp.path() / "info");
  CHECK(info.find("MAC: sha256") != std::string::npos);
  CHECK(info.find("AES-256-CBC") != std::string::npos);

  SUBCASE("CSR mode is refused") {
    const std::vector<Device> csr{make_device(ca, "ACME-9", "99", false)};
    CHECK(error_code_of([&] { sink->deliver(deliveries(csr)); }) == ErrorCode::internal);
    CHECK_FALSE(stdfs::exists(dir / "ACME-9.p12"));
  }
  SUBCASE("a passphrase is required") {
    auto o = options(tmp.path() / "other", BatchFormat::p12, ca);
    o.p12_passphrase.reset();
    CHECK(error_code_of([&] { open_sink(o); }) == ErrorCode::invalid_input);
  }
}

TEST_CASE("p12: reconcile after a crash") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  const std::vector<Device> devs{make_device(ca, "ACME-1", "0a"), make_device(ca, "ACME-2", "0b"),
                                 make_device(ca, "ACME-3", "0c"), make_device(ca, "ACME-4", "0d")};
  {
    auto sink = open_sink(options(dir, BatchFormat::p12, ca));
    sink->deliver(deliveries(devs));
  }
  stdfs::remove(dir / "ACME-2.p12");                     // not written yet
  stdfs::resize_file(dir / "ACME-3.p12", 100);           // torn (cannot happen: rename)
  spit(dir / (".ACME-4.p12" + kTempSuffix), "partial");  // leftover temporary file
  auto other = devs;
  other[3].row.serial_hex = "7f";  // ACME-4.p12 holds another serial

  auto sink = open_sink(options(dir, BatchFormat::p12, ca, true));
  const auto r = sink->reconcile(0, rows(other));
  check_der(r, other);
  CHECK(r.delivered == std::vector<bool>{true, false, false, false});
  CHECK(stdfs::exists(dir / "ACME-1.p12"));  // (f) present and matching
  CHECK_FALSE(stdfs::exists(dir / "ACME-3.p12"));
  CHECK_FALSE(stdfs::exists(dir / "ACME-4.p12"));
  CHECK_FALSE(stdfs::exists(dir / (".ACME-4.p12" + kTempSuffix)));

  // A wrong passphrase on resume cannot vouch for any file.
  auto o = options(dir, BatchFormat::p12, ca, true);
  o.p12_passphrase = "wrong";
  CHECK(open_sink(o)->reconcile(0, rows({devs[0]})).delivered == std::vector<bool>{false});
}

TEST_CASE("open_sink refusals") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";

  SUBCASE("a non-empty directory") {
    stdfs::create_directories(dir);
    spit(dir / "something", "x");
    try {
      open_sink(options(dir, BatchFormat::jsonl, ca));
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::conflict);
      CHECK(std::string(e.what()) == "output directory " + dir.string() + " is not empty");
    }
    CHECK_FALSE(stdfs::exists(dir / "chain.pem"));
  }
  SUBCASE("an empty existing directory is fine") {
    stdfs::create_directories(dir);
    open_sink(options(dir, BatchFormat::pem, ca));
    CHECK(slurp(dir / "chain.pem") == ca.pem);
  }
  SUBCASE("a chain that changed on resume") {
    open_sink(options(dir, BatchFormat::jsonl, ca));
    const TestCa other;
    CHECK(error_code_of([&] { open_sink(options(dir, BatchFormat::jsonl, other, true)); }) ==
          ErrorCode::conflict);
    CHECK(slurp(dir / "chain.pem") == ca.pem);
    open_sink(options(dir, BatchFormat::jsonl, ca, true));  // the same chain: fine
  }
  SUBCASE("resume without the directory") {
    CHECK(error_code_of([&] { open_sink(options(dir, BatchFormat::jsonl, ca, true)); }) ==
          ErrorCode::not_found);
  }
}

TEST_CASE("finish_outputs: manifest, rejects and SHA256SUMS") {
  test::TempDir tmp;
  const TestCa ca;
  for (const auto format : {BatchFormat::jsonl, BatchFormat::pem, BatchFormat::p12}) {
    CAPTURE(to_string(format));
    const auto dir = tmp.path() / std::string(to_string(format));
    auto sink = open_sink(options(dir, format, ca));
    std::vector<Device> devs{make_device(ca, "ACME-1", "0a"), make_device(ca, "ACME-2", "0b")};
    devs[1].row.not_after = forever();
    sink->deliver(deliveries(devs));
    const std::vector<BatchReject> rejects{{7, "ACME-8", "bad \"CSR\"\nsignature \xff"}};
    finish(*sink, dir, devs, rejects);

    CHECK(sha256sum_ok(dir));
    const std::string manifest = slurp(dir / "manifest.jsonl");
    CHECK(manifest.find("PRIVATE KEY") == std::string::npos);
    const auto lines = lines_of(manifest);
    REQUIRE(lines.size() == 2);
    const auto m0 = nlohmann::json::parse(lines[0]);
    CHECK(lines[0].starts_with(R"({"device_id":"ACME-1","serial":"0a","spki_sha256":")"));
    CHECK(m0["spki_sha256"] == devs[0].row.spki_sha256);
    CHECK(m0["not_after"] == format_time(devs[0].row.not_after));
    CHECK(m0["files"].get<std::vector<std::string>>() == sink->files_for("ACME-1"));
    CHECK(nlohmann::json::parse(lines[1])["not_after"] == "9999-12-31T23:59:59Z");

    const auto rej = lines_of(slurp(dir / "rejects.jsonl"));
    REQUIRE(rej.size() == 1);
    CHECK(rej[0].starts_with(R"({"index":7,"device_id":"ACME-8","reason":"bad \"CSR\"\nsig)"));

    const std::string sums = slurp(dir / "SHA256SUMS");
    for (const auto* name : {"  chain.pem\n", "  manifest.jsonl\n", "  rejects.jsonl\n"}) {
      CHECK(sums.find(name) != std::string::npos);
    }
    for (const auto& f : sink->files_for("ACME-2")) {
      CHECK(sums.find("  " + f + "\n") != std::string::npos);
    }
    // devices.jsonl is listed once, not once per device.
    if (format == BatchFormat::jsonl) CHECK(lines_of(sums).size() == 4);

    // Re-running (a finished batch resumed) rewrites the same content.
    finish(*sink, dir, devs, rejects);
    CHECK(slurp(dir / "SHA256SUMS") == sums);
    CHECK(sha256sum_ok(dir));
    for (const auto& e : stdfs::directory_iterator(dir)) {
      CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
    }
  }
}

TEST_CASE("finish_outputs: no rows, no rejects") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  auto sink = open_sink(options(dir, BatchFormat::jsonl, ca));
  finish(*sink, dir, {});
  CHECK(stdfs::file_size(dir / "rejects.jsonl") == 0);
  CHECK(stdfs::file_size(dir / "manifest.jsonl") == 0);
  CHECK(sha256sum_ok(dir));
}

TEST_CASE("finish_outputs: a missing output file is an io error") {
  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  auto sink = open_sink(options(dir, BatchFormat::pem, ca));
  const std::vector<Device> devs{make_device(ca, "ACME-1", "0a")};
  sink->deliver(deliveries(devs));
  stdfs::remove(dir / "ACME-1" / "chain.pem");
  CHECK(error_code_of([&] { finish(*sink, dir, devs); }) == ErrorCode::io);
  CHECK_FALSE(stdfs::exists(dir / "manifest.jsonl"));
  CHECK_FALSE(stdfs::exists(dir / "SHA256SUMS"));
  for (const auto& e : stdfs::directory_iterator(dir)) {
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
  }
}

TEST_CASE("pem: device ids naming a batch file are refused") {
  CHECK(collides_with_batch_files(BatchFormat::pem, "chain.pem"));
  CHECK(collides_with_batch_files(BatchFormat::pem, "SHA256SUMS"));
  CHECK_FALSE(collides_with_batch_files(BatchFormat::pem, "chain"));
  CHECK_FALSE(collides_with_batch_files(BatchFormat::p12, "chain.pem"));
  CHECK_FALSE(collides_with_batch_files(BatchFormat::jsonl, "manifest.jsonl"));

  test::TempDir tmp;
  const TestCa ca;
  const auto dir = tmp.path() / "out";
  auto sink = open_sink(options(dir, BatchFormat::pem, ca));
  const std::vector<Device> devs{make_device(ca, "ACME-1", "0a"),
                                 make_device(ca, "chain.pem", "0b")};
  CHECK(error_code_of([&] { sink->deliver(deliveries(devs)); }) == ErrorCode::invalid_input);
  CHECK_FALSE(stdfs::exists(dir / "ACME-1"));
  CHECK(slurp(dir / "chain.pem") == ca.pem);
  // Nor does reconcile touch DIR's own files for such a row.
  CHECK(sink->reconcile(0, rows({devs[1]})).delivered == std::vector<bool>{false});
  CHECK(slurp(dir / "chain.pem") == ca.pem);
}
