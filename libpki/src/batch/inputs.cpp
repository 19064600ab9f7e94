#include "batch/inputs.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/fs.hpp"
#include "core/text.hpp"
#include "ossl/check.hpp"
#include "ossl/handles.hpp"
#include "pki/error.hpp"
#include "pki/issuance.hpp"

namespace pki::batch {

namespace fs = std::filesystem;

namespace {

// A CSR is at most CsrLimits::max_bytes; anything much larger is not one and
// is not read whole (the parse rejects it by size).
constexpr std::uintmax_t kMaxCsrFile = 64 * 1024;
// One CSV or JSONL line: an id, a few variables, or one PEM CSR.
constexpr std::size_t kMaxLine = 64 * 1024;

[[noreturn]] void input_error(const fs::path& file, std::uint64_t line, const std::string& what) {
  throw Error(ErrorCode::invalid_input,
              file.string() + (line ? ":" + std::to_string(line) : std::string()) + ": " + what);
}

std::ifstream open_input(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    throw Error(ErrorCode::not_found, "input " + file.string() + " is not a readable file");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, "cannot open " + file.string());
  return in;
}

// getline with a length cap and CRLF tolerance; false at EOF.
bool read_line(std::ifstream& in, std::string& line, const fs::path& file, std::uint64_t lineno) {
  if (!std::getline(in, line)) return false;
  if (line.size() > kMaxLine) input_error(file, lineno, "line longer than 64 KiB");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

class PatternSource final : public DeviceSource {
 public:
  PatternSource(IdPattern p, std::uint64_t start, std::uint64_t count)
      : m_pattern(std::move(p)), m_start(start), m_count(count) {}
  bool next(DeviceInput& d, bool) override {
    if (m_next >= m_count) return false;
    d = DeviceInput{};
    d.index = m_next;
    d.device_id = m_pattern.id(m_start + m_next);
    ++m_next;
    return true;
  }
  void rewind() override { m_next = 0; }

 private:
  IdPattern m_pattern;
  std::uint64_t m_start;
  std::uint64_t m_count;
  std::uint64_t m_next = 0;
};

// RFC 4180 fields of one line; quotes may not span lines.
std::vector<std::string> split_csv(const std::string& line, const fs::path& file,
                                   std::uint64_t lineno) {
  std::vector<std::string> out;
  std::string field;
  std::size_t i = 0;
  for (;;) {
    field.clear();
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) input_error(file, lineno, "unterminated quoted field");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
      if (i < line.size() && line[i] != ',') {
        input_error(file, lineno, "text after a closing quote");
      }
    } else {
      while (i < line.size() && line[i] != ',') {
        if (line[i] == '"') input_error(file, lineno, "quote inside an unquoted field");
        field += line[i++];
      }
    }
    out.push_back(field);
    if (i >= line.size()) break;
    ++i;  // the comma
  }
  return out;
}

bool valid_variable_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  if (!(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

class CsvSource final : public DeviceSource {
 public:
  explicit CsvSource(fs::path file) : m_file(std::move(file)) { rewind(); }

  void rewind() override {
    m_in = open_input(m_file);
    m_line = 0;
    m_next = 0;
    std::string header;
    for (;;) {
      if (!read_line(m_in, header, m_file, ++m_line)) {
        input_error(m_file, 0, "empty: expected a header row with a device_id column");
      }
      if (!header.empty()) break;
    }
    if (header.size() >= 3 && header.compare(0, 3, "\xEF\xBB\xBF") == 0) header.erase(0, 3);
    m_columns = split_csv(header, m_file, m_line);
    m_id_column = m_columns.size();
    std::set<std::string> seen;
    for (std::size_t i = 0; i < m_columns.size(); ++i) {
      const std::string& c = m_columns[i];
      if (!seen.insert(c).second) input_error(m_file, m_line, "column '" + c + "' appears twice");
      if (c == "device_id") {
        m_id_column = i;
        continue;
      }
      if (c == "ca" || c == "profile") {
        input_error(m_file, m_line,
                    "column '" + c + "' is reserved (devpki sets {" + c + "} itself)");
      }
      if (!valid_variable_name(c)) {
        input_error(
            m_file, m_line,
            "column '" + printable(c) + "' is not a variable name (lowercase letters, digits, _)");
      }
    }
    if (m_id_column == m_columns.size()) {
      input_error(m_file, m_line, "no device_id column in the header");
    }
  }

  bool next(DeviceInput& d, bool) override {
    std::string line;
    for (;;) {
      if (!read_line(m_in, line, m_file, ++m_line)) return false;
      if (!line.empty()) break;
    }
    auto fields = split_csv(line, m_file, m_line);
    if (fields.size() != m_columns.size()) {
      input_error(m_file, m_line,
                  "expected " + std::to_string(m_columns.size()) + " fields, found " +
                      std::to_string(fields.size()));
    }
    d = DeviceInput{};
    d.index = m_next++;
    d.device_id = fields[m_id_column];
    try {
      validate_device_id(d.device_id);
    } catch (const Error& e) {
      input_error(m_file, m_line, e.what());
    }
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i != m_id_column) d.variables.emplace_back(m_columns[i], std::move(fields[i]));
    }
    return true;
  }

 private:
  fs::path m_file;
  std::ifstream m_in;
  std::vector<std::string> m_columns;
  std::size_t m_id_column = 0;
  std::uint64_t m_line = 0;
  std::uint64_t m_next = 0;
};

