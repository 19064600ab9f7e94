#include "core/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include <openssl/rand.h>

#include <array>
#include <cstdio>

#include "ossl/check.hpp"
#include "pki/error.hpp"
#include "pki/output.hpp"

namespace pki {

namespace {

using fs::io_error;
using fs::write_all;

Error exists_error(const std::filesystem::path& file) {
  return Error(ErrorCode::conflict, file.string() + " exists; use --force to replace it");
}

// Closes the descriptor and removes the temporary file unless released.
class TempFile {
 public:
  TempFile(std::filesystem::path path, int fd) : m_path(std::move(path)), m_fd(fd) {}
  ~TempFile() {
    if (m_fd >= 0) ::close(m_fd);
    if (!m_path.empty()) ::unlink(m_path.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return m_fd; }
  const std::filesystem::path& path() const { return m_path; }
  void close_checked() {
    const int fd = m_fd;
    m_fd = -1;
    if (::close(fd) != 0) throw io_error("cannot close", m_path, errno);
  }
  void release() { m_path.clear(); }

 private:
  std::filesystem::path m_path;
  int m_fd;
};

// Without RENAME_NOREPLACE a file created between an existence check and
// rename() would be silently replaced.
void publish(const std::filesystem::path& tmp, const std::filesystem::path& file, bool overwrite) {
  if (overwrite) {
    if (std::rename(tmp.c_str(), file.c_str()) != 0) throw io_error("cannot create", file, errno);
    return;
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, file.c_str(), RENAME_NOREPLACE) == 0) return;
  if (errno == EEXIST) throw exists_error(file);
  if (errno != EINVAL && errno != ENOSYS) throw io_error("cannot create", file, errno);
  // File systems without RENAME_NOREPLACE: link() refuses an existing target too.
  if (::link(tmp.c_str(), file.c_str()) != 0) {
    if (errno == EEXIST) throw exists_error(file);
    throw io_error("cannot create", file, errno);
  }
  ::unlink(tmp.c_str());
}

void fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw io_error("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw io_error("cannot fsync directory", dir, err);
}

}  // namespace

}  // namespace pki

namespace pki::fs {

Error io_error(const std::string& what, const std::filesystem::path& file, int err) {
  return Error(ErrorCode::io, what + " " + file.string() + ": " + std::strerror(err));
}

void write_all(int fd, std::string_view content, const std::filesystem::path& file) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error("cannot write", file, errno);
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
}

void write_file_atomic(const std::filesystem::path& file, std::string_view content, unsigned mode,
                       bool overwrite) {
  if (file.filename().empty()) {
    throw Error(ErrorCode::invalid_input, "'" + file.string() + "' is not a file name");
  }
  std::error_code ec;
  if (!overwrite && std::filesystem::exists(std::filesystem::symlink_status(file, ec))) {
    throw exists_error(file);  // early, before anything is written
  }
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";

  std::array<unsigned char, 8> rnd{};
  ossl::check(RAND_bytes(rnd.data(), rnd.size()), "RAND_bytes");
  std::string tmp_name = ".";
  tmp_name += file.filename().string();
  tmp_name += ".tmp-";
  tmp_name += ossl::hex(rnd);
  const std::filesystem::path tmp_path = dir / tmp_name;
  // O_EXCL: never write through a file (or symlink) someone placed there.
  const int fd =
      ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) throw io_error("cannot create", tmp_path, errno);
  TempFile tmp(tmp_path, fd);
  // The umask can only remove bits; this makes the mode exactly what was asked.
  if (::fchmod(tmp.fd(), mode) != 0) throw io_error("cannot chmod", tmp_path, errno);
  write_all(tmp.fd(), content, tmp_path);
  if (::fsync(tmp.fd()) != 0) throw io_error("cannot fsync", tmp_path, errno);
  tmp.close_checked();
  publish(tmp.path(), file, overwrite);
  tmp.release();
  fsync_directory(dir);
}

void check_writable(const std::filesystem::path& file, bool overwrite) {
  std::error_code ec;
  if (!overwrite && std::filesystem::exists(std::filesystem::symlink_status(file, ec))) {
    throw exists_error(file);
  }
  const auto dir = file.parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
    throw Error(ErrorCode::io, "output directory '" + dir.string() + "' does not exist");
  }
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& file, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::not_found,
                "cannot read '" + file.string() + "': " + std::strerror(errno));
  }
  std::vector<std::uint8_t> out;
  char buf[8192];
  while (in) {
    in.read(buf, sizeof buf);
    const auto n = static_cast<std::size_t>(in.gcount());
    if (out.size() + n > max_bytes) {
      throw Error(ErrorCode::invalid_input,
                  "'" + file.string() + "' is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

std::string read_text(const std::filesystem::path& file, std::size_t max_bytes) {
  const auto bytes = read_file(file, max_bytes);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace pki::fs

namespace pki {
void write_public_file(const std::filesystem::path& file, std::string_view content,
                       bool overwrite) {
  fs::write_file_atomic(file, content, 0644, overwrite);
}
}  // namespace pki
