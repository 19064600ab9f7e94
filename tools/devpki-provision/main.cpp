// devpki-provision: choosing a provisioning method and carrying it out.
// compare (the table of every method), assess (score and rank them for a
// deployment), guide (the quick decision guide, asking on a terminal): the
// methods and rules are the data file's (data/provisioning.yaml). enroll,
// jitp, qr and token carry the methods out (commands.hpp). See
// docs/provisioning.md.
#include <unistd.h>

#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/batch_render.hpp"
#include "common/cli.hpp"
#include "devpki-provision/commands.hpp"
#include "pki/error.hpp"
#include "pki/provisioning.hpp"

namespace devpki::provision {
namespace {

struct Common {
  std::string data;  // --data FILE
};

pki::ProvisioningData load(const Common& c) {
  return pki::load_provisioning_data(shipped_data_file(c.data, "provisioning.yaml"));
}

// The answers that describe a deployment, as flags (assess, guide).
struct Answers {
  std::string scale;
  std::string security;
  std::string audience;
  std::string connectivity;
  std::string secure_element;
  std::string cloud_native;
};

void add_answer_options(CLI::App& cmd, Answers& a, bool required) {
  auto* scale = cmd.add_option("--scale", a.scale, "how many devices (e.g. 50000)")->type_name("N");
  auto* sec = cmd.add_option("--security", a.security, "security need: high, medium or low")
                  ->type_name("LEVEL");
  auto* aud = cmd.add_option("--audience", a.audience,
                             "who sets the devices up: consumer, enterprise, industrial or "
                             "prototype")
                  ->type_name("AUDIENCE");
  if (required) {
    scale->required();
    sec->required();
    aud->required();
  }
  cmd.add_option("--connectivity", a.connectivity,
                 "the devices' network: always (on-line) or intermittent")
      ->type_name("always|intermittent");
  cmd.add_option("--secure-element", a.secure_element,
                 "the devices have a secure element / TPM: yes or no")
      ->type_name("yes|no");
  cmd.add_option("--cloud-native", a.cloud_native,
                 "the fleet lives on a cloud IoT platform (AWS IoT, Azure DPS, ...): yes or no")
      ->type_name("yes|no");
}

pki::Deployment to_deployment(const Answers& a) {
  pki::Deployment d;
  std::size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(a.scale, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (a.scale.empty() || used != a.scale.size() || a.scale[0] == '-' || n == 0) {
    throw pki::Error(pki::ErrorCode::invalid_input,
                     "--scale '" + a.scale + "' is not a number of devices (1 or more)");
  }
  d.scale = n;
  d.security = pki::parse_security_level(a.security);
  d.audience = pki::parse_audience(a.audience);
  if (!a.connectivity.empty()) d.connectivity = pki::parse_connectivity(a.connectivity);
  if (!a.secure_element.empty())
    d.secure_element = pki::parse_yes_no(a.secure_element, "--secure-element");
  if (!a.cloud_native.empty()) d.cloud_native = pki::parse_yes_no(a.cloud_native, "--cloud-native");
  return d;
}

std::string describe(const pki::Deployment& d) {
  std::string s = format_count(d.scale) + " devices, audience " +
                  std::string(pki::to_string(d.audience)) + ", security " +
                  std::string(pki::to_string(d.security));
  if (d.connectivity) s += ", connectivity " + std::string(pki::to_string(*d.connectivity));
  if (d.secure_element) s += *d.secure_element ? ", a secure element" : ", no secure element";
  if (d.cloud_native) s += *d.cloud_native ? ", cloud-native" : ", not cloud-native";
  return s;
}

std::string score_text(double v) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1) << v;
  return o.str();
}

std::string method_list(const pki::ProvisioningData& data, const std::vector<std::string>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) s += i + 1 == ids.size() ? " or " : ", ";
    s += data.find(ids[i])->name;
  }
  return s;
}

