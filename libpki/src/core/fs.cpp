#include "core/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "pki/error.hpp"
#include "pki/output.hpp"

namespace pki::fs {

namespace {

Error io_error(const std::string& what, const std::filesystem::path& p) {
  return Error(ErrorCode::io, what + " '" + p.string() + "': " + std::strerror(errno));
}

void fsync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw io_error("cannot open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw io_error("cannot fsync directory", dir);
}

}  // namespace

void check_writable(const std::filesystem::path& file, bool overwrite) {
  std::error_code ec;
  if (!overwrite && std::filesystem::exists(std::filesystem::symlink_status(file, ec))) {
    throw Error(ErrorCode::conflict, "'" + file.string() + "' exists; use --force to replace it");
  }
  const auto dir = file.parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
    throw Error(ErrorCode::io, "output directory '" + dir.string() + "' does not exist");
  }
}

void write_file_atomic(const std::filesystem::path& file, std::string_view content, unsigned mode,
                       bool overwrite) {
  check_writable(file, overwrite);
  const auto dir = file.parent_path();
  std::random_device rd;
  const std::filesystem::path tmp =
      dir / ("." + file.filename().string() + ".tmp" + std::to_string(rd()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw io_error("cannot create", tmp);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const Error e = io_error("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw e;
    }
    done += static_cast<std::size_t>(n);
  }
  // The umask may have narrowed the mode; it must not have widened it, but a
  // secret's mode is set explicitly so that it is exactly what was asked.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    const Error e = io_error("cannot sync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    throw e;
  }
  ::close(fd);
  // Without overwrite, link() fails if the target appeared meanwhile: never
  // replace a file someone else just wrote.
  const int rc = overwrite ? ::rename(tmp.c_str(), file.c_str()) : ::link(tmp.c_str(), file.c_str());
  if (rc != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    if (saved == EEXIST) {
      throw Error(ErrorCode::conflict, "'" + file.string() + "' exists; use --force to replace it");
    }
    throw io_error("cannot create", file);
  }
  if (!overwrite) ::unlink(tmp.c_str());
  fsync_dir(dir);
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& file, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::not_found, "cannot read '" + file.string() + "': " + std::strerror(errno));
  }
  std::vector<std::uint8_t> out;
  char buf[8192];
  while (in) {
    in.read(buf, sizeof buf);
    const auto n = static_cast<std::size_t>(in.gcount());
    if (out.size() + n > max_bytes) {
      throw Error(ErrorCode::invalid_input, "'" + file.string() + "' is larger than " +
                                                std::to_string(max_bytes) + " bytes");
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
void write_public_file(const std::filesystem::path& file, std::string_view content, bool overwrite) {
  fs::write_file_atomic(file, content, 0644, overwrite);
}
}  // namespace pki
