#include "bench/harness/network_env.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/fs_util.h"
#include "network/cni_config.h"
#include "network/netns.h"
#include "nlohmann/json.hpp"
#include "oci_builder.h"

namespace zlayer::bench {
namespace {

// Private ranges of their own, in the bench's namespace only.
constexpr char kAgentSubnet[] = "10.91.0.0/24";
constexpr char kCtrSubnet[] = "10.91.1.0/24";

// The config list ctr reads: the agent's own embedded default (bridge with
// host-local, then portmap), on a bridge and range of its own, leases in `dir`.
std::string CtrConfList(const std::string& dir) {
  network::NetworkConfig config;
  config.default_bridge = "zb1";
  config.default_subnet = kCtrSubnet;
  config.default_masquerade = false;
  config.run_dir = dir;
  nlohmann::json list = network::EmbeddedDefaultList(config);
  list["name"] = "zbench";
  return list.dump(2);
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetworkBench>> NetworkBench::Create(BenchEnv& env) {
  std::unique_ptr<NetworkBench> bench(new NetworkBench(env));
  if (auto status = bench->Start(); !status.ok()) return status;  // the destructor tidies up
  return bench;
}

absl::Status NetworkBench::Start() {
  dir_ = env_.scratch() + "/network";
  if (auto status = base::MakeDirs(dir_); !status.ok()) return status;
  netns_ = env_.socket_dir() + "/netns";
  if (auto status = network::CreateNetns(netns_); !status.ok()) return status;
  netns_made_ = true;
  if (auto status = ToolSucceeded(
          RunTool({"/usr/bin/nsenter", "--net=" + netns_, "--", "ip", "link", "set", "lo", "up"}),
          "ip link set lo up in the bench namespace");
      !status.ok()) {
    return status;
  }
  if (auto status = StartAgent(); !status.ok()) return status;
  if (auto status = ImportImage(); !status.ok()) return status;
  if (env_.has_containerd()) return StartCtrNamespace();
  return absl::OkStatus();
}

absl::Status NetworkBench::StartAgent() {
  // No config files in the agent's directory: it uses its embedded default.
  const std::string cni_dir = dir_ + "/agent-cni";
  if (auto status = base::MakeDirs(cni_dir); !status.ok()) return status;
  const std::string config_path = dir_ + "/agentd.yaml";
  const std::string config =
      absl::StrCat("network:\n  default: bridge\n  cni_config_dir: ", cni_dir,
                   "\n  bridge: zb0\n  subnet: ", kAgentSubnet, "\n  masquerade: false\n");
  if (auto status = base::WriteFileAtomic(config_path, config, 0644, false); !status.ok()) {
    return status;
  }
  BenchAgentSetup setup = env_.AgentSetupFor("net-agent");
  setup.extra_args = {"--config", config_path};
  setup.netns = netns_;
  auto agent = BenchAgent::Start(std::move(setup));
  if (!agent.ok()) return agent.status();
  agent_ = std::move(*agent);
  return absl::OkStatus();
}

absl::Status NetworkBench::ImportImage() {
  agent_image_ = "local/bench-busybox:latest";
  const std::string archive = images::testing::OciLayoutTar({{&env_.busybox(), "latest"}});
  return ImportLayout(agent_->stub(), agent_image_, archive);
}

absl::Status NetworkBench::StartCtrNamespace() {
  // Upper directories of the overlays ctr sees on /etc, /opt and /var/lib: its
  // CNI config, the plugins (a link to Debian's), and libcni's cache.
  const std::string root = dir_ + "/ctr";
  for (const char* sub :
       {"/etc/cni/net.d", "/etc-work", "/opt/cni", "/opt-work", "/var-lib", "/var-lib-work"}) {
    if (auto status = base::MakeDirs(root + sub); !status.ok()) return status;
  }
  if (auto status = base::WriteFileAtomic(root + "/etc/cni/net.d/10-zbench.conflist", CtrConfList(root + "/leases"),
                                          0644, false);
      !status.ok()) {
    return status;
  }
  if (::symlink("/usr/lib/cni", (root + "/opt/cni/bin").c_str()) != 0 && errno != EEXIST) {
    return absl::InternalError("symlink for ctr's /opt/cni/bin failed");
  }
  for (const char* path : {"/etc", "/opt", "/var/lib"}) {
    struct stat st;
    if (::stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is missing on this host; ctr's CNI overlay needs it as a lower directory"));
    }
  }
  auto overlay = [&](const std::string& target, const std::string& upper, const std::string& work) {
    return absl::StrCat("mount -t overlay zbench -o lowerdir=", target, ",upperdir=", root, upper,
                        ",workdir=", root, work, " ", target);
  };
  const std::string ready = root + "/ready";
  const std::string script = absl::StrJoin(
      {std::string("set -e"), overlay("/etc", "/etc", "/etc-work"),
       overlay("/opt", "/opt", "/opt-work"), overlay("/var/lib", "/var-lib", "/var-lib-work"),
       absl::StrCat(": > ", ready), std::string("exec sleep 100000")},
      "\n");
  base::SpawnOptions spawn;
  spawn.argv = {"/usr/bin/nsenter",
                "--net=" + netns_,
                "--",
                "/usr/bin/unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
                script};
  spawn.env = {kBenchPath};
  const std::string log_path = root + "/holder.log";
  base::UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  spawn.stdout_fd = log.get();
  spawn.stderr_fd = log.get();
  auto child = base::ChildProcess::Spawn(spawn);
  if (!child.ok()) return child.status();
  holder_.emplace(std::move(*child));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (::access(ready.c_str(), F_OK) != 0) {
    if (absl::Now() > deadline || holder_->Wait(absl::Now()).ok()) {
      holder_.reset();
      return absl::InternalError(absl::StrCat(
          "ctr's mount namespace (overlays on /etc, /opt, /var/lib) could not be set up: ",
          base::ReadFile(log_path).value_or("no output")));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::OkStatus();
}

absl::Status NetworkBench::CtrOk(const std::vector<std::string>& args) const {
  if (!holder_) return absl::FailedPreconditionError("no containerd in this run");
  std::vector<std::string> argv = {"/usr/bin/nsenter",
                                   "--target",
                                   std::to_string(holder_->pid()),
                                   "--mount",
                                   "--net",
                                   "--",
                                   "/usr/bin/ctr",
                                   "--address",
                                   env_.containerd_socket(),
                                   "--namespace",
                                   env_.ctr_namespace()};
  argv.insert(argv.end(), args.begin(), args.end());
  return ToolSucceeded(RunTool(std::move(argv)), "ctr " + absl::StrJoin(args, " "));
}

NetworkBench::~NetworkBench() {
  agent_.reset();
  holder_.reset();  // its mount namespace, overlays included, ends with it
  if (netns_made_) (void)network::RemoveNetns(netns_);
}

}  // namespace zlayer::bench
