// Batch outputs: the per-format sinks, their reconciliation after a crash and
// the end-of-batch manifest, rejects and SHA256SUMS files (see outputs.hpp).
#include "batch/outputs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/fs.hpp"
#include "core/text.hpp"
#include "ossl/check.hpp"
#include "ossl/handles.hpp"
#include "pki/certificate.hpp"
#include "pki/error.hpp"
#include "pki/key.hpp"

namespace pki {

std::string_view to_string(BatchFormat f) noexcept {
  switch (f) {
    case BatchFormat::jsonl:
      return "jsonl";
    case BatchFormat::pem:
      return "pem";
    case BatchFormat::p12:
      return "p12";
  }
  return "unknown";
}

BatchFormat parse_batch_format(std::string_view s) {
  if (s == "jsonl") return BatchFormat::jsonl;
  if (s == "pem") return BatchFormat::pem;
  if (s == "p12") return BatchFormat::p12;
  throw Error(ErrorCode::invalid_input,
              "unknown format '" + printable(s) + "': use jsonl, pem or p12");
}

}  // namespace pki

namespace pki::batch {

namespace {

namespace stdfs = std::filesystem;

using Pkcs12Ptr = std::unique_ptr<PKCS12, ossl::Free<PKCS12, PKCS12_free>>;

constexpr std::string_view kDevicesFile = "devices.jsonl";
constexpr std::string_view kChainFile = "chain.pem";
constexpr std::string_view kManifestFile = "manifest.jsonl";
constexpr std::string_view kRejectsFile = "rejects.jsonl";
constexpr std::string_view kSumsFile = "SHA256SUMS";
constexpr std::string_view kTempMarker = ".tmp-";
constexpr std::size_t kTempSuffixHex = 16;
constexpr std::size_t kMaxSmallFile = 1u << 20;  // a PEM or .p12 of one device
constexpr std::size_t kMaxLine = 1u << 20;       // one devices.jsonl line
constexpr std::size_t kIoBuffer = 1u << 20;

using fs::io_error;
using fs::write_all;

// ---- temporary files --------------------------------------------------------

// Same form as core/fs.cpp's write_file_atomic (".<name>.tmp-<16 hex>"), so
// that reconcile() removes the leftovers of both with one rule.
std::string temp_name(std::string_view name, std::uint64_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(name.size() + 1 + kTempMarker.size() + kTempSuffixHex);
  out += '.';
  out += name;
  out += kTempMarker;
  for (int shift = 60; shift >= 0; shift -= 4)
    out += kHex[(n >> shift) & 0xF];
  return out;
}

bool is_temp_name(std::string_view name) {
  const std::size_t tail = kTempMarker.size() + kTempSuffixHex;
  if (name.size() < 2 + tail || name.front() != '.') return false;
  if (name.substr(name.size() - tail, kTempMarker.size()) != kTempMarker) return false;
  for (char c : name.substr(name.size() - kTempSuffixHex)) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!hex) return false;
  }
  return true;
}

std::uint64_t random_u64() {
  std::array<unsigned char, 8> b{};
  ossl::check(RAND_bytes(b.data(), static_cast<int>(b.size())), "RAND_bytes");
  std::uint64_t v = 0;
  for (unsigned char c : b)
    v = (v << 8) | c;
  return v;
}

// Unique temporary suffixes without a RAND_bytes call per file (pem writes
// three files per device).
class TempNamer {
 public:
  TempNamer() : m_next(random_u64()) {}
  std::string next(std::string_view name) { return temp_name(name, m_next++); }

 private:
  std::uint64_t m_next;
};

void remove_temp_files(const stdfs::path& dir) {
  std::error_code ec;
  std::vector<stdfs::path> found;
  for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (is_temp_name(it->path().filename().native())) found.push_back(it->path());
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    throw Error(ErrorCode::io, "cannot list " + dir.string() + ": " + ec.message());
  }
  for (const auto& p : found) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw io_error("cannot remove", p, errno);
  }
}

