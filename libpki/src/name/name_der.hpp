// DistinguishedName <-> X509_NAME, for libpki code that builds or reads
// certificates and CSRs. Internal to libpki.
#pragma once

#include "ossl/handles.hpp"
#include "pki/name.hpp"

namespace pki {

// Error(invalid_input) with the validation summary if the name is not valid
// (an invalid name is never encoded). Types devpki does not know (kept by
// from_x509_name) are encoded as UTF8String under their OID.
ossl::X509NamePtr to_x509_name(const DistinguishedName& name);
// Each value converted to UTF-8 from whatever string type it was encoded in.
// Error(invalid_input) for a multi-valued RDN or an undecodable string.
DistinguishedName from_x509_name(const X509_NAME* name);

}  // namespace pki
