// zlayerctl's entry: global options, the command table, help and exit codes.
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "cli/format.h"
#include "deploy/values.h"

#ifndef ZLAYERCTL_VERSION
#define ZLAYERCTL_VERSION "dev"
#endif

namespace zlayer::cli {
namespace {

struct Group {
  const char* title;
  std::vector<std::string> commands;
};

const Group kGroups[] = {
    {"Images", {"pull", "import", "images", "tag", "rmi", "prune"}},
    {"Containers",
     {"create", "start", "run", "stop", "kill", "rm", "ps", "inspect", "logs", "exec", "wait",
      "stats", "top", "events"}},
    {"Deployments", {"apply", "down"}},
};

std::string TopHelp() {
  std::string out =
      "Usage: zlayerctl [--address ADDR] COMMAND [ARGS...]\n\n"
      "The command-line client of zlayer-agentd: images, containers and deployments.\n";
  for (const auto& group : kGroups) {
    absl::StrAppend(&out, "\n", group.title, ":\n");
    for (const auto& name : group.commands) {
      for (const auto& c : AllCommands()) {
        if (c.spec.name == name) absl::StrAppend(&out, absl::StrFormat("  %-9s %s\n", name, c.spec.summary));
      }
    }
  }
  absl::StrAppend(
      &out,
      "\nGlobal options:\n"
      "      --address ADDR   agent address: unix:///PATH, a socket path, or HOST:PORT\n"
      "                       (default $ZLAYER_ADDRESS, else ", kDefaultAddress, ")\n"
      "  -h, --help           show help; 'zlayerctl COMMAND --help' for a command\n"
      "      --version        print the version\n"
      "\nContainer names are SERVICE-rep-N, or SERVICE for replica 1.\n"
      "Listings and inspect take -o json. Exit codes: 0 on success; exec, wait and a\n"
      "foreground run exit with the container command's code; any other failure prints\n"
      "one line (zlayerctl: GRPC_CODE: message) and exits 1.\n");
  return out;
}

const Command* Find(const std::string& name) {
  for (const auto& c : AllCommands()) {
    if (c.spec.name == name) return &c;
  }
  return nullptr;
}

absl::Status UnknownCommand(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& c : AllCommands()) names.push_back(c.spec.name);
  const std::string near = deploy::ClosestMatch(name, names);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown command \"", name, "\"", near.empty() ? "" : absl::StrCat("; did you mean ", near, "?"),
      " (see 'zlayerctl --help')"));
}

}  // namespace

const std::vector<Command>& AllCommands() {
  static const std::vector<Command>* commands = [] {
    auto* all = new std::vector<Command>;
    AddImageCommands(all);
    AddLifecycleCommands(all);
    AddQueryCommands(all);
    AddStatsCommands(all);
    AddIoCommands(all);
    AddTopCommands(all);
    AddEventCommands(all);
    AddDeployCommands(all);
    for (auto& c : *all) AddCommonOptions(&c.spec);
    return all;
  }();
  return *commands;
}

int Main(const std::vector<std::string>& argv) {
  const char* env_address = std::getenv("ZLAYER_ADDRESS");
  std::string address = env_address && *env_address ? env_address : kDefaultAddress;
  size_t i = 0;
  // Global options come before the command.
  for (; i < argv.size() && absl::StartsWith(argv[i], "-"); ++i) {
    const std::string& a = argv[i];
    if (a == "-h" || a == "--help") {
      Out(TopHelp());
      return 0;
    }
    if (a == "--version") {
      Out(absl::StrCat("zlayerctl ", ZLAYERCTL_VERSION, "\n"));
      return 0;
    }
    if (a == "--address" && i + 1 < argv.size()) {
      address = argv[++i];
    } else if (absl::StartsWith(a, "--address=")) {
      address = a.substr(10);
    } else {
      PrintError(absl::InvalidArgumentError(
          absl::StrCat("unknown global option ", a, " (see 'zlayerctl --help')")));
      return 1;
    }
  }
  if (i == argv.size()) {
    Err(TopHelp());
    return 1;
  }
  std::string name = argv[i++];
  std::vector<std::string> rest(argv.begin() + static_cast<ptrdiff_t>(i), argv.end());
  if (name == "help") {
    if (rest.empty()) {
      Out(TopHelp());
      return 0;
    }
    name = rest[0];
    rest = {"--help"};
  }
  const Command* command = Find(name);
  if (!command) {
    PrintError(UnknownCommand(name));
    return 1;
  }
  auto args = ParseArgs(command->spec, rest);
  if (!args.ok()) {
    PrintError(args.status());
    return 1;
  }
  if (args->help) {
    Out(HelpText(command->spec));
    return 0;
  }
  if (auto a = args->Value("address")) address = *a;
  Context ctx(*std::move(args), address);
  absl::StatusOr<int> result = command->run(ctx);
  if (!result.ok()) {
    PrintError(result.status());
    return 1;
  }
  return *result;
}

}  // namespace zlayer::cli