// ---- low-level I/O ----------------------------------------------------------

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      m_fd = std::exchange(o.m_fd, -1);
    }
    return *this;
  }
  int get() const { return m_fd; }
  int release() { return std::exchange(m_fd, -1); }
  void reset() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
  }

 private:
  int m_fd = -1;
};

void close_checked(Fd& fd, const stdfs::path& file) {
  if (::close(fd.release()) != 0) throw io_error("cannot close", file, errno);
}

Fd open_directory(const stdfs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw io_error("cannot open directory", dir, errno);
  return Fd(fd);
}

void fsync_directory(const stdfs::path& dir) {
  Fd fd = open_directory(dir);
  if (::fsync(fd.get()) != 0) throw io_error("cannot fsync directory", dir, errno);
}

// One flush of everything written to DIR's file system (a chunk's files and
// directories), then DIR itself.
void sync_chunk(const stdfs::path& dir) {
  Fd fd = open_directory(dir);
  if (::syncfs(fd.get()) != 0) throw io_error("cannot syncfs", dir, errno);
  if (::fsync(fd.get()) != 0) throw io_error("cannot fsync directory", dir, errno);
}

// Temp name + rename without fsync: the caller makes the whole chunk durable
// with sync_chunk(). A crash before that leaves either no file or a temporary
// one (removed by reconcile), never a torn file under the final name.
void write_file_unsynced(const stdfs::path& file, std::string_view content, unsigned mode,
                         TempNamer& namer) {
  const stdfs::path tmp = file.parent_path() / namer.next(file.filename().native());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) throw io_error("cannot create", tmp, errno);
  try {
    // The umask can only remove bits; this makes the mode exactly what was asked.
    if (::fchmod(fd.get(), mode) != 0) throw io_error("cannot chmod", tmp, errno);
    write_all(fd.get(), content, tmp);
    close_checked(fd, tmp);
    if (::rename(tmp.c_str(), file.c_str()) != 0) throw io_error("cannot create", file, errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

// A file written in pieces (manifest, SHA256SUMS: too large to build in
// memory) that appears under its name only once complete and durable.
class AtomicStream {
 public:
  AtomicStream(stdfs::path file, unsigned mode) : m_file(std::move(file)) {
    const stdfs::path tmp =
        m_file.parent_path() / temp_name(m_file.filename().native(), random_u64());
    m_fd = Fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
    if (m_fd.get() < 0) throw io_error("cannot create", tmp, errno);
    m_tmp = tmp;  // from here on the destructor removes it
    if (::fchmod(m_fd.get(), mode) != 0) {
      const int err = errno;
      m_fd.reset();
      ::unlink(tmp.c_str());
      throw io_error("cannot chmod", tmp, err);
    }
    m_buf.reserve(kIoBuffer);
  }
  ~AtomicStream() {
    m_fd.reset();
    if (!m_tmp.empty()) ::unlink(m_tmp.c_str());
  }
  AtomicStream(const AtomicStream&) = delete;
  AtomicStream& operator=(const AtomicStream&) = delete;

  void append(std::string_view s) {
    m_buf += s;
    if (m_buf.size() >= kIoBuffer) flush();
  }

  void commit() {
    flush();
    if (::fsync(m_fd.get()) != 0) throw io_error("cannot fsync", m_tmp, errno);
    close_checked(m_fd, m_tmp);
    if (::rename(m_tmp.c_str(), m_file.c_str()) != 0)
      throw io_error("cannot create", m_file, errno);
    m_tmp.clear();
    fsync_directory(m_file.parent_path());
  }

 private:
  void flush() {
    write_all(m_fd.get(), m_buf, m_tmp);
    m_buf.clear();
  }

  stdfs::path m_file;
  stdfs::path m_tmp;
  Fd m_fd;
  std::string m_buf;
};

// ---- JSON -------------------------------------------------------------------

// The hot path of jsonl delivery: only '"', '\\' and control characters need
// escaping (device ids are validated, PEM is ASCII), copied in runs.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

// ---- matching outputs with rows ---------------------------------------------

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool cert_matches(const Certificate& cert, const CertRecord& row) {
  return cert.serial_hex() == lower(row.serial_hex) &&
         cert.public_key().spki_sha256_hex() == lower(row.spki_sha256);
}

// The certificate's DER when `pem` is the row's certificate, empty otherwise.
std::vector<std::uint8_t> matching_der(std::string_view pem, const CertRecord& row) {
  try {
    const Certificate cert = Certificate::from_pem(pem);
    if (cert_matches(cert, row)) return cert.der();
  } catch (const Error&) {
  }
  return {};
}

void mark_delivered(OutputSink::Reconciled& r, std::size_t i, std::vector<std::uint8_t> der) {
  r.delivered[i] = true;
  r.der[i] = std::move(der);
}

OutputSink::Reconciled none_delivered(std::size_t n) {
  OutputSink::Reconciled r;
  r.delivered.assign(n, false);
  r.der.resize(n);
  return r;
}

bool key_pem_matches(std::string_view pem, const CertRecord& row) {
  try {
    return PrivateKey::from_pem(pem).public_key().spki_sha256_hex() == lower(row.spki_sha256);
  } catch (const Error&) {
    return false;
  }
}

bool regular_file_exists(const stdfs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_real_directory(const stdfs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void refuse_collision(BatchFormat f, std::string_view device_id) {
  if (collides_with_batch_files(f, device_id)) {
    throw Error(ErrorCode::invalid_input, "device id '" + printable(device_id) +
                                              "' is the name of a batch file in " +
                                              std::string(to_string(f)) + " output");
  }
}

void remove_all_checked(const stdfs::path& p) {
  std::error_code ec;
  stdfs::remove_all(p, ec);
  if (ec) throw Error(ErrorCode::io, "cannot remove " + p.string() + ": " + ec.message());
}

// ---- sinks ------------------------------------------------------------------

class SinkBase : public OutputSink {
 public:
  explicit SinkBase(const SinkOptions& opts)
      : m_dir(opts.dir), m_chain(opts.chain_pem), m_device_keys(opts.device_keys) {}

 protected:
  stdfs::path m_dir;
  std::string m_chain;
  bool m_device_keys = false;
  TempNamer m_namer;
};

class JsonlSink final : public SinkBase {
 public:
  explicit JsonlSink(const SinkOptions& opts) : SinkBase(opts), m_file(m_dir / kDevicesFile) {
    // 0600: the file holds private keys. O_APPEND: every chunk lands at the end.
    const int flags =
        O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_CREAT | (opts.resume ? 0 : O_EXCL);
    m_fd = Fd(::open(m_file.c_str(), flags, 0600));
    if (m_fd.get() < 0) throw io_error("cannot open", m_file, errno);
    struct stat st {};
    if (::fstat(m_fd.get(), &st) != 0) throw io_error("cannot stat", m_file, errno);
    if (!opts.resume && ::fchmod(m_fd.get(), 0600) != 0) {
      throw io_error("cannot chmod", m_file, errno);
    }
    m_pos = static_cast<std::uint64_t>(st.st_size);
    fsync_directory(m_dir);  // the new name must survive a crash like its content
  }

  std::uint64_t deliver(std::span<const Delivery> chunk) override {
    if (chunk.empty()) return m_pos;
    std::size_t estimate = 0;
    for (const auto& d : chunk) {
      const std::size_t pem = d.cert_pem.size() + d.key_pem.size();
      estimate += 128 + d.device_id.size() + d.serial_hex.size() + pem + pem / 32;
    }
    std::string buf;
    buf.reserve(estimate);
    // The buffer holds the chunk's private keys: wiped however this returns.
    struct Wipe {
      std::string& s;
      ~Wipe() { OPENSSL_cleanse(s.data(), s.size()); }
    } wipe{buf};
    for (const auto& d : chunk) {
      buf += "{\"device_id\":";
      append_json_string(buf, d.device_id);
      buf += ",\"serial\":";
      append_json_string(buf, d.serial_hex);
      buf += ",\"cert\":";
      append_json_string(buf, d.cert_pem);
      buf += ",\"chain\":\"chain.pem\"";
      if (!d.key_pem.empty()) {
        buf += ",\"key\":";
        append_json_string(buf, d.key_pem);
      }
      buf += "}\n";
    }
    try {
      write_all(m_fd.get(), buf, m_file);
      if (::fdatasync(m_fd.get()) != 0) throw io_error("cannot fdatasync", m_file, errno);
    } catch (...) {
      // Take back whatever part of the chunk reached the file.
      if (::ftruncate(m_fd.get(), static_cast<off_t>(m_pos)) == 0) ::fdatasync(m_fd.get());
      throw;
    }
    m_pos += buf.size();
    return m_pos;
  }

  Reconciled reconcile(std::uint64_t committed, std::span<const CertRecord> reserved) override {
    remove_temp_files(m_dir);
    Reconciled r = none_delivered(reserved.size());
    struct stat st {};
    if (::fstat(m_fd.get(), &st) != 0) throw io_error("cannot stat", m_file, errno);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size < committed) {
      throw Error(ErrorCode::io, m_file.string() + " has " + std::to_string(size) +
                                     " bytes, fewer than the " + std::to_string(committed) +
                                     " committed: delivered outputs are missing");
    }
    std::unordered_map<std::string, std::size_t> by_serial;
    for (std::size_t i = 0; i < reserved.size(); ++i)
      by_serial[lower(reserved[i].serial_hex)] = i;

    // The file is opened O_APPEND|O_WRONLY for delivery; read through another descriptor.
    Fd in(::open(m_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (in.get() < 0) throw io_error("cannot open", m_file, errno);
    std::uint64_t good_end = committed;
    std::uint64_t offset = committed;
    std::string pending;
    std::vector<char> buf(kIoBuffer);
    bool stop = false;
    while (!stop && offset < size) {
      const ssize_t n = ::pread(in.get(), buf.data(), buf.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw io_error("cannot read", m_file, errno);
      }
      if (n == 0) break;
      offset += static_cast<std::uint64_t>(n);
      pending.append(buf.data(), static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (;;) {
        const std::size_t nl = pending.find('\n', start);
        if (nl == std::string::npos) break;
        const std::string_view line(pending.data() + start, nl - start);
        if (!accept_line(line, reserved, by_serial, r)) {
          stop = true;
          break;
        }
        good_end += nl - start + 1;
        start = nl + 1;
      }
      pending.erase(0, start);
      if (pending.size() > kMaxLine) break;  // no line is that long: garbage
    }
    // Whatever follows the last good line (a torn line, an invalid one and
    // everything after it) is cut off.
    if (good_end != size) {
      Fd rw(::open(m_file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
      if (rw.get() < 0) throw io_error("cannot open", m_file, errno);
      if (::ftruncate(rw.get(), static_cast<off_t>(good_end)) != 0) {
        throw io_error("cannot truncate", m_file, errno);
      }
      if (::fsync(rw.get()) != 0) throw io_error("cannot fsync", m_file, errno);
    }
    m_pos = good_end;
    r.position = good_end;
    return r;
  }

  std::vector<std::string> files_for(const std::string&) const override {
    return {std::string(kDevicesFile)};
  }
  std::vector<std::string> shared_files() const override { return {std::string(kDevicesFile)}; }

 private:
  // A line written by deliver() for one of the reserved rows, complete and
  // matching it. A line for a serial that is not reserved cannot come from a
  // crash (lines after `committed` belong to uncommitted, hence reserved,
  // rows); it is treated as invalid so the file is cut there rather than
  // keeping output no row accounts for. So is a second line for one row.
  static bool accept_line(std::string_view line, std::span<const CertRecord> reserved,
                          const std::unordered_map<std::string, std::size_t>& by_serial,
                          Reconciled& r) {
    try {
      const auto j = nlohmann::json::parse(line);
      if (!j.is_object()) return false;
      const auto id = j.find("device_id");
      const auto serial = j.find("serial");
      const auto cert = j.find("cert");
      if (id == j.end() || serial == j.end() || cert == j.end() || !id->is_string() ||
          !serial->is_string() || !cert->is_string()) {
        return false;
      }
      const auto row = by_serial.find(lower(serial->get<std::string>()));
      if (row == by_serial.end() || r.delivered[row->second]) return false;
      const CertRecord& rec = reserved[row->second];
      if (id->get<std::string>() != rec.device_id) return false;
      auto der = matching_der(cert->get<std::string>(), rec);
      if (der.empty()) return false;
      const auto key = j.find("key");
      if (key != j.end() && (!key->is_string() || !key_pem_matches(key->get<std::string>(), rec))) {
        return false;
      }
      mark_delivered(r, row->second, std::move(der));
      return true;
    } catch (const nlohmann::json::exception&) {
      return false;
    }
  }

  stdfs::path m_file;
  Fd m_fd;
  std::uint64_t m_pos = 0;
};

class PemSink final : public SinkBase {
 public:
  using SinkBase::SinkBase;

  std::uint64_t deliver(std::span<const Delivery> chunk) override {
    for (const auto& d : chunk)
      refuse_collision(BatchFormat::pem, d.device_id);
    std::vector<stdfs::path> created;
    created.reserve(chunk.size());
    try {
      for (const auto& d : chunk) {
        const stdfs::path dev = m_dir / d.device_id;
        make_device_dir(dev);
        created.push_back(dev);
        if (!d.key_pem.empty()) write_file_unsynced(dev / "key.pem", d.key_pem, 0600, m_namer);
        write_file_unsynced(dev / "chain.pem", m_chain, 0644, m_namer);
        // Last: its presence marks a complete device (reconcile).
        write_file_unsynced(dev / "cert.pem", d.cert_pem, 0644, m_namer);
      }
      sync_chunk(m_dir);
    } catch (...) {
      std::error_code ec;
      for (const auto& p : created)
        stdfs::remove_all(p, ec);
      throw;
    }
    return 0;
  }

  Reconciled reconcile(std::uint64_t, std::span<const CertRecord> reserved) override {
    remove_temp_files(m_dir);
    Reconciled r = none_delivered(reserved.size());
    for (std::size_t i = 0; i < reserved.size(); ++i) {
      const CertRecord& row = reserved[i];
      if (row.device_id.empty()) continue;
      const stdfs::path dev = m_dir / row.device_id;
      if (auto der = complete_device_der(dev, row, m_device_keys); !der.empty()) {
        remove_temp_files(dev);
        mark_delivered(r, i, std::move(der));
      } else {
        // Only a directory can be a device's output (never follow a symlink out of DIR).
        if (is_real_directory(dev)) remove_all_checked(dev);
      }
    }
    sync_chunk(m_dir);  // the removals too: a resurrected partial directory would linger
    return r;
  }

  std::vector<std::string> files_for(const std::string& device_id) const override {
    std::vector<std::string> out{device_id + "/cert.pem", device_id + "/chain.pem"};
    // CSR-mode devices have no key.pem; the sink cannot know the mode after a restart.
    if (regular_file_exists(m_dir / device_id / "key.pem")) out.push_back(device_id + "/key.pem");
    return out;
  }

 private:
  // A directory left from an undelivered attempt holds nothing worth keeping
  // (reconcile removes those; this covers a caller that did not reconcile).
  static void make_device_dir(const stdfs::path& dev) {
    if (::mkdir(dev.c_str(), 0700) == 0) return;
    if (errno != EEXIST) throw io_error("cannot create directory", dev, errno);
    if (!is_real_directory(dev)) throw io_error("cannot create directory", dev, EEXIST);
    remove_all_checked(dev);
    if (::mkdir(dev.c_str(), 0700) != 0) throw io_error("cannot create directory", dev, errno);
  }

  // The DER of cert.pem when the directory is the row's complete output, empty otherwise.
  static std::vector<std::uint8_t> complete_device_der(const stdfs::path& dev,
                                                       const CertRecord& row, bool need_key) {
    if (!regular_file_exists(dev / "cert.pem") || !regular_file_exists(dev / "chain.pem") ||
        (need_key && !regular_file_exists(dev / "key.pem"))) {
      return {};
    }
    try {
      auto der = matching_der(fs::read_text(dev / "cert.pem", kMaxSmallFile), row);
      const stdfs::path key = dev / "key.pem";
      if (!der.empty() && regular_file_exists(key) &&
          !key_pem_matches(fs::read_text(key, kMaxSmallFile), row)) {
        return {};
      }
      return der;
    } catch (const Error&) {
      return {};  // unreadable or too large: not ours
    }
  }
};

class P12Sink final : public SinkBase {
 public:
  explicit P12Sink(const SinkOptions& opts)
      : SinkBase(opts), m_pass(opts.p12_passphrase.value_or("")) {
    if (m_chain.empty()) return;
    for (const auto& c : Certificate::from_pem_bundle(m_chain)) {
      // The stack owns a reference of its own (freed with sk_X509_pop_free).
      auto* x = static_cast<X509*>(c.native_handle());
      ossl::check(X509_up_ref(x), "X509_up_ref");
      ossl::X509Ptr ref(x);
      if (sk_X509_push(m_ca.get(), ref.get()) <= 0) ossl::fail(ErrorCode::crypto, "sk_X509_push");
      static_cast<void>(ref.release());
    }
  }

  std::uint64_t deliver(std::span<const Delivery> chunk) override {
    std::vector<stdfs::path> created;
    created.reserve(chunk.size());
    try {
      for (const auto& d : chunk) {
        if (d.key_pem.empty()) {
          throw Error(ErrorCode::internal,
                      "p12 output needs the device's private key (CSR mode cannot use it)");
        }
        const std::string der = build_p12(d, m_ca.get());
        const stdfs::path file = m_dir / (d.device_id + ".p12");
        write_file_unsynced(file, der, 0600, m_namer);
        created.push_back(file);
      }
      sync_chunk(m_dir);
    } catch (...) {
      for (const auto& p : created)
        ::unlink(p.c_str());
      throw;
    }
    return 0;
  }

  Reconciled reconcile(std::uint64_t, std::span<const CertRecord> reserved) override {
    remove_temp_files(m_dir);
    Reconciled r = none_delivered(reserved.size());
    for (std::size_t i = 0; i < reserved.size(); ++i) {
      const CertRecord& row = reserved[i];
      if (row.device_id.empty()) continue;
      const stdfs::path file = m_dir / (row.device_id + ".p12");
      if (auto der = matching_p12_der(file, row); !der.empty()) {
        mark_delivered(r, i, std::move(der));
      } else if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
        throw io_error("cannot remove", file, errno);
      }
    }
    sync_chunk(m_dir);
    return r;
  }

  std::vector<std::string> files_for(const std::string& device_id) const override {
    return {device_id + ".p12"};
  }

 private:
  std::string build_p12(const Delivery& d, STACK_OF(X509) * ca) const {
    const PrivateKey key = PrivateKey::from_pem(d.key_pem);
    const Certificate cert = Certificate::from_pem(d.cert_pem);
    // mac_iter -1: no MAC here; set below with SHA-256 explicitly.
    Pkcs12Ptr p12(PKCS12_create_ex(m_pass.c_str(), d.device_id.c_str(),
                                   static_cast<EVP_PKEY*>(key.native_handle()),
                                   static_cast<X509*>(cert.native_handle()), ca, NID_aes_256_cbc,
                                   NID_aes_256_cbc, PKCS12_DEFAULT_ITER, -1, 0, nullptr, nullptr));
    if (!p12) ossl::fail(ErrorCode::crypto, "PKCS12_create for " + d.device_id);
    ossl::check(PKCS12_set_mac(p12.get(), m_pass.c_str(), -1, nullptr, 0, PKCS12_DEFAULT_ITER,
                               EVP_sha256()),
                "PKCS12_set_mac");
    const auto der = ossl::to_der<PKCS12>(i2d_PKCS12, p12.get(), "encode PKCS#12");
    return std::string(der.begin(), der.end());
  }

  // The certificate's DER when `file` opens with the passphrase and holds the
  // row's certificate with its private key, empty otherwise.
  std::vector<std::uint8_t> matching_p12_der(const stdfs::path& file, const CertRecord& row) const {
    if (!regular_file_exists(file)) return {};
    try {
      const auto bytes = fs::read_file(file, kMaxSmallFile);
      const unsigned char* p = bytes.data();
      Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(bytes.size())));
      EVP_PKEY* raw_key = nullptr;
      X509* raw_cert = nullptr;
      STACK_OF(X509)* raw_ca = nullptr;
      const int ok =
          p12 ? PKCS12_parse(p12.get(), m_pass.c_str(), &raw_key, &raw_cert, &raw_ca) : 0;
      ossl::EvpPkeyPtr pkey(raw_key);
      ossl::X509Ptr x509(raw_cert);
      ossl::X509StackPtr ca(raw_ca);
      if (ok != 1 || !x509 || !pkey || X509_check_private_key(x509.get(), pkey.get()) != 1) {
        ossl::clear_errors();
        return {};
      }
      const Certificate cert = Certificate::adopt(x509.release());
      if (!cert_matches(cert, row)) return {};
      return cert.der();
    } catch (const Error&) {
      return {};
    }
  }

  std::string m_pass;
  ossl::X509StackPtr m_ca{ossl::check_ptr(sk_X509_new_null(), "sk_X509_new_null")};
};

// ---- finish -----------------------------------------------------------------

class FileHasher {
 public:
  FileHasher() : m_buf(kIoBuffer), m_ctx(EVP_MD_CTX_new()) {
    ossl::check_ptr(m_ctx.get(), "EVP_MD_CTX_new");
  }

  // Streaming: devices.jsonl may be larger than memory should hold.
  std::string sha256_hex(const stdfs::path& file) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw io_error("cannot open", file, errno);
    ossl::check(EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr), "EVP_DigestInit_ex");
    for (;;) {
      const ssize_t n = ::read(fd.get(), m_buf.data(), m_buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw io_error("cannot read", file, errno);
      }
      if (n == 0) break;
      ossl::check(EVP_DigestUpdate(m_ctx.get(), m_buf.data(), static_cast<std::size_t>(n)),
                  "EVP_DigestUpdate");
    }
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    ossl::check(EVP_DigestFinal_ex(m_ctx.get(), md.data(), &len), "EVP_DigestFinal_ex");
    return ossl::hex(std::span<const std::uint8_t>(md.data(), len));
  }

 private:
  std::vector<char> m_buf;
  ossl::EvpMdCtxPtr m_ctx;
};

std::string manifest_time(TimePoint t) {
  using namespace std::chrono;
  // Anything in year 9999 is the "no expiry" value (RFC 5280 4.1.2.5).
  if (year_month_day{floor<days>(t)}.year() >= year{9999}) return "9999-12-31T23:59:59Z";
  return format_time(t);
}

void append_sum(AtomicStream& sums, FileHasher& hasher, const stdfs::path& dir,
                const std::string& rel) {
  std::string line = hasher.sha256_hex(dir / rel);
  line += "  ";
  line += rel;
  line += '\n';
  sums.append(line);
}

std::unique_ptr<OutputSink> make_sink(const SinkOptions& opts) {
  switch (opts.format) {
    case BatchFormat::jsonl:
      return std::make_unique<JsonlSink>(opts);
    case BatchFormat::pem:
      return std::make_unique<PemSink>(opts);
    case BatchFormat::p12:
      return std::make_unique<P12Sink>(opts);
  }
  throw Error(ErrorCode::internal, "unknown batch format");
}

}  // namespace

bool collides_with_batch_files(BatchFormat f, std::string_view device_id) {
  // Only pem names DIR entries after the bare device id; .p12 names end in
  // ".p12", which no batch file does.
  if (f != BatchFormat::pem) return false;
  for (std::string_view name : {kDevicesFile, kChainFile, kManifestFile, kRejectsFile, kSumsFile}) {
    if (device_id == name) return true;
  }
  return false;
}

void check_new_output_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto st = stdfs::symlink_status(dir, ec);
  if (!stdfs::exists(st)) return;
  if (!stdfs::is_directory(st) || !stdfs::is_empty(dir, ec) || ec) {
    throw Error(ErrorCode::conflict, "output directory " + dir.string() + " is not empty");
  }
}

std::unique_ptr<OutputSink> open_sink(const SinkOptions& opts) {
  if (opts.format == BatchFormat::p12 && (!opts.p12_passphrase || opts.p12_passphrase->empty())) {
    throw Error(ErrorCode::invalid_input, "p12 output needs a passphrase");
  }
  // "out/" names the directory "out": without this, its parent_path() is
  // "out" itself, which would be created before mkdir("out/") found it.
  const stdfs::path dir = opts.dir.has_filename() ? opts.dir : opts.dir.parent_path();
  const stdfs::path chain = dir / kChainFile;
  std::error_code ec;
  const auto st = stdfs::symlink_status(dir, ec);
  const bool create = !opts.resume || (opts.create_missing && !stdfs::exists(st));
  if (create) {
    if (stdfs::exists(st)) {
      check_new_output_dir(dir);
    } else {
      if (dir.has_parent_path()) {
        stdfs::create_directories(dir.parent_path(), ec);
        if (ec)
          throw Error(ErrorCode::io,
                      "cannot create " + dir.parent_path().string() + ": " + ec.message());
      }
      if (::mkdir(dir.c_str(), 0700) != 0) throw io_error("cannot create directory", dir, errno);
      if (dir.has_parent_path()) fsync_directory(dir.parent_path());
    }
    fs::write_file_atomic(chain, opts.chain_pem, 0644, false);
  } else {
    if (!stdfs::is_directory(st)) {
      throw Error(ErrorCode::not_found, "output directory " + dir.string() + " does not exist");
    }
    if (regular_file_exists(chain)) {
      if (fs::read_text(chain, 16 * kMaxSmallFile) != opts.chain_pem) {
        throw Error(ErrorCode::conflict,
                    chain.string() + " differs from the issuing CA's chain of this batch");
      }
    } else {
      // Interrupted between creating DIR and writing its chain (which is atomic).
      fs::write_file_atomic(chain, opts.chain_pem, 0644, false);
    }
  }
  return make_sink(opts);
}

void finish_outputs(const OutputSink& sink, const std::filesystem::path& dir,
                    const std::function<void(const RowVisitor&)>& for_each_row,
                    std::span<const BatchReject> rejects) {
  const auto shared = sink.shared_files();
  FileHasher hasher;
  AtomicStream sums(dir / kSumsFile, 0644);
  AtomicStream manifest(dir / kManifestFile, 0644);

  std::string line;
  for_each_row([&](const CertRecord& row) {
    const auto files = sink.files_for(row.device_id);
    line.clear();
    line += "{\"device_id\":";
    append_json_string(line, row.device_id);
    line += ",\"serial\":";
    append_json_string(line, row.serial_hex);
    line += ",\"spki_sha256\":";
    append_json_string(line, row.spki_sha256);
    line += ",\"not_after\":\"";
    line += manifest_time(row.not_after);
    line += "\",\"files\":[";
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (i > 0) line += ',';
      append_json_string(line, files[i]);
    }
    line += "]}\n";
    manifest.append(line);
    for (const auto& f : files) {
      if (std::find(shared.begin(), shared.end(), f) == shared.end()) {
        append_sum(sums, hasher, dir, f);
      }
    }
  });
  manifest.commit();

  // Reasons are free text (CSR parse errors): nlohmann replaces invalid UTF-8.
  std::string rejects_text;
  for (const auto& r : rejects) {
    nlohmann::ordered_json j;
    j["index"] = r.index;
    j["device_id"] = r.device_id;
    j["reason"] = r.reason;
    rejects_text += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    rejects_text += '\n';
  }
  fs::write_file_atomic(dir / kRejectsFile, rejects_text, 0644, true);

  for (const auto& f : shared)
    append_sum(sums, hasher, dir, f);
  append_sum(sums, hasher, dir, std::string(kChainFile));
  append_sum(sums, hasher, dir, std::string(kManifestFile));
  append_sum(sums, hasher, dir, std::string(kRejectsFile));
  sums.commit();
}

}  // namespace pki::batch
