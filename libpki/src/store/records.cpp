#include "store/records.hpp"

#include <cctype>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "pki/error.hpp"

namespace pki::store {

namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::invalid_input, message);
}

}  // namespace

void check_ca_name(std::string_view name, std::string_view role) {
  const auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  const auto ok_rest = [&](char c) { return ok_first(c) || c == '.' || c == '_' || c == '-'; };
  bool ok = !name.empty() && name.size() <= 64 && ok_first(name.front());
  for (std::size_t i = 1; ok && i < name.size(); ++i)
    ok = ok_rest(name[i]);
  if (!ok) {
    invalid("invalid " + std::string(role) + " '" + std::string(name) +
            "': expected 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or "
            "digit");
  }
}

void check_serial_hex(std::string_view serial_hex) {
  bool ok = !serial_hex.empty() && serial_hex.size() <= 40;
  for (const char c : serial_hex)
    ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok) {
    invalid("invalid serial '" + std::string(serial_hex) +
            "': expected 1-40 lowercase hex digits (at most 20 octets)");
  }
}

void check_ca_record(const CaRecord& ca) {
  check_ca_name(ca.name, "CA name");
  if (!ca.parent.empty()) check_ca_name(ca.parent, "parent CA name");
  if (ca.parent == ca.name) invalid("CA " + ca.name + " cannot be its own parent");
  check_serial_hex(ca.serial_hex);
  if (ca.not_after < ca.not_before) invalid("CA " + ca.name + ": not_after is before not_before");
  if (!ca.successor.empty()) {
    check_ca_name(ca.successor, "successor CA name");
    if (ca.successor == ca.name) invalid("CA " + ca.name + " cannot be its own successor");
  }
  // Only a retired CA has a successor or a retirement time (the schema's CHECKs).
  if (ca.status != CaStatus::retired && (!ca.successor.empty() || ca.retired_at)) {
    invalid("CA " + ca.name + " is not retired but has a successor or a retirement time");
  }
}

void check_cert_record(const CertRecord& rec) {
  check_ca_name(rec.issuer, "issuer CA name");
  check_serial_hex(rec.serial_hex);
  if (rec.profile.empty()) invalid("certificate " + rec.serial_hex + " has no profile");
  if (rec.not_after < rec.not_before) {
    invalid("certificate " + rec.serial_hex + ": not_after is before not_before");
  }
  if (rec.batch_index >= 0 && rec.batch_id.empty()) {
    invalid("certificate " + rec.serial_hex + " has a batch index but no batch");
  }
}

void check_batch_id(std::string_view id) {
  bool ok = !id.empty() && id.size() <= 64 && std::isalnum(static_cast<unsigned char>(id[0]));
  for (const char c : id)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  if (!ok) {
    invalid("invalid batch id '" + printable(id) +
            "': use 1 to 64 of A-Z a-z 0-9 . _ - starting with a letter or digit");
  }
}

void check_renewal_items(const BatchRecord& b, std::span<const RenewalItemRecord> items) {
  std::string what = "renewal batch ";
  what += b.id;
  if (items.size() != b.count) {
    invalid(what + " has " + std::to_string(items.size()) + " items for a count of " +
            std::to_string(b.count) + " (one item per batch position)");
  }
  std::vector<bool> seen(items.size(), false);
  for (const auto& item : items) {
    if (item.index >= items.size() || seen[item.index]) {
      invalid(what + ": item index " + std::to_string(item.index) +
              (item.index >= items.size() ? " is out of range" : " is listed twice") +
              " (expected each index from 0 to " + std::to_string(items.size() - 1) + " once)");
    }
    seen[item.index] = true;
    if (item.old_issuer.empty() != item.old_serial.empty()) {
      invalid(what + ": item " + std::to_string(item.index) +
              " names the certificate it renews by issuer or serial alone");
    }
    if (!item.old_issuer.empty()) {
      check_ca_name(item.old_issuer, "renewed certificate's issuer CA name");
      check_serial_hex(item.old_serial);
    }
  }
}

void check_revocation_reason(int reason) {
  if (reason < 0 || reason > 10 || reason == 7 || reason == 8) {
    invalid("invalid revocation reason code " + std::to_string(reason) +
            ": expected a CRLReason from 0 to 10 other than 7 (unused) and 8 (removeFromCRL)");
  }
}

void check_crl_record(const CrlRecord& rec) {
  check_ca_name(rec.issuer, "CRL issuer CA name");
  std::string what = rec.delta ? "delta CRL " : "CRL ";
  what += std::to_string(rec.number);
  what += " of CA ";
  what += rec.issuer;
  // RFC 5280 5.2.3 allows 0, but the store reads 0 as "none published yet"
  // (last_crl_number), so numbering starts at 1.
  if (rec.number == 0) invalid(what + ": CRL numbers start at 1");
  if (rec.delta && (rec.base_number == 0 || rec.base_number >= rec.number)) {
    invalid(what + ": its base (CRL " + std::to_string(rec.base_number) +
            ") must be a full CRL numbered before it");
  }
  if (!rec.delta && rec.base_number != 0) invalid(what + ": a full CRL has no base CRL number");
  // RFC 5280 5.1.2.5: nextUpdate is later than thisUpdate.
  if (rec.next_update < rec.this_update) invalid(what + ": nextUpdate is before thisUpdate");
}

}  // namespace pki::store
