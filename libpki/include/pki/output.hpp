// Writing results the crash-safe way (temporary name, fsync, rename), never
// replacing an existing file unless asked. Secrets: write_secret_file in key.hpp.
#pragma once

#include <filesystem>
#include <string_view>

namespace pki {

// Mode 0644. Error(conflict) "<file> exists; use --force to replace it" unless
// `overwrite`; Error(io) if the directory does not exist.
void write_public_file(const std::filesystem::path& file, std::string_view content, bool overwrite);

}  // namespace pki