nlohmann::json assessment_json(const pki::Assessment& a) {
  nlohmann::json j;
  const auto& d = a.deployment;
  j["deployment"] = {{"scale", d.scale},
                     {"security", std::string(pki::to_string(d.security))},
                     {"audience", std::string(pki::to_string(d.audience))}};
  if (d.connectivity)
    j["deployment"]["connectivity"] = std::string(pki::to_string(*d.connectivity));
  if (d.secure_element) j["deployment"]["secure_element"] = *d.secure_element;
  if (d.cloud_native) j["deployment"]["cloud_native"] = *d.cloud_native;
  j["weights"] = a.weights;
  j["adjustments"] = a.adjustments;
  j["ranking"] = nlohmann::json::array();
  for (std::size_t i = 0; i < a.ranking.size(); ++i) {
    const auto& s = a.ranking[i];
    j["ranking"].push_back({{"rank", i + 1},
                            {"id", s.method->id},
                            {"name", s.method->name},
                            {"score", std::round(s.score * 10) / 10},
                            {"explanation", s.explanation},
                            {"bonuses", s.bonuses}});
  }
  const auto* top = a.ranking.front().method;
  j["top"] = {{"id", top->id}, {"name", top->name}, {"devpki", top->devpki}};
  if (a.guide) {
    j["guide"] = {{"when", a.guide->when.to_string()},
                  {"recommend", a.guide->recommend},
                  {"tradeoff", a.guide->tradeoff}};
  }
  return j;
}

void print_assessment(const pki::ProvisioningData& data, const pki::Assessment& a,
                      std::size_t show) {
  std::cout << "deployment: " << describe(a.deployment) << "\n";
  std::cout << "weights:";
  for (const auto& dim : data.dimensions)
    std::cout << " " << dim.title << " " << score_text(a.weights.at(dim.id));
  std::cout << "\n";
  for (const auto& because : a.adjustments)
    std::cout << "  because " << because << "\n";
  std::cout << "\nranking:\n";
  for (std::size_t i = 0; i < a.ranking.size() && i < show; ++i) {
    const auto& s = a.ranking[i];
    std::cout << std::setw(3) << i + 1 << ". " << std::left << std::setw(38) << s.method->name
              << std::right << std::setw(6) << score_text(s.score) << "\n"
              << "     " << s.explanation << "\n";
    for (const auto& b : s.bonuses)
      std::cout << "     " << b << "\n";
  }
  const auto* top = a.ranking.front().method;
  std::cout << "\ntop choice: " << top->name << ". " << top->summary << "\nwith devpki:\n";
  for (const auto& c : top->devpki)
    std::cout << "  " << c << "\n";
  if (a.guide) {
    std::cout << "\ndecision guide (" << a.guide->when.to_string()
              << "): " << method_list(data, a.guide->recommend) << ". " << a.guide->tradeoff
              << "\n";
  }
}

// ---- compare ------------------------------------------------------------------------

struct CompareOptions {
  std::string format = "table";
};

Command add_compare(CLI::App& app, const GlobalOptions& g, const Common& c) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Print the comparison of every provisioning method: complexity, security, user "
      "friction, scalability, cost per device, secure hardware, connectivity, lifecycle.");
  cmd->add_option("--format", o->format, "table, markdown, csv or json (--json = json)")
      ->type_name("FORMAT")
      ->capture_default_str();
  return {cmd, [o, &g, &c] {
            const auto format = pki::parse_table_format(g.json ? "json" : o->format);
            const auto data = load(c);
            std::cout << pki::compare_table(data, format);
            return Exit::ok;
          }};
}

// ---- assess -------------------------------------------------------------------------

