// What the profile module's files share and nothing outside libpki/src/profile
// needs: the validator's findings with their key paths (so parse_profile can
// point at a line), template syntax checks, and name tables.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki/findings.hpp"
#include "pki/profile.hpp"

namespace pki::profile_detail {

// "required", "allowed", "forbidden". Throws Error(invalid_input) naming them.
Rekey parse_rekey(std::string_view name);
std::string allowed_rekey_names();
std::string allowed_san_type_names();
std::string allowed_key_usage_names();

// A validate_profile finding plus where in the YAML it belongs. `key` is the
// key path shown to people ("san.allow[0].pattern"); `fallback` is another path
// to take the line number from when `key` itself is absent from the YAML (a
// missing key_usage is best pointed at by basic_constraints.ca).
struct Issue {
  Severity severity = Severity::error;
  std::string id;
  std::string key;
  std::string message;
  std::string fallback;
};

std::vector<Issue> check_profile(const ProfileSpec& spec);

// Why a URL template (or an expanded URL) is not an http://, https:// or
// ldap:// URL with a host, or nullopt.
std::optional<std::string> url_problem(std::string_view templ);

// Why `templ` is not a well-formed template, or nullopt. Same grammar as
// expand_template, without needing the variables' values.
std::optional<std::string> template_syntax_error(std::string_view templ);
// The variable names of `templ`, in order (those of a malformed template up
// to the first error).
std::vector<std::string> template_variables(std::string_view templ);
// `templ` with every {variable} replaced by `placeholder` ("{{"/"}}" by the
// brace), for checking the shape of values that are only known at issuance.
std::string expand_with_placeholder(std::string_view templ, std::string_view placeholder);

// Subject attribute short names a profile may use (name.hpp's DistinguishedName
// knows these too).
const std::vector<std::string_view>& subject_attribute_names();
// extendedKeyUsage names a profile may use instead of an OID.
const std::vector<std::string_view>& extended_key_usage_names();
// "1.2.840.10045.4.3.2": at least two arcs, first 0..2, second < 40 under 0 and 1.
bool is_dotted_oid(std::string_view text);

std::string join(const std::vector<std::string_view>& items, std::string_view sep = ", ");

}  // namespace pki::profile_detail
