// Crash-safe file output (DESIGN.md "deliver"): write to a temporary name in
// the same directory, fsync, rename, fsync the directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "pki/error.hpp"

namespace pki::fs {

// mode is applied at creation (0600 for secrets: no window where the file is
// readable by others). Refuses to replace `file` unless `overwrite`:
// Error(conflict) "<file> exists; use --force to replace it".
void write_file_atomic(const std::filesystem::path& file, std::string_view content, unsigned mode,
                       bool overwrite);

// Error(conflict) if `file` exists and !overwrite; Error(io) if its directory
// does not exist. Lets a caller refuse early, before any state changes.
void check_writable(const std::filesystem::path& file, bool overwrite);

std::vector<std::uint8_t> read_file(const std::filesystem::path& file, std::size_t max_bytes);
std::string read_text(const std::filesystem::path& file, std::size_t max_bytes);

// Error(io) "<what> <file>: <strerror(err)>".
Error io_error(const std::string& what, const std::filesystem::path& file, int err);
// write(2) until all of `content` is written (EINTR retried); Error(io) otherwise.
void write_all(int fd, std::string_view content, const std::filesystem::path& file);

}  // namespace pki::fs
