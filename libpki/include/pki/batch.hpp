// Factory batch issuance (devpki-mint): thousands to millions of device
// identities in one run, crash-safe and resumable.
//
// A batch follows DESIGN.md's pipeline chunk by chunk: validate every device
// and refuse the whole batch on a duplicate or live device id before anything
// is signed; then per chunk: reserve the chunk's rows (one transaction) ->
// sign -> deliver the chunk's outputs durably -> commit the rows issued (one
// transaction, which also records the output position). After a crash,
// resume_batch() first reconciles the reserved rows with the outputs (present
// and matching: issued; otherwise abandoned and their partial outputs
// removed), then issues what is missing. The store enforces at most one
// certificate that is not abandoned per (batch, device index).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pki/clock.hpp"
#include "pki/findings.hpp"
#include "pki/home.hpp"
#include "pki/key.hpp"

namespace pki {

enum class BatchFormat { jsonl, pem, p12 };
std::string_view to_string(BatchFormat f) noexcept;
BatchFormat parse_batch_format(std::string_view s);  // Error(invalid_input) naming the choices

enum class BatchSource {
  count,  // keys generated here; ids from id_pattern + start + count
  ids,    // keys generated here; ids (and per-device subject variables) from a CSV file
  csrs,   // keys generated on the devices: a directory of CSR files or a JSONL file
  // devpki-renew: positions from the store's renewal items (pki/renewal.hpp),
  // kept keys, or new CSRs from `input` (as csrs) matched by device id.
  renewal,
};
std::string_view to_string(BatchSource s) noexcept;

enum class BatchState { running, complete };
std::string_view to_string(BatchState s) noexcept;

struct BatchRequest {
  std::string ca;
  std::string profile;
  BatchSource source = BatchSource::count;
  // count mode: ids are id_pattern with {seq} (or {seq:0N}, zero-padded to N)
  // replaced by start, start+1, ... start+count-1.
  std::uint64_t count = 0;
  std::string id_pattern;
  std::uint64_t start = 1;
  // ids mode: a CSV file with a header; column "device_id" required, every
  // other column is a subject variable for that device ({model}, ...).
  // csrs mode: a directory (*.csr, *.pem, *.der; device id = file name
  // without extension; sorted by name) or a .jsonl file of
  // {"device_id": "...", "csr": "<PEM>"} lines.
  std::filesystem::path input;
  std::filesystem::path out;
  BatchFormat format = BatchFormat::jsonl;
  std::string batch_id;  // empty: generated ("<ca>-<UTC yyyymmddThhmmss>-<4 hex>")
  unsigned threads = 1;
  KeyAlgorithm key = KeyAlgorithm::ec_p256;
  bool reissue = false;                          // allow ids that already hold a live certificate
  bool allow_decommissioned = false;             // allow ids decommissioned (devpki-decommission)
  std::map<std::string, std::string> variables;  // --var, for every device
  std::size_t chunk = 1000;                      // devices per transaction
  std::string actor = "devpki-mint";
};

struct BatchSecrets {
  std::optional<std::string> ca_passphrase;
  std::optional<std::string> p12_passphrase;
};

// A device refused in CSR mode (index: 0-based position in the batch input).
using BatchReject = BatchRejectRecord;

struct BatchProgress {
  std::uint64_t total = 0;
  std::uint64_t done = 0;  // issued + rejected, including earlier runs of the batch
  std::uint64_t rejected = 0;
};
using ProgressFn = std::function<void(const BatchProgress&)>;

struct BatchResult {
  std::string batch_id;
  BatchState state = BatchState::running;
  std::filesystem::path out;
  std::uint64_t total = 0;
  std::uint64_t issued = 0;     // by this run
  std::uint64_t rejected = 0;   // by this run
  std::uint64_t already = 0;    // issued by earlier runs, including `recovered` (resume)
  std::uint64_t recovered = 0;  // reserved rows found delivered and committed on resume
  std::uint64_t abandoned = 0;  // reserved rows found undelivered and abandoned on resume
  double seconds = 0;
  Findings warnings;
};

// Runs a new batch to completion. Error(invalid_input | policy | conflict |
// not_found) before the batch is created leaves the store and `out`
// untouched. Once created, a failure leaves the batch running and resumable.
BatchResult run_batch(Home& home, const BatchRequest& req, const BatchSecrets& secrets,
                      const Clock& clock, const ProgressFn& progress = {});

// Finishes a batch that was interrupted (or re-runs a complete one, which
// issues nothing). `threads` 0 keeps the batch's setting.
BatchResult resume_batch(Home& home, const std::string& batch_id, const BatchSecrets& secrets,
                         const Clock& clock, unsigned threads = 0, const ProgressFn& progress = {});

}  // namespace pki
