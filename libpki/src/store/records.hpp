// What every Store backend shares: status names and the checks a record
// passes before any SQL runs, so each backend refuses the same input with the
// same Error(invalid_input) instead of its own constraint message.
#pragma once

#include <span>
#include <string_view>

#include "pki/store.hpp"

namespace pki::store {

// Error(invalid_input) for an unknown name (a database written by a newer build).
CaStatus parse_ca_status(std::string_view s);

// [a-z0-9][a-z0-9._-]{0,63}: CA names become file names (keys/<name>.key.pem).
void check_ca_name(std::string_view name, std::string_view role);
// Lowercase hex, 1..40 digits (RFC 5280 4.1.2.2: at most 20 octets).
void check_serial_hex(std::string_view serial_hex);

void check_ca_record(const CaRecord& ca);
void check_cert_record(const CertRecord& rec);
// [A-Za-z0-9][A-Za-z0-9._-]{0,63}: batch ids name files and appear in commands.
void check_batch_id(std::string_view id);
// A renewal batch's items: one per position, indexes 0..b.count-1 each once
// (any order), an old certificate named by both issuer and serial or by
// neither.
void check_renewal_items(const BatchRecord& b, std::span<const RenewalItemRecord> items);

// RFC 5280 5.3.1: a CRLReason a certificate can be revoked for (0-10, not 7,
// not removeFromCRL (8), which only a delta CRL says of a released hold).
void check_revocation_reason(int reason);
void check_crl_record(const CrlRecord& rec);

}  // namespace pki::store