Command add_assess(CLI::App& app, const GlobalOptions& g, const Common& c) {
  auto a = std::make_shared<Answers>();
  CLI::App* cmd = app.add_subcommand(
      "assess",
      "Score and rank every method for the deployment described, explain each score in a "
      "sentence, and list the devpki commands that carry out the top choice.");
  add_answer_options(*cmd, *a, true);
  return {cmd, [a, &g, &c] {
            const pki::Deployment d = to_deployment(*a);
            const auto data = load(c);
            const pki::Assessment as = pki::assess(data, d);
            if (g.json) {
              std::cout << assessment_json(as).dump(2) << "\n";
            } else {
              print_assessment(data, as, as.ranking.size());
            }
            return Exit::ok;
          }};
}

// ---- guide --------------------------------------------------------------------------

// Asks on the terminal until the answer is one of `choices` (or, with no
// choices, a number of devices).
std::string ask(const std::string& question, const std::vector<std::string>& choices,
                const std::function<void(const std::string&)>& check) {
  for (;;) {
    std::cerr << question;
    if (!choices.empty()) {
      std::cerr << " [";
      for (std::size_t i = 0; i < choices.size(); ++i)
        std::cerr << (i ? "/" : "") << choices[i];
      std::cerr << "]";
    }
    std::cerr << ": " << std::flush;
    std::string line;
    if (!std::getline(std::cin, line)) {
      throw pki::Error(pki::ErrorCode::invalid_input, "no answer (end of input)");
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r'))
      line.pop_back();
    while (!line.empty() && line.front() == ' ')
      line.erase(line.begin());
    try {
      check(line);
      return line;
    } catch (const pki::Error& e) {
      std::cerr << "  " << e.what() << "\n";
    }
  }
}

Command add_guide(CLI::App& app, const GlobalOptions& g, const Common& c) {
  auto a = std::make_shared<Answers>();
  CLI::App* cmd = app.add_subcommand(
      "guide",
      "Walk the quick decision guide: asks who sets the devices up, how many, how secure, "
      "and the rest on a terminal (the same answers as flags work without one), then gives "
      "the recommendation, the trade-offs it weighed and the devpki commands.");
  add_answer_options(*cmd, *a, false);
  return {
      cmd, [a, &g, &c] {
        const auto data = load(c);  // a bad data file is reported before any question
        const bool tty = isatty(STDIN_FILENO) == 1 && isatty(STDERR_FILENO) == 1;
        if (!tty) {
          std::string missing;
          if (a->audience.empty()) missing += " --audience";
          if (a->scale.empty()) missing += " --scale";
          if (a->security.empty()) missing += " --security";
          if (!missing.empty()) {
            std::cerr << "devpki-provision: error: without a terminal to ask on, give the "
                         "answers as flags; missing:"
                      << missing << " (see devpki-provision guide --help)\n";
            return Exit::usage;
          }
        } else {
          const auto check_yes_no = [](const std::string& s) { pki::parse_yes_no(s, "answer"); };
          if (a->audience.empty()) {
            a->audience = ask("Who sets the devices up?",
                              {"consumer", "enterprise", "industrial", "prototype"},
                              [](const std::string& s) { pki::parse_audience(s); });
          }
          if (a->scale.empty()) {
            a->scale = ask("How many devices?", {}, [](const std::string& s) {
              Answers probe;
              probe.scale = s;
              probe.security = "medium";
              probe.audience = "enterprise";
              to_deployment(probe);
            });
          }
          if (a->security.empty()) {
            a->security = ask("How much security do they need?", {"high", "medium", "low"},
                              [](const std::string& s) { pki::parse_security_level(s); });
          }
          if (a->connectivity.empty()) {
            a->connectivity = ask("Are they always on-line?", {"always", "intermittent"},
                                  [](const std::string& s) { pki::parse_connectivity(s); });
          }
          if (a->secure_element.empty()) {
            a->secure_element =
                ask("Do they have a secure element or TPM?", {"yes", "no"}, check_yes_no);
          }
          if (a->cloud_native.empty()) {
            a->cloud_native =
                ask("Does the fleet live on a cloud IoT platform?", {"yes", "no"}, check_yes_no);
          }
        }
        const pki::Deployment d = to_deployment(*a);
        const pki::Assessment as = pki::assess(data, d);
        if (g.json) {
          std::cout << assessment_json(as).dump(2) << "\n";
          return Exit::ok;
        }
        const auto& rule = *as.guide;
        std::cout << "For " << describe(d) << ":\n\n"
                  << "Recommended: " << method_list(data, rule.recommend) << "\n"
                  << "  (decision guide: " << rule.when.to_string() << ")\n"
                  << "Trade-offs: " << rule.tradeoff << "\n\n";
        const auto* first = data.find(rule.recommend.front());
        std::cout << "With devpki (" << first->name << "):\n";
        for (const auto& cmdline : first->devpki)
          std::cout << "  " << cmdline << "\n";
        std::cout << "\nHow the methods score for this deployment (devpki-provision assess):\n";
        for (std::size_t i = 0; i < as.ranking.size() && i < 3; ++i) {
          std::cout << "  " << i + 1 << ". " << as.ranking[i].explanation << "\n";
        }
        return Exit::ok;
      }};
}

}  // namespace
}  // namespace devpki::provision

