#pragma once

#include <openssl/asn1.h>

#include "ossl/handles.hpp"
#include "pki/clock.hpp"

namespace pki {

TimePoint from_asn1_time(const ASN1_TIME* t);
// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
ossl::Asn1TimePtr to_asn1_time(TimePoint t);

}  // namespace pki
