// How devpki-ca shows CAs and certificates: text for people, JSON for scripts.
#pragma once

#include <string>

#include "pki/certificate.hpp"
#include "pki/store.hpp"

namespace devpki::ca {

std::string ca_json(const pki::CaRecord& ca);
std::string ca_text(const pki::CaRecord& ca);
std::string cert_json(const pki::CertRecord& rec);
std::string cert_text(const pki::CertRecord& rec);
// Fields read from the certificate itself (subject, SANs, key, extensions).
std::string certificate_details_text(const pki::Certificate& cert);
std::string certificate_details_json(const pki::Certificate& cert);

}  // namespace devpki::ca
