#include "cli_runner.h"

#include <fcntl.h>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/unique_fd.h"
#include "support/test_support.h"

namespace zlayer::testing {
namespace {

const std::vector<std::string> kEnv = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"};

}  // namespace

std::string Describe(const CliResult& r) {
  return absl::StrCat("code=", r.code, "\n--- stdout:\n", r.out, "--- stderr:\n", r.err);
}

std::vector<std::string> Cli::Argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {ZLAYERCTL_BIN};
  if (!address_.empty()) {
    argv.push_back("--address");
    argv.push_back(address_);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

CliResult Cli::Run(const std::vector<std::string>& args, absl::Duration timeout,
                   const std::vector<std::string>& extra_env) const {
  base::RunOptions options;
  options.argv = Argv(args);
  options.env = kEnv;
  options.env.insert(options.env.end(), extra_env.begin(), extra_env.end());
  options.timeout = timeout;
  auto result = base::RunCommand(options);
  INFO("zlayerctl " << absl::StrJoin(args, " "));
  REQUIRE(result.ok());
  return CliResult{result->status.code, result->out, result->err};
}

std::optional<CliResult> Cli::TryRun(const std::vector<std::string>& args) const noexcept {
  try {
    base::RunOptions options;
    options.argv = Argv(args);
    options.env = kEnv;
    auto result = base::RunCommand(options);
    if (!result.ok()) return std::nullopt;
    return CliResult{result->status.code, result->out, result->err};
  } catch (...) {
    return std::nullopt;
  }
}

Cli::Background Cli::Start(const std::vector<std::string>& args) const {
  base::TempDir dir = MakeTempDir("zt-cli-");
  base::UniqueFd out(::open((dir.path() + "/out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  base::UniqueFd err(::open((dir.path() + "/err").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(out);
  REQUIRE(err);
  base::SpawnOptions spawn;
  spawn.argv = Argv(args);
  spawn.env = kEnv;
  spawn.stdout_fd = out.get();
  spawn.stderr_fd = err.get();
  auto child = base::ChildProcess::Spawn(spawn);
  REQUIRE(child.ok());
  return Background(std::move(*child), std::move(dir));
}

std::string Cli::Background::Out() const { return base::ReadFile(dir_.path() + "/out").value_or(""); }
std::string Cli::Background::Err() const { return base::ReadFile(dir_.path() + "/err").value_or(""); }

int Cli::Background::Wait(absl::Duration timeout) {
  auto status = child_.Wait(absl::Now() + timeout);
  return status.ok() ? status->code : -1;
}

}  // namespace zlayer::testing
