// Secrets reach the disk through a file that is 0600 from its creation (no
// window where another user can open it); core/fs.cpp does the crash-safe part.
#include "core/fs.hpp"
#include "pki/key.hpp"

namespace pki {

void write_secret_file(const std::filesystem::path& file, std::string_view content,
                       bool overwrite) {
  fs::write_file_atomic(file, content, 0600, overwrite);
}

}  // namespace pki
