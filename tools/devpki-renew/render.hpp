// devpki-renew's JSON: the plan and the dry-run preview
// (docs/devpki-renew.md "JSON output").
#pragma once

#include <string>

#include "pki/renewal.hpp"

namespace devpki::renew {

std::string plan_json(const pki::RenewalPlan& plan);
std::string preview_json(const pki::RenewPreview& pv);

}  // namespace devpki::renew
