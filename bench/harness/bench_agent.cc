#include "bench/harness/bench_agent.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/fs_util.h"
#include "bench/harness/env.h"
#include "bench/harness/procinfo.h"

namespace zlayer::bench {
absl::StatusOr<std::unique_ptr<BenchAgent>> BenchAgent::Start(BenchAgentSetup setup) {
  std::unique_ptr<BenchAgent> agent(new BenchAgent(std::move(setup)));
  const BenchAgentSetup& s = agent->setup_;
  base::UniqueFd log(::open(s.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  base::SpawnOptions spawn;
  if (!s.netns.empty()) spawn.argv = {"/usr/bin/nsenter", "--net=" + s.netns, "--"};
  // Operator defaults except where this run keeps its files and containers.
  for (const std::string& arg :
       {s.agentd_bin, std::string("--backend"), std::string("oci"), std::string("--socket"),
        s.socket, std::string("--data-dir"), s.data_dir, std::string("--run-dir"), s.run_dir,
        std::string("--cgroup-parent"), s.cgroup_parent, std::string("--runtime"), s.runc_path}) {
    spawn.argv.push_back(arg);
  }
  spawn.argv.insert(spawn.argv.end(), s.extra_args.begin(), s.extra_args.end());
  spawn.env = {kBenchPath};
  spawn.stdout_fd = log.get();
  spawn.stderr_fd = log.get();
  auto child = base::ChildProcess::Spawn(spawn);
  if (!child.ok()) return child.status();
  agent->process_.emplace(std::move(*child));
  if (auto status = WaitForAgent(s.socket, absl::Seconds(60)); !status.ok()) {
    auto text = base::ReadFile(s.log_path);
    return absl::UnavailableError(absl::StrCat("zlayer-agentd did not start: ", status.message(),
                                               "\n", text.ok() ? *text : ""));
  }
  agent->stub_ = pb::RuntimeService::NewStub(NewChannel(s.socket));
  return agent;
}

BenchAgent::~BenchAgent() {
  if (stub_) (void)RemoveAll(*stub_);
  stub_.reset();
  if (process_) {
    (void)process_->Signal(SIGTERM);
    if (!process_->Wait(absl::Now() + absl::Seconds(20)).ok()) process_.reset();  // SIGKILL
    process_.reset();
  }
  if (setup_.data_dir.empty()) return;
  // Monitors of containers that could not be removed.
  const std::string data = setup_.data_dir;
  KillPids(FindProcesses([&](const std::string& cmd) {
    return absl::StrContains(cmd, "zlayer-monitor") && absl::StrContains(cmd, data);
  }));
  const std::string root = setup_.run_dir + "/runtime";
  if (auto listed = RunTool({setup_.runc_path, "--root", root, "list", "-q"}); listed.ok()) {
    for (absl::string_view id : absl::StrSplit(listed->out, '\n', absl::SkipWhitespace())) {
      (void)RunTool({setup_.runc_path, "--root", root, "delete", "--force", std::string(id)});
    }
  }
  UnmountUnder(setup_.data_dir);
  UnmountUnder(setup_.run_dir);
}

}  // namespace zlayer::bench
