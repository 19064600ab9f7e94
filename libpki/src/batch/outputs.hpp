// Where a batch delivers: the per-format writers, their crash-time
// reconciliation, and the manifest and checksum files written at the end.
//
// Layout of a batch output directory (DIR):
//   jsonl: DIR/devices.jsonl   one line per device (below)
//   pem:   DIR/<device_id>/key.pem (0600, server-side keys only), cert.pem, chain.pem
//   p12:   DIR/<device_id>.p12     key + certificate + chain, AES-256-CBC/PBKDF2, SHA-256 MAC
//   all:   DIR/chain.pem           the issuing CA's chain (issuing CA first, root last)
//          DIR/manifest.jsonl      no private keys (written by finish())
//          DIR/rejects.jsonl       devices refused, with the reason (finish())
//          DIR/SHA256SUMS          `sha256sum -c` format, over every file above but itself
//
// devices.jsonl line (keys in this order, no spaces, '\n'-terminated):
//   {"device_id":"ACME-00000001","serial":"<hex>","cert":"<PEM>","chain":"chain.pem","key":"<PEM>"}
// ("key" is absent in CSR mode).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pki/batch.hpp"
#include "pki/clock.hpp"
#include "pki/store.hpp"

namespace pki::batch {

// One device's outputs, as the engine hands them to the sink.
struct Delivery {
  std::string device_id;
  std::string serial_hex;
  std::string cert_pem;
  std::string key_pem;  // empty in CSR mode
  std::string spki_sha256;
};

class OutputSink {
 public:
  virtual ~OutputSink() = default;

  // Writes one chunk's outputs and makes them durable (fsync of the files
  // or syncfs of DIR) before returning. A failure throws Error(io) after
  // removing what this call wrote where it can. Returns the sink position
  // to record with the chunk's commit (jsonl: byte length of devices.jsonl
  // after this chunk; other formats: 0).
  virtual std::uint64_t deliver(std::span<const Delivery> chunk) = 0;

  // Resume after a crash. `committed` is the position recorded with the last
  // committed chunk; `reserved` the batch's rows still reserved. For each
  // reserved row, whether its complete output is present and matches it
  // (serial, SPKI SHA-256, device id). Every output that belongs to no
  // issued or delivered row is removed: a torn last line of devices.jsonl,
  // a device directory or .p12 of a row that was not delivered, leftover
  // temporary files. Returns the flags (parallel to `reserved`) and the new
  // position.
  struct Reconciled {
    std::vector<bool> delivered;
    // Parallel to `delivered`: the delivered certificate's DER (the store
    // commits it; the row has no DER while reserved), empty when not delivered.
    std::vector<std::vector<std::uint8_t>> der;
    std::uint64_t position = 0;
  };
  virtual Reconciled reconcile(std::uint64_t committed, std::span<const CertRecord> reserved) = 0;

  // File names of one device's outputs, relative to DIR (manifest "files").
  virtual std::vector<std::string> files_for(const std::string& device_id) const = 0;

  // Files that files_for() names for many devices (jsonl: devices.jsonl).
  // finish_outputs() checksums them once instead of once per device.
  virtual std::vector<std::string> shared_files() const { return {}; }
};

struct SinkOptions {
  std::filesystem::path dir;
  BatchFormat format = BatchFormat::jsonl;
  std::string chain_pem;                      // written once as DIR/chain.pem by open_sink()
  std::optional<std::string> p12_passphrase;  // required for p12
  bool resume = false;  // false: DIR must not exist or be empty (Error(conflict) otherwise)
  // resume: create DIR when it is missing. Only for a batch that has
  // committed nothing yet (a crash between recording the batch and creating
  // its directory); otherwise a missing DIR is Error(not_found).
  bool create_missing = false;
  // Keys generated here (not CSR mode): a pem device without its key.pem is
  // not delivered (a power cut may persist the renames out of order).
  bool device_keys = false;
};

// The check open_sink() makes for a new batch, without writing anything:
// Error(conflict) unless `dir` does not exist or is an empty directory.
void check_new_output_dir(const std::filesystem::path& dir);

// Whether `device_id` (already a valid id) would name one of DIR's own files
// in this format (pem: DIR/chain.pem, DIR/manifest.jsonl, ...). The engine
// refuses such ids with its other id checks, before the batch starts;
// deliver() refuses them too (Error(invalid_input)).
bool collides_with_batch_files(BatchFormat f, std::string_view device_id);

// Creates DIR (0700) when new and writes DIR/chain.pem (on resume, checks
// it is unchanged: Error(conflict) otherwise).
std::unique_ptr<OutputSink> open_sink(const SinkOptions& opts);

// The end of a batch: DIR/manifest.jsonl from `rows` (the batch's issued
// rows, in batch order, streamed by the caller through for_each_row), DIR/rejects.jsonl from
// `rejects`, then DIR/SHA256SUMS over the output files, chain.pem, the
// manifest and the rejects. Each file is written atomically; re-running it
// (a resumed batch that finished) rewrites the same content.
//   manifest line: {"device_id":..,"serial":..,"spki_sha256":..,"not_after":"<RFC 3339 UTC>",
//                   "files":[..]}
//   rejects line:  {"index":N,"device_id":..,"reason":..}
// `for_each_row(fn)` calls fn once per issued row in batch order (the engine
// streams them from the store).
using RowVisitor = std::function<void(const CertRecord&)>;
void finish_outputs(const OutputSink& sink, const std::filesystem::path& dir,
                    const std::function<void(const RowVisitor&)>& for_each_row,
                    std::span<const BatchReject> rejects);

}  // namespace pki::batch
