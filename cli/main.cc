// zlayerctl: see cli/command.h and docs/cli.md.
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/signals.h"

int main(int argc, char** argv) {
  // First, before gRPC starts threads: they must inherit the blocked signal mask.
  zlayer::cli::SignalThread signals;
  return zlayer::cli::Main(std::vector<std::string>(argv + 1, argv + argc));
}
