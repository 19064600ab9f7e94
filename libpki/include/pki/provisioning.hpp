// Choosing a provisioning method (devpki-provision compare / assess / guide).
//
// The methods, their ratings and the assessment rules are data: a YAML file
// shipped with devpki (data/provisioning.yaml), so adding or re-rating a
// method is a data change. Its shape:
//
//   version: 1
//   dimensions:                      # the comparison's columns, in order
//     - {id: complexity, title: Complexity}
//   methods:
//     - id: ztp                      # [a-z0-9-]+, unique
//       name: Zero-Touch Provisioning (ZTP)
//       summary: one sentence
//       best_for: one sentence
//       ratings:                     # every dimension, each:
//         complexity: {score: 2, value: High, reason: one line}
//                                    # score 1 (worst for the device maker) .. 5 (best)
//       devpki:                      # the devpki commands that carry it out, in order
//         - devpki-mint --ca factory --profile device-idevid ...
//   assess:
//     weights: {complexity: 1, ...}  # every dimension, >= 0
//     adjust:                        # weights added when every condition holds
//       - when: {security: high}
//         weights: {security: 3}
//         because: one line
//     bonus:                         # points for one method when every condition holds
//       - when: {audience: consumer}   # may be negative
//         method: qr-app
//         points: 8
//         because: one line
//   guide:                           # the quick decision guide: the first rule that holds
//     - when: {audience: prototype}
//       recommend: [token-psk]
//       tradeoff: one or two sentences
//
// Conditions (`when`): audience, security, connectivity (a value or a list of
// values), secure_element, cloud_native (yes/no), scale_min, scale_max
// (inclusive). An empty `when` always holds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pki {

enum class Audience { consumer, enterprise, industrial, prototype };
enum class SecurityLevel { high, medium, low };
enum class Connectivity { always, intermittent };
std::string_view to_string(Audience a) noexcept;
std::string_view to_string(SecurityLevel s) noexcept;
std::string_view to_string(Connectivity c) noexcept;
// Error(invalid_input) "unknown audience 'x' (allowed: consumer, enterprise, ...)".
Audience parse_audience(std::string_view s);
SecurityLevel parse_security_level(std::string_view s);
Connectivity parse_connectivity(std::string_view s);
bool parse_yes_no(std::string_view s, std::string_view what);  // "yes"/"no"

struct Deployment {
  std::uint64_t scale = 0;  // devices
  SecurityLevel security = SecurityLevel::medium;
  Audience audience = Audience::enterprise;
  std::optional<Connectivity> connectivity;
  std::optional<bool> secure_element;
  std::optional<bool> cloud_native;
};

struct ProvisioningCondition {
  std::vector<Audience> audience;  // empty: any
  std::vector<SecurityLevel> security;
  std::vector<Connectivity> connectivity;
  std::optional<bool> secure_element;
  std::optional<bool> cloud_native;
  std::optional<std::uint64_t> scale_min;
  std::optional<std::uint64_t> scale_max;
  // A condition on an optional input that the deployment leaves unset does not hold.
  bool holds(const Deployment& d) const;
  std::string to_string() const;  // "audience consumer, scale >= 10000"
};

struct ProvisioningDimension {
  std::string id;
  std::string title;
};

struct ProvisioningRating {
  int score = 0;  // 1..5, 5 best for the device maker
  std::string value;
  std::string reason;
};

struct ProvisioningMethod {
  std::string id;
  std::string name;
  std::string summary;
  std::string best_for;
  std::map<std::string, ProvisioningRating> ratings;  // by dimension id
  std::vector<std::string> devpki;
};

struct WeightRule {
  ProvisioningCondition when;
  std::map<std::string, double> weights;  // added
  std::string because;
};

struct BonusRule {
  ProvisioningCondition when;
  std::string method;
  double points = 0;
  std::string because;
};

struct GuideRule {
  ProvisioningCondition when;
  std::vector<std::string> recommend;  // method ids
  std::string tradeoff;
};

struct ProvisioningData {
  std::string source;  // file name, for messages
  std::vector<ProvisioningDimension> dimensions;
  std::vector<ProvisioningMethod> methods;
  std::map<std::string, double> weights;
  std::vector<WeightRule> adjust;
  std::vector<BonusRule> bonus;
  std::vector<GuideRule> guide;
  const ProvisioningMethod* find(std::string_view id) const;
};

// Error(invalid_input) naming file, line and key ("data/provisioning.yaml:42:
// methods[2].ratings.security.score: 7 is not 1..5") for anything malformed:
// unknown or missing keys, a method without a rating for every dimension, an
// unknown method in a rule, a guide that does not end with a rule that always holds.
ProvisioningData parse_provisioning_data(std::string_view yaml_text, const std::string& source);
ProvisioningData load_provisioning_data(const std::filesystem::path& file);

struct MethodScore {
  const ProvisioningMethod* method = nullptr;
  double score = 0;
  // One sentence: what raised and lowered the score.
  std::string explanation;
  std::vector<std::string> bonuses;  // the bonus rules that applied ("+8: because")
};

struct Assessment {
  Deployment deployment;
  std::map<std::string, double> weights;  // after the adjustments
  std::vector<std::string> adjustments;   // the `because` of each weight rule applied
  std::vector<MethodScore> ranking;       // best first; ties by the data file's order
  const GuideRule* guide = nullptr;       // the decision guide's rule for this deployment
};

// score(method) = sum over dimensions of weight * rating score + bonuses.
Assessment assess(const ProvisioningData& data, const Deployment& d);

enum class TableFormat { table, markdown, csv, json };
TableFormat parse_table_format(std::string_view s);
// The all-methods comparison: one row per method, one column per dimension
// ("value (score/5)"), then "best for".
std::string compare_table(const ProvisioningData& data, TableFormat format);

}  // namespace pki
