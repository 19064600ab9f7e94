// SubjectAltName values <-> OpenSSL GENERAL_NAME, for SANs and name constraints.
#pragma once

#include <vector>

#include "ossl/handles.hpp"
#include "pki/profile.hpp"

namespace pki {

// Error(invalid_input) for a value that is not valid for its type (IP text,
// non-ASCII DNS name, e-mail without '@', URI without scheme).
ossl::GeneralNamePtr to_general_name(const SubjectAltName& san);
// For name constraints: ip values are CIDR ("10.0.0.0/8").
ossl::GeneralNamePtr to_constraint_name(const SubjectAltName& san);
// Types devpki does not handle (otherName, x400, ...) are returned with
// `unsupported` incremented instead.
std::vector<SubjectAltName> from_general_names(const GENERAL_NAMES* names,
                                               int* unsupported = nullptr);

// Syntax checks for a SAN value (no OpenSSL needed): message on failure, "" if fine.
std::string san_syntax_error(const SubjectAltName& san);

}  // namespace pki
