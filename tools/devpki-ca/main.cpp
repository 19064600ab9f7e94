#include "common/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"devpki-ca: create and inspect the CA hierarchy, sign CSRs", "devpki-ca"};
  devpki::GlobalOptions g;
  devpki::add_home_option(app, g);
  app.require_subcommand(1);
  return devpki::run_main(app, argc, argv, [] { return devpki::Exit::ok; });
}
