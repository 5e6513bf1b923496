// Runs the real zlayerctl binary against an agent, as a user or a script would.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/fs_util.h"
#include "base/process.h"

namespace zlayer::testing {

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

// "code=1 out=... err=..." for failure messages.
std::string Describe(const CliResult& r);

class Cli {
 public:
  // `address` goes to --address; empty = none (the command line decides).
  explicit Cli(std::string address) : address_(std::move(address)) {}

  // Runs to completion; a run that does not finish within `timeout` fails the test.
  CliResult Run(const std::vector<std::string>& args, absl::Duration timeout = absl::Seconds(30),
                const std::vector<std::string>& extra_env = {}) const;

  // Like Run, for cleanup paths: asserts nothing, nullopt when it could not run.
  std::optional<CliResult> TryRun(const std::vector<std::string>& args) const noexcept;

  // A zlayerctl left running (logs -f, stats, a foreground run), its output going to
  // files that the test polls.
  class Background {
   public:
    Background(base::ChildProcess child, base::TempDir dir)
        : child_(std::move(child)), dir_(std::move(dir)) {}
    std::string Out() const;
    std::string Err() const;
    pid_t pid() const { return child_.pid(); }
    void Signal(int sig) { child_.Signal(sig).IgnoreError(); }
    // The exit code (128 + signal when killed); -1 when it does not end in time.
    int Wait(absl::Duration timeout = absl::Seconds(15));

   private:
    base::ChildProcess child_;
    base::TempDir dir_;
  };
  Background Start(const std::vector<std::string>& args) const;

 private:
  std::vector<std::string> Argv(const std::vector<std::string>& args) const;
  std::string address_;
};

}  // namespace zlayer::testing
