#include "devpki-ca/render.hpp"

#include <sstream>

#include "common/cli.hpp"

namespace devpki::ca {

namespace {

std::string time_or_forever(pki::TimePoint t) {
  return pki::is_forever(t) ? "9999-12-31T23:59:59Z (no expiry)" : pki::format_time(t);
}

std::string usage_list(const std::vector<pki::KeyUsage>& usages) {
  std::string out;
  for (auto u : usages)
    out += (out.empty() ? "" : ", ") + std::string(pki::to_string(u));
  return out;
}

}  // namespace

std::string ca_json(const pki::CaRecord& ca) {
  std::ostringstream o;
  o << "{\"name\":" << json_string(ca.name) << ",\"parent\":" << json_string(ca.parent)
    << ",\"profile\":" << json_string(ca.profile) << ",\"subject\":" << json_string(ca.subject)
    << ",\"serial\":" << json_string(ca.serial_hex)
    << ",\"not_before\":" << json_string(pki::format_time(ca.not_before))
    << ",\"not_after\":" << json_string(pki::format_time(ca.not_after))
    << ",\"status\":" << json_string(pki::to_string(ca.status))
    << ",\"key_ref\":" << json_string(ca.key_ref)
    << ",\"spki_sha256\":" << json_string(ca.spki_sha256) << ",\"ski\":" << json_string(ca.ski_hex)
    << ",\"successor\":" << json_string(ca.successor) << ",\"retired_at\":"
    << (ca.retired_at ? json_string(pki::format_time(*ca.retired_at)) : "null") << "}";
  return o.str();
}

std::string ca_text(const pki::CaRecord& ca) {
  std::ostringstream o;
  o << "CA " << ca.name << (ca.parent.empty() ? " (root)" : " (under " + ca.parent + ")") << "\n"
    << "  subject:     " << ca.subject << "\n"
    << "  serial:      " << ca.serial_hex << "\n"
    << "  valid:       " << pki::format_time(ca.not_before) << " .. "
    << time_or_forever(ca.not_after) << "\n"
    << "  profile:     " << ca.profile << "\n"
    << "  status:      " << pki::to_string(ca.status);
  if (!ca.successor.empty()) {
    o << " (rolled over to " << ca.successor;
    if (ca.retired_at) o << " on " << pki::format_time(*ca.retired_at);
    o << ")";
  }
  o << "\n"
    << "  key:         " << ca.key_ref << "\n"
    << "  spki sha256: " << ca.spki_sha256 << "\n";
  return o.str();
}

std::string cert_json(const pki::CertRecord& r) {
  std::ostringstream o;
  o << "{\"issuer\":" << json_string(r.issuer) << ",\"serial\":" << json_string(r.serial_hex)
    << ",\"device_id\":" << json_string(r.device_id) << ",\"profile\":" << json_string(r.profile)
    << ",\"batch_id\":" << json_string(r.batch_id) << ",\"subject\":" << json_string(r.subject)
    << ",\"not_before\":" << json_string(pki::format_time(r.not_before))
    << ",\"not_after\":" << json_string(pki::format_time(r.not_after))
    << ",\"status\":" << json_string(pki::to_string(r.status))
    << ",\"spki_sha256\":" << json_string(r.spki_sha256) << ",\"output\":" << json_string(r.output)
    << "}";
  return o.str();
}

std::string cert_text(const pki::CertRecord& r) {
  std::ostringstream o;
  o << "certificate " << r.serial_hex << " from CA " << r.issuer << "\n"
    << "  status:      " << pki::to_string(r.status) << "\n"
    << "  device:      " << (r.device_id.empty() ? "-" : r.device_id) << "\n"
    << "  profile:     " << r.profile << "\n"
    << "  subject:     " << (r.subject.empty() ? "(empty)" : r.subject) << "\n"
    << "  valid:       " << pki::format_time(r.not_before) << " .. " << time_or_forever(r.not_after)
    << "\n"
    << "  spki sha256: " << r.spki_sha256 << "\n";
  if (!r.batch_id.empty()) o << "  batch:       " << r.batch_id << "\n";
  if (!r.output.empty()) o << "  output:      " << r.output << "\n";
  return o.str();
}

std::string certificate_details_text(const pki::Certificate& c) {
  std::ostringstream o;
  o << "  issuer:      " << c.issuer().to_string() << "\n"
    << "  key:         " << c.public_key().describe().to_string() << "\n"
    << "  signature:   " << c.signature_algorithm() << "\n"
    << "  key usage:   " << usage_list(c.key_usage()) << "\n"
    << "  CA:          " << (c.is_ca() ? "yes" : "no");
  if (const auto pl = c.path_len()) o << ", pathLen " << *pl;
  o << "\n";
  for (const auto& san : c.sans())
    o << "  SAN:         " << pki::to_string(san.type) << ":" << san.value << "\n";
  o << "  sha256:      " << c.fingerprint_sha256_hex() << "\n";
  return o.str();
}

std::string certificate_details_json(const pki::Certificate& c) {
  std::ostringstream o;
  o << "{\"issuer\":" << json_string(c.issuer().to_string())
    << ",\"key\":" << json_string(c.public_key().describe().to_string())
    << ",\"signature_algorithm\":" << json_string(c.signature_algorithm())
    << ",\"is_ca\":" << (c.is_ca() ? "true" : "false") << ",\"key_usage\":[";
  bool first = true;
  for (auto u : c.key_usage()) {
    o << (first ? "" : ",") << json_string(pki::to_string(u));
    first = false;
  }
  o << "],\"sans\":[";
  first = true;
  for (const auto& s : c.sans()) {
    o << (first ? "" : ",") << json_string(std::string(pki::to_string(s.type)) + ":" + s.value);
    first = false;
  }
  o << "],\"sha256\":" << json_string(c.fingerprint_sha256_hex())
    << ",\"pem\":" << json_string(c.to_pem()) << "}";
  return o.str();
}

}  // namespace devpki::ca
