// The commands of zlayerctl: one spec (options, help) and one function each, in a
// file per group (cmd_images.cc, cmd_lifecycle.cc, ...).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/args.h"
#include "cli/client.h"

namespace zlayer::cli {

// What a command gets: its parsed arguments and the way to the agent.
class Context {
 public:
  Context(ParsedArgs args, std::string address)
      : args(std::move(args)), address_(std::move(address)) {}

  ParsedArgs args;
  // Connects on first use, so that --help and local errors never need an agent.
  Client& client() {
    if (!client_) client_ = std::make_unique<Client>(address_);
    return *client_;
  }

 private:
  std::string address_;
  std::unique_ptr<Client> client_;
};

// A command returns the process's exit code (0; or the container command's code for
// exec, wait and run), or a status that main prints as one line before exiting 1.
using CommandFn = std::function<absl::StatusOr<int>(Context&)>;

struct Command {
  CommandSpec spec;
  CommandFn run;
};

// Each group appends its commands.
void AddImageCommands(std::vector<Command>* out);
void AddLifecycleCommands(std::vector<Command>* out);
void AddQueryCommands(std::vector<Command>* out);
void AddStatsCommands(std::vector<Command>* out);
void AddIoCommands(std::vector<Command>* out);
void AddDeployCommands(std::vector<Command>* out);
void AddEventCommands(std::vector<Command>* out);
void AddTopCommands(std::vector<Command>* out);

// Every command, in the order `zlayerctl --help` lists them.
const std::vector<Command>& AllCommands();

// Runs zlayerctl with argv (without the program name); the process exit code.
int Main(const std::vector<std::string>& argv);

}  // namespace zlayer::cli
