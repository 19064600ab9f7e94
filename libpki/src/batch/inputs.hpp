// Where a batch's devices come from: an id pattern, a CSV of ids and subject
// variables, or device CSRs (a directory of files or a JSONL file). Every
// source is read sequentially and can be read again from the start, so a
// batch never holds its whole input in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pki/batch.hpp"

namespace pki::batch {

struct DeviceInput {
  std::uint64_t index = 0;
  std::string device_id;
  std::vector<std::pair<std::string, std::string>> variables;  // CSV columns
  std::vector<std::uint8_t> csr;                               // CSR mode
  std::string csr_error;  // CSR mode: the CSR could not be read (a per-device reject)
  // Renewal: the certificate renewed (empty issuer: none) and a refusal
  // decided when the batch was planned (a reject when non-empty).
  std::string renew_issuer;
  std::string renew_serial;
  std::string refusal;
};

class DeviceSource {
 public:
  virtual ~DeviceSource() = default;
  // The next device in input order; false at the end. With `payload` false
  // only the index and id are filled (a CSR directory is not read).
  // Error(invalid_input) naming file and line for input that makes the
  // whole batch unusable (a malformed CSV row, a JSONL line that is not an
  // object with "device_id" and "csr").
  virtual bool next(DeviceInput& d, bool payload) = 0;
  // Back to the first device.
  virtual void rewind() = 0;
};

// "ACME-{seq:08}": the prefix and suffix around one {seq} or {seq:0N}.
// Error(invalid_input) when the pattern has no or two {seq}, or when the
// first or last id it makes is not a valid device id.
struct IdPattern {
  std::string prefix;
  std::string suffix;
  unsigned width = 0;
  static IdPattern parse(const std::string& pattern);
  std::string id(std::uint64_t seq) const;
};

std::unique_ptr<DeviceSource> pattern_source(const IdPattern& p, std::uint64_t start,
                                             std::uint64_t count);
// CSV with a header row; "device_id" required; other columns become subject
// variables. RFC 4180 quoting (no newlines inside quotes).
std::unique_ptr<DeviceSource> csv_source(const std::filesystem::path& file);
// A directory (*.csr, *.pem, *.der, sorted by name; device id = name without
// extension) or a .jsonl file.
std::unique_ptr<DeviceSource> csr_source(const std::filesystem::path& input);

// A CSR input (as csr_source) read whole, by device id: a renewal matches
// CSRs to the devices it renews. Error(invalid_input) for a device id given
// twice or an input csr_source refuses.
struct CsrEntry {
  std::vector<std::uint8_t> csr;
  std::string error;
};
std::map<std::string, CsrEntry> read_csrs_by_device(const std::filesystem::path& input);

// Renewal positions in index order; a position's CSR (if `csrs` has one for
// its device) comes with the payload. `items` is not copied: it must outlive
// the source.
std::unique_ptr<DeviceSource> renewal_source(const std::vector<RenewalItemRecord>& items,
                                             std::map<std::string, CsrEntry> csrs);

// SHA-256 (hex) identifying the input: the file's bytes, or for a CSR
// directory its sorted file names and sizes. A resumed batch refuses an input
// that changed.
std::string input_fingerprint(BatchSource source, const std::filesystem::path& input);

}  // namespace pki::batch
