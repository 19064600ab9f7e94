// Strict input decoding shared by CSRs and certificates: exactly one PEM block
// or one DER object, and DER means DER.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

namespace pki::ossl {

// Walks the TLV structure of `der` and throws Error(invalid_input) "<what> is
// not DER: ..." for an indefinite length (BER), a non-minimal length, a
// constructed string type, a truncated object, nesting deeper than 32, or
// bytes after the outermost object.
void check_der_structure(std::span<const std::uint8_t> der, std::string_view what);

// If `data` looks like PEM, requires exactly one block whose label is one of
// `labels` and returns its decoded bytes; otherwise returns `data` as DER.
// Error(invalid_input) for no block, two blocks, a wrong label or bad base64.
std::vector<std::uint8_t> pem_or_der(std::span<const std::uint8_t> data,
                                     std::initializer_list<std::string_view> labels,
                                     std::string_view what);

}  // namespace pki::ossl
