// The batch engine: run_batch() and resume_batch() of pki/batch.hpp.
//
// Threads: N workers each take a chunk of devices and run it through the
// pipeline: prepare (keys, subject, TBS: no lock) -> reserve (store lock) ->
// sign (no lock) -> deliver + commit (store lock). The store connection and
// the output sink are used under one mutex; the cryptography, which is nearly
// all the time, runs in parallel.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_set>

#include "batch/engine.hpp"
#include "batch/inputs.hpp"
#include "batch/outputs.hpp"
#include "cert/builder.hpp"
#include "cert/general_name.hpp"
#include "core/text.hpp"
#include "csr/spki_fast.hpp"
#include "fastpath/fastpath.hpp"
#include "ossl/check.hpp"
#include "ossl/handles.hpp"
#include "pki/batch.hpp"
#include "pki/csr.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/issuance.hpp"
#include "store/records.hpp"

namespace pki {

std::string_view to_string(BatchSource s) noexcept {
  switch (s) {
    case BatchSource::count:
      return "count";
    case BatchSource::ids:
      return "ids";
    case BatchSource::csrs:
      return "csrs";
    case BatchSource::renewal:
      return "renewal";
  }
  return "?";
}

std::string_view to_string(BatchState s) noexcept {
  return s == BatchState::complete ? "complete" : "running";
}

namespace {

namespace fs = std::filesystem;
using batch::DeviceInput;
using batch::DeviceSource;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kRunning = "running";
constexpr std::string_view kComplete = "complete";
// Statuses that mean "this device of the batch got its certificate" (later
// revocation or renewal does not make the batch issue it again).
constexpr CertStatus kDone[] = {CertStatus::issued, CertStatus::revoked, CertStatus::superseded};
constexpr CertStatus kReserved[] = {CertStatus::reserved};

BatchSource parse_source(std::string_view s) {
  if (s == "count") return BatchSource::count;
  if (s == "ids") return BatchSource::ids;
  if (s == "csrs") return BatchSource::csrs;
  if (s == "renewal") return BatchSource::renewal;
  throw Error(ErrorCode::store, "batch parameters name an unknown source '" + std::string(s) + "'");
}

// What the store keeps to resume a batch: the request minus secrets, plus
// the input's fingerprint.
Json params_json(const BatchRequest& r, const std::string& fingerprint) {
  Json j;
  j["source"] = std::string(to_string(r.source));
  j["count"] = r.count;
  j["id_pattern"] = r.id_pattern;
  j["start"] = r.start;
  j["input"] = r.input.empty() ? std::string() : fs::absolute(r.input).string();
  j["input_sha256"] = fingerprint;
  j["format"] = std::string(to_string(r.format));
  j["threads"] = r.threads;
  j["key"] = std::string(to_string(r.key));
  j["reissue"] = r.reissue;
  j["allow_decommissioned"] = r.allow_decommissioned;
  j["variables"] = r.variables;
  j["chunk"] = r.chunk;
  j["actor"] = r.actor;
  return j;
}

BatchRequest request_from(const BatchRecord& b) {
  const Json j = Json::parse(b.params, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw Error(ErrorCode::store, "batch " + b.id + " has unreadable parameters");
  }
  try {
    BatchRequest r;
    r.ca = b.ca;
    r.profile = b.profile;
    r.batch_id = b.id;
    r.out = b.out_dir;
    r.source = parse_source(j.at("source").get<std::string>());
    r.count = j.at("count").get<std::uint64_t>();
    r.id_pattern = j.at("id_pattern").get<std::string>();
    r.start = j.at("start").get<std::uint64_t>();
    r.input = j.at("input").get<std::string>();
    r.format = parse_batch_format(j.at("format").get<std::string>());
    r.threads = j.at("threads").get<unsigned>();
    r.key = parse_key_algorithm(j.at("key").get<std::string>());
    r.reissue = j.at("reissue").get<bool>();
    // Absent in batches started before decommissioning existed.
    r.allow_decommissioned = j.value("allow_decommissioned", false);
    r.variables = j.at("variables").get<std::map<std::string, std::string>>();
    r.chunk = j.at("chunk").get<std::size_t>();
    r.actor = j.at("actor").get<std::string>();
    return r;
  } catch (const Json::exception& e) {
    throw Error(ErrorCode::store, "batch " + b.id + " has unreadable parameters: " + e.what());
  }
}

std::string generated_batch_id(const std::string& ca, BatchSource source, TimePoint now) {
  const auto t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  unsigned char rnd[2];
  ossl::check(RAND_bytes(rnd, sizeof rnd), "RAND_bytes");
  std::string id = ca;
  id += source == BatchSource::renewal ? "-renew-" : "-";
  id += stamp;
  id += '-';
  id += ossl::hex(rnd);
  return id;
}

std::unique_ptr<DeviceSource> open_input_source(const BatchRequest& r) {
  switch (r.source) {
    case BatchSource::count:
      return batch::pattern_source(batch::IdPattern::parse(r.id_pattern), r.start, r.count);
    case BatchSource::ids:
      return batch::csv_source(r.input);
    case BatchSource::csrs:
      return batch::csr_source(r.input);
    case BatchSource::renewal:
      break;  // Engine::open_source(): the positions are in the store
  }
  throw Error(ErrorCode::internal, "unknown batch source");
}

// Serial magnitude without leading zero bytes (a DER INTEGER is minimal).
std::vector<std::uint8_t> fresh_serial() {
  auto s = random_serial();
  while (s.size() > 1 && s.front() == 0)
    s.erase(s.begin());
  return s;
}

std::string json_text(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// One device on its way through the pipeline.
struct Item {
  DeviceInput input;
  bool rejected = false;
  std::string reason;
  std::vector<std::uint8_t> serial;
  DistinguishedName subject;
  std::vector<SubjectAltName> sans;
  std::vector<std::uint8_t> spki_der;
  std::string spki_sha256;
  std::string key_pem;
  KeyAlgorithm alg = KeyAlgorithm::ec_p256;
  const fastpath::CertTemplate* tmpl = nullptr;
  std::vector<std::uint8_t> tbs;
  std::vector<std::uint8_t> der;
  CertRecord row;
  std::optional<CertRecord> old;  // renewal: the certificate renewed, with its DER
};

// What a renewal takes from the certificate it renews, as the DER carries
// it. d2i_X509 would decode the public key through OpenSSL 3's provider
// decoders (callgrind: two thirds of a kept-key renewal's instructions); the
// certificate came from this store, so a walk to the three fields is enough.
struct RenewedFields {
  std::span<const std::uint8_t> subject;  // Name
  std::span<const std::uint8_t> spki;     // SubjectPublicKeyInfo
  std::span<const std::uint8_t> sans;     // GeneralNames (the SAN extension's value), or empty
};

// One TLV at `p` (short or long definite length); the whole TLV and its content.
struct Tlv {
  std::uint8_t tag = 0;
  std::span<const std::uint8_t> whole;
  std::span<const std::uint8_t> content;
};
Tlv read_tlv(std::span<const std::uint8_t>& in) {
  const auto bad = [] {
    return Error(ErrorCode::store, "a stored certificate is not well-formed DER");
  };
  if (in.size() < 2) throw bad();
  std::size_t len = in[1];
  std::size_t head = 2;
  if (len & 0x80) {
    const std::size_t n = len & 0x7f;
    if (n == 0 || n > 4 || in.size() < 2 + n) throw bad();
    len = 0;
    for (std::size_t i = 0; i < n; ++i)
      len = (len << 8) | in[2 + i];
    head += n;
  }
  if (in.size() - head < len) throw bad();
  Tlv t{in[0], in.subspan(0, head + len), in.subspan(head, len)};
  in = in.subspan(head + len);
  return t;
}

RenewedFields renewed_fields(std::span<const std::uint8_t> der) {
  std::span<const std::uint8_t> in = der;
  auto cert = read_tlv(in).content;                   // Certificate
  auto tbs = read_tlv(cert).content;                  // TBSCertificate
  if (!tbs.empty() && tbs[0] == 0xa0) read_tlv(tbs);  // [0] version
  for (int i = 0; i < 4; ++i)
    read_tlv(tbs);  // serial, signature, issuer, validity
  RenewedFields f;
  f.subject = read_tlv(tbs).whole;
  f.spki = read_tlv(tbs).whole;
  while (!tbs.empty()) {
    const Tlv t = read_tlv(tbs);
    if (t.tag != 0xa3) continue;  // [1], [2] unique ids
    auto exts_outer = t.content;
    auto exts = read_tlv(exts_outer).content;  // SEQUENCE OF Extension
    static constexpr std::uint8_t kSanOid[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
    while (!exts.empty()) {
      auto ext = read_tlv(exts).content;
      const Tlv oid = read_tlv(ext);
      if (!std::equal(oid.whole.begin(), oid.whole.end(), std::begin(kSanOid), std::end(kSanOid))) {
        continue;
      }
      Tlv v = read_tlv(ext);
      if (v.tag == 0x01) v = read_tlv(ext);  // critical
      f.sans = v.content;                    // OCTET STRING holding GeneralNames
    }
  }
  return f;
}

std::vector<SubjectAltName> decode_sans(std::span<const std::uint8_t> general_names) {
  if (general_names.empty()) return {};
  const unsigned char* p = general_names.data();
  ossl::GeneralNamesPtr names(
      d2i_GENERAL_NAMES(nullptr, &p, static_cast<long>(general_names.size())));
  if (!names) ossl::fail(ErrorCode::store, "a stored certificate's subjectAltName");
  int unsupported = 0;
  auto out = from_general_names(names.get(), &unsupported);
  if (unsupported != 0) {
    throw Error(ErrorCode::policy,
                "the certificate carries subjectAltName types devpki does not issue; renew it "
                "with devpki-ca sign");
  }
  return out;
}

class Engine {
 public:
  Engine(Home& home, BatchRequest req, const BatchSecrets& secrets, const Clock& clock,
         const ProgressFn& progress)
      : m_home(home),
        m_req(std::move(req)),
        m_secrets(secrets),
        m_clock(clock),
        m_progress(progress),
        m_profile(home.profile(m_req.profile)),
        m_authority(load_authority(home, m_req.ca, secrets.ca_passphrase)) {
    if (m_req.threads == 0) m_req.threads = 1;
    if (m_req.chunk == 0) m_req.chunk = 1000;
    m_vars = home.settings().variables;
    for (const auto& [k, v] : m_req.variables)
      m_vars[k] = v;
    m_vars["ca"] = m_req.ca;
    m_vars["profile"] = m_profile.name;
    m_now = clock.now();
    m_not_before = m_now - m_profile.validity.backdate;
    m_not_after = m_profile.validity.forever ? forever() : m_now + m_profile.validity.duration;
    for (const auto& c : ca_chain(home, m_req.ca))
      m_chain_pem += c.to_pem();
  }

  // Checks that need no store writes: the key type, the profile on a
  // prototype device (the template's lint), the CSR-mode format rule.
  void check_request() {
    if (m_profile.is_ca) {
      throw Error(ErrorCode::policy, "profile '" + m_profile.name +
                                         "' issues CA certificates; devpki-mint issues device "
                                         "certificates only");
    }
    if (m_req.source == BatchSource::renewal && m_req.format == BatchFormat::p12) {
      throw Error(ErrorCode::invalid_input,
                  "--format p12 bundles a private key, and a renewal makes none (the key is "
                  "kept, or comes with the device's new CSR): use jsonl or pem");
    }
    if (m_req.source == BatchSource::csrs && m_req.format == BatchFormat::p12) {
      throw Error(ErrorCode::invalid_input,
                  "--format p12 bundles a private key, and in CSR mode the keys stay on the "
                  "devices: use jsonl or pem");
    }
    if (m_req.format == BatchFormat::p12 &&
        (!m_secrets.p12_passphrase || m_secrets.p12_passphrase->empty())) {
      throw Error(ErrorCode::invalid_input, "--format p12 needs --p12-passphrase-file");
    }
    if (generates_keys()) {
      require_key_allowed(m_profile, m_req.key,
                          "key algorithm " + std::string(to_string(m_req.key)));
    }
  }

  // First pass over the input: ids valid and unique, none already live
  // (unless reissue), none decommissioned (unless allow_decommissioned).
  // Returns the number of devices.
  std::uint64_t precheck(DeviceSource& src, bool check_live) {
    std::unordered_set<std::string> seen;
    const bool need_seen = m_req.source != BatchSource::count;  // a pattern cannot repeat
    const bool check_decommissioned = !m_req.allow_decommissioned;
    std::vector<std::string> pending;
    std::vector<std::string> live;
    std::vector<std::string> retired;
    std::uint64_t n = 0;
    auto flush = [&] {
      if (pending.empty()) return;
      if (check_live) {
        auto found = m_home.store().live_devices(m_req.ca, m_profile.name, pending, m_now);
        live.insert(live.end(), found.begin(), found.end());
      }
      if (check_decommissioned) {
        auto found = m_home.store().decommissioned_devices(pending);
        retired.insert(retired.end(), found.begin(), found.end());
      }
      pending.clear();
    };
    // The subject and profile SANs of every device are built now, so a value
    // the profile refuses (a CSV column too long for its attribute, say)
    // refuses the batch before anything is signed. Pattern ids share their
    // shape, so the first and the last stand for all of them.
    const auto check_names = [&](const DeviceInput& dev) {
      try {
        const auto vars = device_vars(dev);
        build_subject(m_profile, vars);
        build_sans(m_profile, {}, vars);
      } catch (const Error& e) {
        throw Error(e.code(), "device " + dev.device_id + " (position " +
                                  std::to_string(dev.index + 1) + "): " + e.what());
      }
    };
    DeviceInput d;
    DeviceInput last;
    while (src.next(d, false)) {
      if (m_req.source != BatchSource::count || n == 0) check_names(d);
      if (m_req.source == BatchSource::count) last = d;
      ++n;
      if (need_seen && !seen.insert(d.device_id).second) {
        throw Error(ErrorCode::invalid_input, "device id " + d.device_id +
                                                  " appears twice in the batch input (second at "
                                                  "position " +
                                                  std::to_string(d.index + 1) + ")");
      }
      if (batch::collides_with_batch_files(m_req.format, d.device_id)) {
        throw Error(ErrorCode::invalid_input,
                    "device id " + d.device_id +
                        " is the name of one of the batch's own files in " +
                        std::string(to_string(m_req.format)) + " output; rename the device");
      }
      pending.push_back(d.device_id);
      if (pending.size() >= 10000) flush();
    }
    flush();
    if (n == 0) throw Error(ErrorCode::invalid_input, "the batch input lists no devices");
    if (m_req.source == BatchSource::count) check_names(last);
    if (!retired.empty()) {
      std::string sample;
      for (std::size_t i = 0; i < retired.size() && i < 5; ++i) {
        if (i) sample += ", ";
        sample += retired[i];
      }
      throw Error(ErrorCode::policy,
                  std::to_string(retired.size()) + " device id(s) were decommissioned (" + sample +
                      (retired.size() > 5 ? ", ..." : "") +
                      "); nothing was issued. A decommissioned device is not minted again "
                      "unless --allow-decommissioned says so");
    }
    if (!live.empty()) {
      std::string sample;
      for (std::size_t i = 0; i < live.size() && i < 5; ++i)
        sample += (i ? ", " : "") + live[i];
      throw Error(ErrorCode::conflict,
                  std::to_string(live.size()) +
                      " device id(s) already hold a live certificate from CA " + m_req.ca +
                      " under profile " + m_profile.name + " (" + sample +
                      (live.size() > 5 ? ", ..." : "") +
                      "); nothing was issued. Use --reissue to issue them another one");
    }
    src.rewind();
    return n;
  }

  // Builds the template for server-side keys now (a lint failure refuses the
  // batch before it exists); CSR mode builds one per key type as they come.
  void prepare_templates(DeviceSource& src) {
    if (!generates_keys()) return;
    DeviceInput first;
    if (!src.next(first, true))
      throw Error(ErrorCode::invalid_input, "the batch input lists no devices");
    src.rewind();
    fastpath::KeyGenerator gen(m_req.key);
    const fastpath::DeviceKey key = gen.generate();
    const auto vars = device_vars(first);
    CertificateSpec spec = base_spec(vars);
    spec.public_key = fastpath::public_key_from_spki(key.spki_der);
    m_templates.emplace(m_req.key, std::make_unique<fastpath::CertTemplate>(m_authority, spec));
  }

  BatchResult start() {
    check_request();
    auto src = open_source();
    const std::string fingerprint = batch::input_fingerprint(m_req.source, m_req.input);
    if (m_req.source == BatchSource::renewal) {
      // The positions were checked when they were planned (pki/renewal.hpp):
      // the devices hold the live certificates being renewed.
      m_total = m_items.size();
      if (m_total == 0) throw Error(ErrorCode::invalid_input, "the renewal has no positions");
    } else {
      m_total = precheck(*src, !m_req.reissue);
    }
    prepare_templates(*src);
    if (m_req.batch_id.empty()) m_req.batch_id = generated_batch_id(m_req.ca, m_req.source, m_now);
    if (m_home.store().find_batch(m_req.batch_id)) {
      throw Error(ErrorCode::conflict, "a batch with id " + m_req.batch_id + " already exists");
    }
    m_req.out = fs::absolute(m_req.out);
    if (m_req.source == BatchSource::count) m_req.count = m_total;

    // The batch row first, then the directory: a crash in between leaves a
    // batch that --resume finishes (it creates the directory when nothing
    // was committed yet), never a directory no command will reuse.
    batch::check_new_output_dir(m_req.out);
    BatchRecord rec;
    rec.id = m_req.batch_id;
    rec.ca = m_req.ca;
    rec.profile = m_profile.name;
    rec.count = m_total;
    rec.state = std::string(kRunning);
    rec.params = json_text(params_json(m_req, fingerprint));
    rec.out_dir = m_req.out.string();
    rec.created_at = m_now;
    if (m_req.source == BatchSource::renewal) {
      m_home.store().create_renewal_batch(rec, m_items);
    } else {
      m_home.store().create_batch(rec);
    }
    return resumable([&] { return continue_start(*src); });
  }

  BatchResult continue_start(DeviceSource& src) {
    m_sink = batch::open_sink(batch::SinkOptions{m_req.out, m_req.format, m_chain_pem,
                                                 m_secrets.p12_passphrase, false, false,
                                                 generates_keys()});
    audit("batch.create", Json{{"ca", m_req.ca},
                               {"profile", m_profile.name},
                               {"count", m_total},
                               {"source", std::string(to_string(m_req.source))},
                               {"format", std::string(to_string(m_req.format))},
                               {"out", m_req.out.string()}});
    m_done.assign(m_total, false);
    return run(src);
  }

  BatchResult resume(const BatchRecord& b) {
    return resumable([&] { return resume_inner(b); });
  }

  BatchResult resume_inner(const BatchRecord& b) {
    m_total = b.count;
    check_request();
    const auto params = Json::parse(b.params, nullptr, false);
    const std::string fingerprint = batch::input_fingerprint(m_req.source, m_req.input);
    if (params.value("input_sha256", std::string()) != fingerprint) {
      throw Error(ErrorCode::conflict, "the input of batch " + b.id + " (" + m_req.input.string() +
                                           ") changed since the batch started; resume needs the "
                                           "same input");
    }
    if (m_req.source == BatchSource::renewal) m_items = m_home.store().renewal_items(b.id);
    auto src = open_source();
    prepare_templates(*src);
    bool committed_any = b.position != 0;
    m_home.store().for_each_batch_cert(b.id, kDone, false, [&](const CertRecord&) {
      committed_any = true;
      return false;
    });
    m_sink = batch::open_sink(batch::SinkOptions{m_req.out, m_req.format, m_chain_pem,
                                                 m_secrets.p12_passphrase, true, !committed_any,
                                                 generates_keys()});
    reconcile(b);
    // What is already done: issued rows and recorded rejects.
    m_done.assign(m_total, false);
    m_home.store().for_each_batch_cert(b.id, kDone, false, [&](const CertRecord& r) {
      if (r.batch_index >= 0 && static_cast<std::uint64_t>(r.batch_index) < m_total) {
        if (!m_done[static_cast<std::size_t>(r.batch_index)]) ++m_already;
        m_done[static_cast<std::size_t>(r.batch_index)] = true;
      }
      return true;
    });
    for (const auto& rj : m_home.store().batch_rejects(b.id)) {
      if (rj.index < m_total && !m_done[rj.index]) {
        m_done[rj.index] = true;
        ++m_already_rejected;
      }
    }
    audit("batch.resume",
          Json{{"recovered", m_recovered}, {"abandoned", m_abandoned}, {"already", m_already}});
    return run(*src);
  }

  void set_renewal_items(std::vector<RenewalItemRecord> items) { m_items = std::move(items); }

 private:
  bool generates_keys() const noexcept {
    return m_req.source == BatchSource::count || m_req.source == BatchSource::ids;
  }

  std::unique_ptr<DeviceSource> open_source() {
    if (m_req.source != BatchSource::renewal) return open_input_source(m_req);
    std::map<std::string, batch::CsrEntry> csrs;
    if (!m_req.input.empty()) csrs = batch::read_csrs_by_device(m_req.input);
    return batch::renewal_source(m_items, std::move(csrs));
  }

  std::map<std::string, std::string> device_vars(const DeviceInput& d) const {
    auto vars = m_vars;
    for (const auto& [k, v] : d.variables)
      vars[k] = v;
    vars["device_id"] = d.device_id;
    return vars;
  }

  CertificateSpec base_spec(const std::map<std::string, std::string>& vars) const {
    CertificateSpec spec;
    spec.profile = m_profile;
    spec.subject = build_subject(m_profile, vars);
    spec.sans = build_sans(m_profile, {}, vars);
    spec.not_before = m_not_before;
    spec.not_after = m_not_after;
    spec.variables = vars;
    return spec;
  }

  void audit(const std::string& action, const Json& detail) {
    AuditEvent ev;
    ev.at = m_clock.now();
    ev.actor = m_req.actor;
    ev.action = action;
    ev.subject = "batch/" + m_req.batch_id;
    ev.detail = json_text(detail);
    m_home.store().append_audit(ev);
  }

  // Crash recovery: reserved rows whose output is complete become issued,
  // the others abandoned (their partial outputs removed by the sink).
  void reconcile(const BatchRecord& b) {
    std::vector<CertRecord> reserved;
    m_home.store().for_each_batch_cert(b.id, kReserved, false, [&](const CertRecord& r) {
      reserved.push_back(r);
      return true;
    });
    const auto rec = m_sink->reconcile(b.position, reserved);
    std::vector<Store::IssuedDer> issued;
    std::vector<std::string> abandoned;
    for (std::size_t i = 0; i < reserved.size(); ++i) {
      if (rec.delivered.at(i) && !rec.der.at(i).empty()) {
        issued.push_back({reserved[i].serial_hex, rec.der[i]});
      } else {
        abandoned.push_back(reserved[i].serial_hex);
      }
    }
    const TimePoint now = m_clock.now();
    m_home.store().commit_chunk(b.id, b.ca, issued, {}, rec.position, now);
    if (!abandoned.empty()) {
      m_home.store().abandon_chunk(b.id, b.ca, abandoned, rec.position, now);
    }
    m_recovered = issued.size();
    m_abandoned = abandoned.size();
  }

  // The template for this key type; `make_spec` (a full prototype spec,
  // which copies the profile) runs only for the first device of that type.
  template <class MakeSpec>
  const fastpath::CertTemplate& template_for(KeyAlgorithm alg, const MakeSpec& make_spec) {
    std::lock_guard lock(m_template_mutex);
    auto it = m_templates.find(alg);
    if (it == m_templates.end()) {
      it = m_templates
               .emplace(alg, std::make_unique<fastpath::CertTemplate>(m_authority, make_spec()))
               .first;
    }
    return *it->second;
  }

  // Renewal: the old certificate's subject and SANs (the device's identity),
  // its key or the key of the device's new CSR, as rotation.rekey says.
  // Throws the reason a position is refused.
  void prepare_renewal(Item& it, const std::map<std::string, std::string>& vars) {
    const DeviceInput& in = it.input;
    if (!in.refusal.empty()) throw Error(ErrorCode::policy, in.refusal);
    const std::string old_name = in.renew_issuer + "/" + in.renew_serial;
    if (!it.old) {
      throw Error(ErrorCode::not_found, "certificate " + old_name + " is no longer in the store");
    }
    if (it.old->status != CertStatus::issued) {
      throw Error(ErrorCode::policy, "certificate " + old_name + " is " +
                                         std::string(to_string(it.old->status)) +
                                         " now (it changed after the renewal was planned)");
    }
    const RenewedFields old = renewed_fields(it.old->der);
    it.subject = DistinguishedName::from_der(old.subject);
    it.sans = decode_sans(old.sans);
    const Rekey rekey = m_profile.rotation.rekey;
    std::optional<PublicKey> key;  // for the template's prototype; decoded only when needed
    if (!in.csr.empty() || !in.csr_error.empty()) {
      if (rekey == Rekey::forbidden) {
        throw Error(ErrorCode::policy, "profile '" + m_profile.name +
                                           "' has rotation.rekey: forbidden, and a new CSR was "
                                           "given for this device");
      }
      if (!in.csr_error.empty()) throw Error(ErrorCode::io, in.csr_error);
      const auto csr = CertificationRequest::parse(in.csr);
      if (csr.asks_ca() || csr.asks_cert_sign()) {
        throw Error(ErrorCode::policy, "the CSR asks for a CA certificate");
      }
      if (!csr.subject().empty() && csr.subject() != it.subject) {
        throw Error(ErrorCode::policy, "the CSR's subject '" + csr.subject().to_string() +
                                           "' differs from the device's '" +
                                           it.subject.to_string() +
                                           "'; a renewal keeps the device's identity");
      }
      // As at enrollment (devpki-mint --csrs, devpki-ca sign): the profile's
      // SANs plus those of the CSR's the profile allows; a SAN it does not
      // allow refuses the renewal.
      it.sans = build_sans(m_profile, csr.sans(), vars);
      const KeyDescription kd = csr.public_key().describe();
      require_key_allowed(m_profile, kd.algorithm(), "CSR key " + kd.to_string());
      it.alg = *kd.algorithm();
      it.spki_der = csr.public_key().spki_der();
      it.spki_sha256 = ossl::hex(ossl::sha256(it.spki_der));
      if (rekey == Rekey::required && it.spki_sha256 == it.old->spki_sha256) {
        throw Error(ErrorCode::policy,
                    "the CSR's key is the key of the certificate being renewed; profile '" +
                        m_profile.name + "' has rotation.rekey: required (a new key)");
      }
      key = csr.public_key();
    } else {
      if (rekey == Rekey::required) {
        throw Error(ErrorCode::policy, "profile '" + m_profile.name +
                                           "' has rotation.rekey: required and no new CSR was "
                                           "given for this device (--csrs)");
      }
      it.spki_der.assign(old.spki.begin(), old.spki.end());
      it.spki_sha256 = it.old->spki_sha256;
      if (const auto alg = csr_detail::known_spki_algorithm(it.spki_der)) {
        it.alg = *alg;
        require_key_allowed(
            m_profile, it.alg,
            "the device's key " + std::string(to_string(it.alg)) + " (rekey with a new CSR)");
      } else {
        key = fastpath::public_key_from_spki(it.spki_der);
        const KeyDescription kd = key->describe();
        require_key_allowed(m_profile, kd.algorithm(),
                            "the device's key " + kd.to_string() + " (rekey with a new CSR)");
        it.alg = *kd.algorithm();
        it.spki_der = key->spki_der();  // the encoding build_tbs writes
        it.spki_sha256 = ossl::hex(ossl::sha256(it.spki_der));
      }
    }
    it.tmpl = &template_for(it.alg, [&] {
      CertificateSpec spec;
      spec.profile = m_profile;
      spec.subject = it.subject;
      spec.sans = it.sans;
      spec.not_before = m_not_before;
      spec.not_after = m_not_after;
      spec.variables = vars;
      spec.public_key = key ? *key : fastpath::public_key_from_spki(it.spki_der);
      return spec;
    });
  }

  // Everything before the reserve step, for one device. CSR problems are
  // per-device rejects; anything else stops the batch.
  void prepare(Item& it, fastpath::KeyGenerator* gen) {
    const auto vars = device_vars(it.input);
    if (m_req.source == BatchSource::renewal) {
      try {
        prepare_renewal(it, vars);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::internal || e.code() == ErrorCode::store) throw;
        it.rejected = true;
        it.reason = e.what();
        return;
      }
    } else if (m_req.source == BatchSource::csrs) {
      try {
        if (!it.input.csr_error.empty()) throw Error(ErrorCode::io, it.input.csr_error);
        const auto csr = CertificationRequest::parse(it.input.csr);
        if (csr.asks_ca() || csr.asks_cert_sign()) {
          throw Error(ErrorCode::policy, "the CSR asks for a CA certificate");
        }
        const KeyDescription kd = csr.public_key().describe();
        require_key_allowed(m_profile, kd.algorithm(), "CSR key " + kd.to_string());
        it.alg = *kd.algorithm();
        it.subject = build_subject(m_profile, vars);
        it.sans = build_sans(m_profile, csr.sans(), vars);
        it.spki_der = csr.public_key().spki_der();
        it.spki_sha256 = ossl::hex(ossl::sha256(it.spki_der));
        it.tmpl = &template_for(it.alg, [&] {
          CertificateSpec spec = base_spec(vars);
          spec.sans = it.sans;
          spec.public_key = csr.public_key();
          return spec;
        });
      } catch (const Error& e) {
        if (e.code() == ErrorCode::internal || e.code() == ErrorCode::store) throw;
        it.rejected = true;
        it.reason = e.what();
        return;
      }
    } else {
      auto key = gen->generate();
      it.alg = m_req.key;
      it.subject = build_subject(m_profile, vars);
      it.sans = build_sans(m_profile, {}, vars);
      it.spki_der = std::move(key.spki_der);
      it.spki_sha256 = std::move(key.spki_sha256_hex);
      it.key_pem = std::move(key.pkcs8_pem);
      it.tmpl = m_templates.at(m_req.key).get();
    }
    it.serial = fresh_serial();
    const fastpath::DeviceFields fields{it.serial, &it.subject, it.spki_der, &it.sans};
    it.tbs = it.tmpl->tbs(fields);
    CertRecord& r = it.row;
    r.issuer = m_req.ca;
    r.serial_hex = ossl::hex(it.serial);
    r.device_id = it.input.device_id;
    r.profile = m_profile.name;
    r.batch_id = m_req.batch_id;
    r.batch_index = static_cast<std::int64_t>(it.input.index);
    r.subject = it.subject.to_string();
    r.not_before = it.tmpl->not_before();
    r.not_after = it.tmpl->not_after();
    r.spki_sha256 = it.spki_sha256;
    r.output = (m_req.out / m_sink->files_for(it.input.device_id).front()).string();
  }

  // The run-time cross-check of the fast path against the slow builder.
  static void cross_check(const Item& it) {
    const fastpath::DeviceFields fields{it.serial, &it.subject, it.spki_der, &it.sans};
    if (it.tmpl->slow_tbs(fields) != it.tbs) {
      throw Error(ErrorCode::internal, "the certificate template for device " + it.input.device_id +
                                           " differs from the checked builder; nothing was "
                                           "signed for its chunk");
    }
  }

  void worker(DeviceSource& src) {
    try {
      std::unique_ptr<fastpath::KeyGenerator> gen;
      if (m_req.source != BatchSource::csrs) {
        gen = std::make_unique<fastpath::KeyGenerator>(m_req.key);
      }
      ossl::EvpMdCtxPtr md(ossl::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
      std::vector<Item> chunk;
      std::vector<CertRecord> rows;
      std::vector<batch::Delivery> deliveries;
      std::vector<Store::IssuedDer> issued;
      std::vector<BatchRejectRecord> rejects;
      while (!m_stop.load()) {
        if (!take_chunk_with_payload(chunk, src)) break;
        // 1-3. validate, build, check (the template's lint ran once; the
        // subject and SANs were validated per device by build_subject/build_sans)
        for (auto& it : chunk)
          prepare(it, gen.get());
        for (auto& it : chunk) {
          if (!it.rejected) {
            cross_check(it);
            break;
          }
        }
        rows.clear();
        for (auto& it : chunk)
          if (!it.rejected) rows.push_back(it.row);
        // 4. reserve
        {
          std::lock_guard lock(m_io_mutex);
          if (m_stop.load()) break;
          m_home.store().reserve_chunk(rows, ReserveOptions{!m_req.reissue, m_clock.now()});
        }
        // 5. sign
        for (auto& it : chunk)
          if (!it.rejected) it.der = it.tmpl->sign(it.tbs, md.get());
        // 6-7. deliver, commit
        deliveries.clear();
        issued.clear();
        rejects.clear();
        for (auto& it : chunk) {
          if (it.rejected) {
            rejects.push_back({it.input.index, it.input.device_id, it.reason});
            continue;
          }
          deliveries.push_back({it.input.device_id, it.row.serial_hex,
                                fastpath::pem_encode("CERTIFICATE", it.der), std::move(it.key_pem),
                                it.spki_sha256});
          issued.push_back({it.row.serial_hex, it.der});
        }
        {
          std::lock_guard lock(m_io_mutex);
          const std::uint64_t pos = deliveries.empty() ? m_position : m_sink->deliver(deliveries);
          m_home.store().commit_chunk(m_req.batch_id, m_req.ca, issued, rejects, pos,
                                      m_clock.now());
          m_position = pos;
          m_issued += issued.size();
          m_rejected += rejects.size();
          if (m_progress) {
            m_progress(BatchProgress{m_total,
                                     m_already + m_already_rejected + m_issued + m_rejected,
                                     m_already_rejected + m_rejected});
          }
        }
        for (auto& d : deliveries)
          OPENSSL_cleanse(d.key_pem.data(), d.key_pem.size());
      }
    } catch (...) {
      std::lock_guard lock(m_error_mutex);
      if (!m_error) m_error = std::current_exception();
      m_stop = true;
    }
  }

  // Takes the next chunk of devices not yet done, in input order.
  bool take_chunk_with_payload(std::vector<Item>& chunk, DeviceSource& src) {
    std::lock_guard lock(m_source_mutex);
    chunk.clear();
    DeviceInput d;
    while (chunk.size() < m_req.chunk) {
      if (!src.next(d, m_req.source != BatchSource::count)) break;
      if (d.index >= m_total) {
        throw Error(ErrorCode::conflict,
                    "the batch input has more devices than when the batch started");
      }
      if (m_done[static_cast<std::size_t>(d.index)]) continue;
      Item it;
      it.input = std::move(d);
      chunk.push_back(std::move(it));
    }
    if (m_req.source == BatchSource::renewal && !chunk.empty()) {
      // The certificates renewed, read under the store lock.
      std::lock_guard io(m_io_mutex);
      for (auto& it : chunk) {
        if (!it.input.renew_issuer.empty() && it.input.refusal.empty()) {
          it.old = m_home.store().find_cert(it.input.renew_issuer, it.input.renew_serial);
        }
      }
    }
    return !chunk.empty();
  }

  // Once the batch exists, a failure leaves it running: say how to finish it
  // (with a generated id, the user may not know it).
  template <class F>
  BatchResult resumable(const F& f) {
    try {
      return f();
    } catch (const Error& e) {
      std::string msg = e.what();
      msg += " (batch ";
      msg += m_req.batch_id;
      msg += m_req.source == BatchSource::renewal ? " is left running; `devpki-renew run --resume "
                                                  : " is left running; `devpki-mint --resume ";
      msg += m_req.batch_id;
      msg += "` finishes it)";
      throw Error(e.code(), msg);
    }
  }

  BatchResult run(DeviceSource& src) {
    const auto t0 = SteadyClock::now();
    if (const auto b = m_home.store().find_batch(m_req.batch_id)) m_position = b->position;
    if (m_progress) {
      m_progress(BatchProgress{m_total, m_already + m_already_rejected, m_already_rejected});
    }
    const unsigned n = m_req.threads;
    if (n <= 1) {
      worker(src);
    } else {
      std::vector<std::thread> threads;
      threads.reserve(n);
      for (unsigned i = 0; i < n; ++i)
        threads.emplace_back([this, &src] { worker(src); });
      for (auto& t : threads)
        t.join();
    }
    if (m_error) std::rethrow_exception(m_error);

    // Everything issued or rejected: the manifest, rejects and checksums,
    // then the state. A crash in between re-runs this on resume.
    const auto rejects = m_home.store().batch_rejects(m_req.batch_id);
    batch::finish_outputs(
        *m_sink, m_req.out,
        [&](const batch::RowVisitor& visit) {
          m_home.store().for_each_batch_cert(m_req.batch_id, kDone, false,
                                             [&](const CertRecord& r) {
                                               visit(r);
                                               return true;
                                             });
        },
        rejects);
    m_home.store().set_batch_state(m_req.batch_id, kComplete, m_clock.now());
    audit("batch.complete",
          Json{{"issued", m_issued}, {"rejected", m_rejected}, {"total", m_total}});

    BatchResult r;
    r.batch_id = m_req.batch_id;
    r.state = BatchState::complete;
    r.out = m_req.out;
    r.total = m_total;
    r.issued = m_issued;
    r.rejected = m_rejected;
    r.already = m_already;
    r.recovered = m_recovered;
    r.abandoned = m_abandoned;
    r.seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    for (const auto& [alg, t] : m_templates)
      r.warnings.append(t->warnings());
    return r;
  }

  Home& m_home;
  BatchRequest m_req;
  const BatchSecrets& m_secrets;
  const Clock& m_clock;
  const ProgressFn& m_progress;
  ProfileSpec m_profile;
  Authority m_authority;
  std::map<std::string, std::string> m_vars;
  TimePoint m_now{};
  TimePoint m_not_before{};
  TimePoint m_not_after{};
  std::string m_chain_pem;
  std::map<KeyAlgorithm, std::unique_ptr<fastpath::CertTemplate>> m_templates;
  std::mutex m_template_mutex;
  std::unique_ptr<batch::OutputSink> m_sink;

  std::vector<RenewalItemRecord> m_items;  // renewal positions

  std::uint64_t m_total = 0;
  std::vector<bool> m_done;  // by batch index: issued or rejected earlier
  std::uint64_t m_already = 0;
  std::uint64_t m_already_rejected = 0;
  std::uint64_t m_recovered = 0;
  std::uint64_t m_abandoned = 0;

  std::mutex m_source_mutex;
  std::mutex m_io_mutex;  // the store connection and the sink
  std::uint64_t m_position = 0;
  std::uint64_t m_issued = 0;
  std::uint64_t m_rejected = 0;

  std::atomic<bool> m_stop{false};
  std::mutex m_error_mutex;
  std::exception_ptr m_error;
};

void validate_request(const BatchRequest& r) {
  validate_ca_name(r.ca);
  if (r.profile.empty()) throw Error(ErrorCode::invalid_input, "a profile is required");
  if (r.out.empty()) throw Error(ErrorCode::invalid_input, "an output directory is required");
  // The store's rule, checked before anything runs.
  if (!r.batch_id.empty()) store::check_batch_id(r.batch_id);
  if (r.threads > 256) throw Error(ErrorCode::invalid_input, "--threads must be 1 to 256");
  if (r.chunk > 100000) throw Error(ErrorCode::invalid_input, "--chunk must be 1 to 100000");
  if (r.source == BatchSource::count && r.count == 0) {
    throw Error(ErrorCode::invalid_input, "--count must be at least 1");
  }
  if ((r.source == BatchSource::ids || r.source == BatchSource::csrs) && r.input.empty()) {
    throw Error(ErrorCode::invalid_input, "an input file is required");
  }
}

}  // namespace

BatchResult run_batch(Home& home, const BatchRequest& req, const BatchSecrets& secrets,
                      const Clock& clock, const ProgressFn& progress) {
  validate_request(req);
  if (req.source == BatchSource::renewal) {
    throw Error(ErrorCode::invalid_input, "a renewal batch is started by run_renewal()");
  }
  // After a rollover, the successor issues in the retired CA's place.
  BatchRequest r = req;
  r.ca = current_issuer(home, req.ca);
  Engine engine(home, r, secrets, clock, progress);
  BatchResult result = engine.start();
  if (r.ca != req.ca) {
    std::string msg = "CA '" + req.ca;
    msg += "' was rolled over; its successor '" + r.ca;
    msg += "' issued this batch instead (use --ca " + r.ca;
    msg += ")";
    result.warnings.warning("ca.rolled_over", msg);
  }
  return result;
}

namespace batch {

BatchResult run_renewal_batch(Home& home, const BatchRequest& req,
                              std::vector<RenewalItemRecord> items, const BatchSecrets& secrets,
                              const Clock& clock, const ProgressFn& progress) {
  validate_request(req);
  if (req.source != BatchSource::renewal) {
    throw Error(ErrorCode::internal, "run_renewal_batch needs a renewal request");
  }
  Engine engine(home, req, secrets, clock, progress);
  engine.set_renewal_items(std::move(items));
  return engine.start();
}

}  // namespace batch

BatchResult resume_batch(Home& home, const std::string& batch_id, const BatchSecrets& secrets,
                         const Clock& clock, unsigned threads, const ProgressFn& progress) {
  const auto b = home.store().find_batch(batch_id);
  if (!b) {
    throw Error(ErrorCode::not_found, "no batch " + printable(batch_id) +
                                          " in this home (devpki-mint batches lists them)");
  }
  if (b->state == "complete") {
    // Issues nothing, writes nothing, needs no CA key.
    BatchResult r;
    r.batch_id = b->id;
    r.state = BatchState::complete;
    r.out = b->out_dir;
    r.total = b->count;
    constexpr CertStatus done[] = {CertStatus::issued, CertStatus::revoked, CertStatus::superseded};
    home.store().for_each_batch_cert(b->id, done, false, [&](const CertRecord&) {
      ++r.already;
      return true;
    });
    return r;
  }
  BatchRequest req = request_from(*b);
  if (threads != 0) req.threads = threads;
  Engine engine(home, req, secrets, clock, progress);
  return engine.resume(*b);
}

}  // namespace pki
