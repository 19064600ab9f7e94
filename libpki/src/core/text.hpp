#pragma once

#include <string>
#include <string_view>

namespace pki {

// User input quoted in an error message, with control bytes shown as \xNN so
// that a newline cannot split the message or forge a log line.
std::string printable(std::string_view text);

}  // namespace pki
