#include "cert/asn1_time.hpp"

#include <ctime>

#include "ossl/check.hpp"

namespace pki {

using namespace std::chrono;

TimePoint from_asn1_time(const ASN1_TIME* t) {
  std::tm tm{};
  ossl::check(ASN1_TIME_to_tm(t, &tm), "invalid ASN.1 time", ErrorCode::invalid_input);
  const year_month_day ymd{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                           day{static_cast<unsigned>(tm.tm_mday)}};
  return sys_days{ymd} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
}

ossl::Asn1TimePtr to_asn1_time(TimePoint t) {
  // ASN1_TIME_set picks UTCTime for 1950..2049 and GeneralizedTime otherwise,
  // which is exactly the RFC 5280 rule; the lint re-checks the result.
  const time_t secs = static_cast<time_t>(t.time_since_epoch().count());
  return ossl::Asn1TimePtr(ossl::check_ptr(ASN1_TIME_set(nullptr, secs), "ASN1_TIME_set"));
}

}  // namespace pki