bool is_csr_file(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".csr" || ext == ".pem" || ext == ".der";
}

std::vector<std::string> list_csr_dir(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && is_csr_file(it->path())) {
      names.push_back(it->path().filename().string());
    }
  }
  if (ec) throw Error(ErrorCode::io, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

class CsrDirSource final : public DeviceSource {
 public:
  explicit CsrDirSource(fs::path dir) : m_dir(std::move(dir)), m_names(list_csr_dir(m_dir)) {
    if (m_names.empty()) {
      throw Error(ErrorCode::invalid_input,
                  "no CSR files (*.csr, *.pem, *.der) in " + m_dir.string());
    }
  }
  bool next(DeviceInput& d, bool payload) override {
    if (m_next >= m_names.size()) return false;
    const std::string& name = m_names[m_next];
    d = DeviceInput{};
    d.index = m_next++;
    d.device_id = fs::path(name).stem().string();
    try {
      validate_device_id(d.device_id);
    } catch (const Error& e) {
      input_error(m_dir / name, 0, std::string("file name gives ") + e.what());
    }
    if (payload) {
      try {
        d.csr = pki::fs::read_file(m_dir / name, kMaxCsrFile);
      } catch (const Error& e) {
        d.csr_error = e.what();
      }
    }
    return true;
  }
  void rewind() override { m_next = 0; }

 private:
  fs::path m_dir;
  std::vector<std::string> m_names;
  std::size_t m_next = 0;
};

class CsrJsonlSource final : public DeviceSource {
 public:
  explicit CsrJsonlSource(fs::path file) : m_file(std::move(file)) { rewind(); }
  void rewind() override {
    m_in = open_input(m_file);
    m_line = 0;
    m_next = 0;
  }
  bool next(DeviceInput& d, bool payload) override {
    std::string line;
    for (;;) {
      if (!read_line(m_in, line, m_file, ++m_line)) return false;
      if (!line.empty()) break;
    }
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) input_error(m_file, m_line, "not a JSON object");
    const auto id = j.find("device_id");
    const auto csr = j.find("csr");
    if (id == j.end() || !id->is_string()) {
      input_error(m_file, m_line, "no \"device_id\" string");
    }
    if (csr == j.end() || !csr->is_string()) input_error(m_file, m_line, "no \"csr\" string");
    d = DeviceInput{};
    d.index = m_next++;
    d.device_id = id->get<std::string>();
    try {
      validate_device_id(d.device_id);
    } catch (const Error& e) {
      input_error(m_file, m_line, e.what());
    }
    if (payload) {
      const auto& text = csr->get_ref<const std::string&>();
      d.csr.assign(text.begin(), text.end());
    }
    return true;
  }

 private:
  fs::path m_file;
  std::ifstream m_in;
  std::uint64_t m_line = 0;
  std::uint64_t m_next = 0;
};

void digest_update(EVP_MD_CTX* ctx, std::string_view s) {
  ossl::check(EVP_DigestUpdate(ctx, s.data(), s.size()), "EVP_DigestUpdate");
}

}  // namespace