int main(int argc, char** argv) {
  CLI::App app{
      "devpki-provision: choose how devices get their identity, and carry the method out.\n\n"
      "Choosing:\n"
      "  devpki-provision compare [--format table|markdown|csv|json]\n"
      "  devpki-provision assess --scale N --security high|medium|low\n"
      "                          --audience consumer|enterprise|industrial|prototype\n"
      "                          [--connectivity always|intermittent] [--secure-element yes|no]\n"
      "                          [--cloud-native yes|no]\n"
      "  devpki-provision guide  [the same answers as flags; asked on a terminal]\n"
      "Carrying out:\n"
      "  devpki-provision enroll --bootstrap idevid.pem --csr ldevid.csr --proof proof.sig\n"
      "                          --ca NAME [--profile device-ldevid] --out cert.pem\n"
      "  devpki-provision jitp   --template fleet.yaml --cert device.pem [--dry-run]\n"
      "  devpki-provision qr     --device ID --out label.png | --manifest manifest.jsonl --out "
      "DIR\n"
      "                          | --parse PAYLOAD\n"
      "  devpki-provision token  issue --device ID [--ttl 24h] | redeem --token T --csr F --out F\n"
      "                          | list | revoke --device ID\n"
      "with [--home DIR] [--data FILE] [--json] anywhere.",
      "devpki-provision"};
  app.footer(
      "The methods, their ratings (each with a one-line reason) and the assessment's weights\n"
      "and rules are data: data/provisioning.yaml, installed as\n"
      "share/devpki/provisioning.yaml; --data FILE or $DEVPKI_DATA/provisioning.yaml uses\n"
      "another. assess: score = sum over dimensions of weight x rating (1..5) + the bonus\n"
      "rules that hold for the deployment.\n"
      "enroll, jitp, qr and token work on a PKI home (--home, $DEVPKI_HOME, or ./pki).\n"
      "Exit codes: 0 success, 1 usage, 2 failure: bad input, a refusal (its reason on stderr)\n"
      "or a malformed data file (file:line: key).\n"
      "Docs: docs/provisioning.md");
  devpki::GlobalOptions g;
  devpki::add_global_options(app, g);
  devpki::provision::Common c;
  app.add_option("--data", c.data,
                 "the provisioning data file (default: the one shipped with devpki)")
      ->type_name("FILE");
  app.fallthrough();
  app.require_subcommand(1);
  const std::vector<devpki::Command> commands = {
      devpki::provision::add_compare(app, g, c), devpki::provision::add_assess(app, g, c),
      devpki::provision::add_guide(app, g, c),   devpki::provision::add_enroll(app, g),
      devpki::provision::add_jitp(app, g),       devpki::provision::add_qr(app, g),
      devpki::provision::add_token(app, g),
  };
  return devpki::run_main(app, argc, argv, [&] { return devpki::dispatch(commands); });
}