IdPattern IdPattern::parse(const std::string& pattern) {
  const auto open = pattern.find("{seq");
  if (open == std::string::npos) {
    throw Error(ErrorCode::invalid_input,
                "id pattern '" + printable(pattern) +
                    "' has no {seq}: each device needs its own id, e.g. 'ACME-{seq:08}'");
  }
  const auto close = pattern.find('}', open);
  if (close == std::string::npos) {
    throw Error(ErrorCode::invalid_input, "id pattern '" + printable(pattern) + "': unclosed {");
  }
  const std::string spec = pattern.substr(open + 4, close - open - 4);
  IdPattern p;
  if (!spec.empty()) {
    // ":0N" zero-pads to N digits.
    const bool ok = spec.size() >= 3 && spec.size() <= 4 && spec[0] == ':' && spec[1] == '0' &&
                    std::all_of(spec.begin() + 2, spec.end(),
                                [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (!ok) {
      throw Error(ErrorCode::invalid_input, "id pattern '" + printable(pattern) +
                                                "': use {seq} or {seq:0N} (N digits, zero-padded)");
    }
    p.width = static_cast<unsigned>(std::stoul(spec.substr(2)));
    if (p.width == 0 || p.width > 20) {
      throw Error(ErrorCode::invalid_input,
                  "id pattern '" + printable(pattern) + "': width must be 1 to 20");
    }
  }
  p.prefix = pattern.substr(0, open);
  p.suffix = pattern.substr(close + 1);
  if (p.prefix.find('{') != std::string::npos || p.suffix.find('{') != std::string::npos ||
      p.prefix.find('}') != std::string::npos || p.suffix.find('}') != std::string::npos) {
    throw Error(ErrorCode::invalid_input, "id pattern '" + printable(pattern) +
                                              "': only one {seq} is allowed, and no other braces");
  }
  return p;
}

std::string IdPattern::id(std::uint64_t seq) const {
  std::string digits = std::to_string(seq);
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return prefix + digits + suffix;
}

std::unique_ptr<DeviceSource> pattern_source(const IdPattern& p, std::uint64_t start,
                                             std::uint64_t count) {
  if (count == 0) throw Error(ErrorCode::invalid_input, "--count must be at least 1");
  if (start > UINT64_MAX - count)
    throw Error(ErrorCode::invalid_input, "--start + --count overflows");
  // The first and last ids bound every other: same characters, lengths between.
  for (const std::uint64_t seq : {start, start + count - 1}) {
    try {
      validate_device_id(p.id(seq));
    } catch (const Error& e) {
      throw Error(ErrorCode::invalid_input, std::string("id pattern makes an ") + e.what());
    }
  }
  return std::make_unique<PatternSource>(p, start, count);
}

std::unique_ptr<DeviceSource> csv_source(const fs::path& file) {
  return std::make_unique<CsvSource>(file);
}

std::unique_ptr<DeviceSource> csr_source(const fs::path& input) {
  std::error_code ec;
  if (fs::is_directory(input, ec)) return std::make_unique<CsrDirSource>(input);
  if (input.extension() != ".jsonl") {
    throw Error(
        ErrorCode::invalid_input,
        "--csrs " + input.string() + ": expected a directory of CSR files or a .jsonl file");
  }
  return std::make_unique<CsrJsonlSource>(input);
}

std::map<std::string, CsrEntry> read_csrs_by_device(const fs::path& input) {
  std::map<std::string, CsrEntry> out;
  auto src = csr_source(input);
  DeviceInput d;
  while (src->next(d, true)) {
    auto [it, fresh] = out.try_emplace(d.device_id);
    if (!fresh) {
      throw Error(ErrorCode::invalid_input, "device id " + d.device_id + " has two CSRs in " +
                                                input.string() + " (second at position " +
                                                std::to_string(d.index + 1) + ")");
    }
    it->second.csr = std::move(d.csr);
    it->second.error = std::move(d.csr_error);
  }
  return out;
}

namespace {

class RenewalSource final : public DeviceSource {
 public:
  RenewalSource(const std::vector<RenewalItemRecord>& items, std::map<std::string, CsrEntry> csrs)
      : m_items(items), m_csrs(std::move(csrs)) {}

  bool next(DeviceInput& d, bool payload) override {
    if (m_pos >= m_items.size()) return false;
    const RenewalItemRecord& item = m_items[m_pos++];
    d = DeviceInput{};
    d.index = item.index;
    d.device_id = item.device_id;
    d.renew_issuer = item.old_issuer;
    d.renew_serial = item.old_serial;
    d.refusal = item.refusal;
    if (payload) {
      if (const auto it = m_csrs.find(item.device_id); it != m_csrs.end()) {
        d.csr = it->second.csr;
        d.csr_error = it->second.error;
      }
    }
    return true;
  }
  void rewind() override { m_pos = 0; }

 private:
  const std::vector<RenewalItemRecord>& m_items;
  std::map<std::string, CsrEntry> m_csrs;
  std::size_t m_pos = 0;
};

}  // namespace

std::unique_ptr<DeviceSource> renewal_source(const std::vector<RenewalItemRecord>& items,
                                             std::map<std::string, CsrEntry> csrs) {
  return std::make_unique<RenewalSource>(items, std::move(csrs));
}

std::string input_fingerprint(BatchSource source, const fs::path& input) {
  ossl::EvpMdCtxPtr ctx(ossl::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
  ossl::check(EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr), "EVP_DigestInit_ex");
  std::error_code ec;
  if (source == BatchSource::count) return {};
  if (source == BatchSource::renewal && input.empty()) return {};
  if ((source == BatchSource::csrs || source == BatchSource::renewal) &&
      fs::is_directory(input, ec)) {
    for (const auto& name : list_csr_dir(input)) {
      const auto size = fs::file_size(input / name, ec);
      digest_update(ctx.get(), name + '\0' + std::to_string(ec ? 0 : size) + '\n');
    }
  } else {
    std::ifstream in = open_input(input);
    std::vector<char> buf(1 << 16);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      digest_update(ctx.get(), std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
    }
  }
  std::vector<std::uint8_t> md(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  ossl::check(EVP_DigestFinal_ex(ctx.get(), md.data(), &len), "EVP_DigestFinal_ex");
  md.resize(len);
  return ossl::hex(md);
}

}  // namespace pki::batch
