#include "bench/harness/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/harness/procinfo.h"
#include "cgroups/layout.h"

namespace zlayer::bench {
namespace {

using images::testing::TarEntry;

std::string FirstLine(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s.substr(0, s.find('\n'))));
}

absl::StatusOr<base::RunResult> Run(std::vector<std::string> argv,
                                    absl::Duration timeout = absl::Seconds(60)) {
  return RunTool(std::move(argv), timeout);
}


// busybox with a relative link per applet (absolute links would point at the
// host's merged /usr) and a passwd, as tests/oci builds it.
absl::StatusOr<images::testing::BuiltImage> BusyboxImage() {
  auto busybox = base::ReadFile("/bin/busybox");
  if (!busybox.ok()) return busybox.status();
  std::vector<TarEntry> entries = {
      TarEntry::Dir("bin"),  TarEntry::Dir("etc"),       TarEntry::Dir("tmp", 01777),
      TarEntry::Dir("root", 0700), TarEntry::Dir("var"), TarEntry::Dir("proc"),
      TarEntry::Dir("sys"),  TarEntry::Dir("dev"),
      TarEntry::File("bin/busybox", *busybox, 0755),
      TarEntry::File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
      TarEntry::File("etc/group", "root:x:0:\n"),
  };
  auto applets = Run({"/bin/busybox", "--list"});
  if (!applets.ok()) return applets.status();
  if (!applets->ok()) return absl::InternalError("busybox --list failed");
  for (absl::string_view a : absl::StrSplit(applets->out, '\n', absl::SkipEmpty())) {
    if (a == "busybox") continue;
    entries.push_back(TarEntry::Symlink(absl::StrCat("bin/", a), "busybox"));
  }
  images::testing::ImageSpec spec;
  spec.cmd = {"/bin/sh"};
  spec.env = {"PATH=/bin"};
  return images::testing::ImageBuilder(spec).Layer(entries).Build();
}

// Mount points at or below `dir`, deepest first.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() < 5) continue;
    if (f[4] == dir || absl::StartsWith(f[4], dir + "/")) out.push_back(f[4]);
  }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

// Every directory of cgroup `path` that exists, in every hierarchy.
std::vector<std::string> CgroupDirs(const std::string& path) {
  std::set<std::string> dirs;
  auto layout = cgroups::HostLayout::Detect();
  if (!layout.ok()) return {};
  std::vector<std::string> prefixes = {""};
  if (auto self = base::ReadFile("/proc/self/cgroup"); self.ok()) {
    for (absl::string_view line : absl::StrSplit(*self, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
      if (f.size() == 3 && f[2] != "/") prefixes.push_back(f[2]);
    }
  }
  for (const auto& m : layout->mounts()) {
    for (const auto& p : prefixes) {
      const std::string d = m.mount_point + p + path;
      struct stat st;
      if (::stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) dirs.insert(d);
    }
  }
  return {dirs.begin(), dirs.end()};
}

// Sub-directories of a cgroup directory, deepest first, itself last.
void CollectCgroupTree(const std::string& dir, std::vector<std::string>* out) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') {
        CollectCgroupTree(dir + "/" + e->d_name, out);
      }
    }
    ::closedir(d);
  }
  out->push_back(dir);
}

}  // namespace

const char kBenchPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

absl::StatusOr<base::RunResult> RunTool(std::vector<std::string> argv, absl::Duration timeout) {
  base::RunOptions options;
  options.argv = std::move(argv);
  options.env = {kBenchPath};
  options.timeout = timeout;
  return base::RunCommand(options);
}

absl::Status ToolSucceeded(const absl::StatusOr<base::RunResult>& run, const std::string& what) {
  if (!run.ok()) return run.status();
  if (!run->ok()) return absl::InternalError(absl::StrCat(what, ": ", FirstLine(run->err + run->out)));
  return absl::OkStatus();
}

void UnmountUnder(const std::string& dir) {
  if (dir.empty()) return;
  for (const auto& m : MountsUnder(dir)) ::umount2(m.c_str(), MNT_DETACH);
}

void KillPids(const std::vector<pid_t>& pids) {
  std::vector<base::UniqueFd> fds;
  for (pid_t p : pids) {
    base::UniqueFd fd(base::PidfdOpen(p));
    if (!fd) continue;
    base::PidfdSendSignal(fd.get(), SIGKILL);
    fds.push_back(std::move(fd));
  }
  // Not our children (reparented), so wait for them to vanish rather than reap.
  for (auto& fd : fds) {
    struct pollfd pfd = {fd.get(), POLLIN, 0};
    ::poll(&pfd, 1, 5000);
  }
}

void RemoveCgroupTree(const std::string& cgroup_path) {
  std::vector<std::string> tree;
  for (const auto& d : CgroupDirs(cgroup_path)) CollectCgroupTree(d, &tree);
  if (tree.empty()) return;
  // Anything still inside is a container this run started.
  std::vector<pid_t> pids;
  for (const auto& d : tree) {
    auto procs = base::ReadFile(d + "/cgroup.procs");
    if (!procs.ok()) continue;
    for (absl::string_view p : absl::StrSplit(*procs, '\n', absl::SkipEmpty())) {
      pid_t pid;
      if (absl::SimpleAtoi(p, &pid) && pid > 1) pids.push_back(pid);
    }
  }
  if (!pids.empty()) {
    std::fprintf(stderr, "bench: killing %zu leftover processes in %s\n", pids.size(),
                 cgroup_path.c_str());
    KillPids(pids);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  for (;;) {
    bool left = false;
    for (const auto& d : tree) {
      if (::rmdir(d.c_str()) != 0 && errno != ENOENT) left = true;
    }
    if (!left || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<std::unique_ptr<BenchEnv>> BenchEnv::Create(const EnvOptions& options) {
  std::unique_ptr<BenchEnv> env(new BenchEnv());
  if (auto s = env->Start(options); !s.ok()) return s;  // the destructor tidies up
  return env;
}

absl::Status BenchEnv::Start(const EnvOptions& options) {
  // 2,000 streams and 200 containers' descriptors: lift the soft limit (the agent
  // inherits it, as it would get LimitNOFILE from its unit).
  struct rlimit nofile;
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  auto sock = base::TempDir::Create("/tmp", "zb-");
  if (!sock.ok()) return sock.status();
  sock_.emplace(std::move(*sock));
  auto data = base::TempDir::Create(options.data_parent, "zlayer-bench-");
  if (!data.ok()) return data.status();
  data_.emplace(std::move(*data));
  cgroup_parent_ = absl::StrCat("/zlayer-bench-", ::getpid());
  ctr_namespace_ = absl::StrCat("zbench", ::getpid());

  try {
    registry_ = std::make_unique<images::testing::TestRegistry>();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("registry: ", e.what()));
  }
  auto image = BusyboxImage();
  if (!image.ok()) return image.status();
  busybox_ = std::move(*image);
  if (auto s = images::testing::PushImage(registry_->pusher(), "bench/busybox", "latest", busybox_);
      !s.ok()) {
    return s;
  }
  image_ = absl::StrCat(registry_->host(), "/bench/busybox:latest");

  // The agent is pinned to the same runc binary, so that its rows and the raw-runc
  // and ctr rows (containerd's runc shim) all run one runtime, whatever the agent's
  // own probe (youki, crun, runc) would pick on this host.
  auto runc = base::FindExecutable("runc");
  if (!runc.ok()) return runc.status();
  runc_path_ = *runc;
  if (auto s = StartAgent(options); !s.ok()) return s;
  if (auto s = PrepareRunc(); !s.ok()) return s;
  if (options.containerd) {
    if (!base::FindExecutable("containerd").ok() || !base::FindExecutable("ctr").ok()) {
      std::fprintf(stderr,
                   "bench: containerd/ctr not installed (scripts/install-deps.sh --with-bench): "
                   "its contenders are left out\n");
    } else if (auto s = StartContainerd(); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

BenchAgentSetup BenchEnv::AgentSetupFor(const std::string& name) const {
  BenchAgentSetup setup;
  setup.agentd_bin = agentd_bin_;
  setup.runc_path = runc_path_;
  setup.socket = absl::StrCat(sock_->path(), "/", name, ".sock");
  setup.data_dir = absl::StrCat(data_->path(), "/", name);
  setup.run_dir = absl::StrCat(sock_->path(), "/", name, "-run");
  setup.cgroup_parent = absl::StrCat(cgroup_parent_, "/", name);
  setup.log_path = absl::StrCat(data_->path(), "/", name, ".log");
  return setup;
}

absl::Status BenchEnv::StartAgent(const EnvOptions& options) {
  agentd_bin_ = options.agentd_bin;
  BenchAgentSetup setup = AgentSetupFor("agent");
  setup.socket = sock_->path() + "/agentd.sock";
  setup.cgroup_parent = cgroup_parent_;
  setup.log_path = data_->path() + "/agentd.log";
  // The rows compare with runc and ctr runs that have no CNI network either;
  // and a bench must not make bridges in the host namespace.
  setup.extra_args = {"--network", "none"};
  // An older agent (--agentd) has no metrics listener: it runs without.
  bool metrics = false;
  if (options.metrics) {
    auto help = Run({agentd_bin_, "--help"});
    metrics = help.ok() && absl::StrContains(help->out + help->err, "--metrics-address");
    if (!metrics) std::fprintf(stderr, "bench: the agent has no --metrics-address\n");
  }
  if (metrics) {
    setup.extra_args.insert(setup.extra_args.end(), {"--metrics-address", "127.0.0.1:0"});
  }
  auto agent = BenchAgent::Start(std::move(setup));
  if (!agent.ok()) return agent.status();
  agent_ = std::move(*agent);
  if (metrics) {
    pb::GetAgentInfoRequest req;
    pb::GetAgentInfoResponse resp;
    if (auto s = FromGrpc(stub().GetAgentInfo(Deadline(absl::Seconds(5)).get(), req, &resp),
                          "GetAgentInfo");
        !s.ok()) {
      return s;
    }
    if (resp.metrics_address().empty()) {
      return absl::InternalError("started with --metrics-address, GetAgentInfo names none");
    }
    metrics_address_ = resp.metrics_address();
  }
  return absl::OkStatus();
}

absl::Status BenchEnv::PrepareRunc() {
  runc_root_ = sock_->path() + "/runc";
  runc_rootfs_ = data_->path() + "/runc/rootfs";
  if (auto s = base::MakeDirs(runc_root_, 0700); !s.ok()) return s;
  if (auto s = base::MakeDirs(runc_rootfs_); !s.ok()) return s;
  // The same layer, unpacked once.
  const std::string layer = data_->path() + "/runc/layer.tar.gz";
  if (auto s = base::WriteFileAtomic(layer, busybox_.layers.at(0).data, 0600, false); !s.ok()) {
    return s;
  }
  auto untar = Run({"/usr/bin/tar", "-xzf", layer, "-C", runc_rootfs_});
  if (!untar.ok()) return untar.status();
  if (!untar->ok()) return absl::InternalError("untar busybox: " + untar->err);
  ::unlink(layer.c_str());
  // The agent's own config for this image, so that raw runc runs the very same
  // container: created (not started) once, read, removed.
  const auto id = Id("bench-template", 0);
  if (auto s = bench::Create(stub(), id, Spec(image_, {"/bin/true"})); !s.ok()) return s;
  const std::string container_dir = agent_data_dir() + "/containers/bench-template-rep-0";
  auto text = base::ReadFile(container_dir + "/config.json");
  if (!text.ok()) {
    (void)Remove(stub(), id);
    return text.status();
  }
  runc_template_ = nlohmann::json::parse(*text, nullptr, false);
  if (runc_template_.is_discarded()) {
    (void)Remove(stub(), id);
    return absl::InternalError("agent config.json unreadable");
  }
  // The agent bind-mounts files it keeps in the container's directory (hosts,
  // resolv.conf, hostname); that directory goes with RemoveContainer, so raw runc
  // gets copies of its own, the same bytes.
  const std::string etc_copy = data_->path() + "/runc/etc";
  if (auto s = base::MakeDirs(etc_copy); !s.ok()) return s;
  absl::Status copied = absl::OkStatus();
  for (auto& mount : runc_template_["mounts"]) {
    const std::string source = mount.value("source", "");
    if (!absl::StartsWith(source, container_dir + "/")) continue;
    auto bytes = base::ReadFile(source);
    const std::string target = etc_copy + source.substr(source.rfind('/'));
    if (!bytes.ok()) {
      copied = bytes.status();
      break;
    }
    if (auto s = base::WriteFileAtomic(target, *bytes, 0644, false); !s.ok()) {
      copied = s;
      break;
    }
    mount["source"] = target;
  }
  (void)Remove(stub(), id);
  return copied;
}

absl::StatusOr<std::string> BenchEnv::MakeRuncBundle(const std::string& name,
                                                     const std::vector<std::string>& argv) {
  const std::string dir = absl::StrCat(data_->path(), "/runc/", name);
  if (auto s = base::MakeDirs(dir); !s.ok()) return s;
  nlohmann::json config = runc_template_;
  config["process"]["args"] = argv;
  config["root"] = {{"path", runc_rootfs_}, {"readonly", false}};
  config["linux"]["cgroupsPath"] = absl::StrCat(cgroup_parent_, "/raw-", name);
  if (auto s = base::WriteFileAtomic(dir + "/config.json", config.dump(2), 0644, false); !s.ok()) {
    return s;
  }
  runc_bundles_.push_back(dir);
  return dir;
}

absl::StatusOr<base::RunResult> BenchEnv::Runc(const std::vector<std::string>& args,
                                               absl::Duration timeout) const {
  std::vector<std::string> argv = {runc_path_, "--root", runc_root_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(std::move(argv), timeout);
}

absl::Status BenchEnv::StartContainerd() {
  auto containerd = base::FindExecutable("containerd");
  auto ctr = base::FindExecutable("ctr");
  if (!containerd.ok() || !ctr.ok()) {
    return absl::FailedPreconditionError(
        "containerd/ctr not installed (scripts/install-deps.sh --with-bench)");
  }
  const std::string dir = data_->path() + "/containerd";
  containerd_socket_ = sock_->path() + "/containerd.sock";
  if (auto s = base::MakeDirs(dir); !s.ok()) return s;
  // Its own root, state and sockets; the CRI plugin off (it would want CNI and a
  // sandbox image from the internet). Debug and metrics listeners stay off.
  const std::string config = absl::StrCat(
      "version = 2\n", "root = \"", dir, "/root\"\n", "state = \"", sock_->path(),
      "/containerd-state\"\n", "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n",
      "[grpc]\n  address = \"", containerd_socket_, "\"\n", "[ttrpc]\n  address = \"",
      containerd_socket_, ".ttrpc\"\n",
      // The opt plugin would otherwise create /opt/containerd on the host.
      "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"", dir, "/opt\"\n");
  if (auto s = base::WriteFileAtomic(dir + "/config.toml", config, 0600, false); !s.ok()) return s;
  base::UniqueFd log(::open((dir + "/containerd.log").c_str(),
                            O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  base::SpawnOptions spawn;
  spawn.argv = {*containerd, "--config", dir + "/config.toml"};
  spawn.env = {kBenchPath};
  spawn.stdout_fd = log.get();
  spawn.stderr_fd = log.get();
  auto child = base::ChildProcess::Spawn(spawn);
  if (!child.ok()) return child.status();
  containerd_.emplace(std::move(*child));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (;;) {
    auto r = Ctr({"version"}, absl::Seconds(5));
    if (r.ok() && r->ok()) break;
    if (absl::Now() > deadline) {
      auto text = base::ReadFile(dir + "/containerd.log");
      return absl::UnavailableError(
          absl::StrCat("containerd did not start:\n", text.ok() ? *text : ""));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return CtrOk({"image", "pull", "--plain-http", image_});
}

absl::StatusOr<base::RunResult> BenchEnv::Ctr(const std::vector<std::string>& args,
                                              absl::Duration timeout) const {
  std::vector<std::string> argv = {"/usr/bin/ctr", "--address", containerd_socket_,
                                   "--namespace", ctr_namespace_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(std::move(argv), timeout);
}

absl::Status BenchEnv::CtrOk(const std::vector<std::string>& args, absl::Duration timeout) const {
  return ToolSucceeded(Ctr(args, timeout), "ctr " + absl::StrJoin(args, " "));
}

std::vector<pid_t> BenchEnv::ShimPids() const {
  if (containerd_socket_.empty()) return {};
  const std::string sock = containerd_socket_;
  return FindProcesses([&](const std::string& cmd) {
    return absl::StrContains(cmd, "containerd-shim") && absl::StrContains(cmd, sock);
  });
}

nlohmann::json BenchEnv::Versions() const {
  nlohmann::json v = nlohmann::json::object();
  if (auto r = Run({runc_path_, "--version"}); r.ok()) v["runc"] = FirstLine(r->out);
  if (has_containerd()) {
    if (auto r = Run({"/usr/bin/containerd", "--version"}); r.ok()) v["containerd"] = FirstLine(r->out);
  }
  if (auto r = Run({"/usr/bin/skopeo", "--version"}); r.ok()) v["skopeo"] = FirstLine(r->out);
  pb::GetAgentInfoRequest req;
  pb::GetAgentInfoResponse resp;
  if (agent_ && agent_->stub().GetAgentInfo(Deadline(absl::Seconds(5)).get(), req, &resp).ok()) {
    v["zlayer-agentd"] = resp.version();
    v["agent_runtime"] = resp.runtime();
    v["cgroup_mode"] = resp.cgroup_mode();
  }
  return v;
}

nlohmann::json BenchEnv::Footprint() const {
  nlohmann::json dirs = nlohmann::json::array();
  if (sock_) dirs.push_back(sock_->path());
  if (data_) dirs.push_back(data_->path());
  if (registry_) dirs.push_back(registry_->dir());
  nlohmann::json cgroups = nlohmann::json::array();
  if (!cgroup_parent_.empty()) cgroups.push_back(cgroup_parent_);
  if (!ctr_namespace_.empty()) cgroups.push_back("/" + ctr_namespace_);
  return {{"dirs", dirs}, {"cgroups", cgroups}};
}

void BenchEnv::StopRunc() {
  if (runc_path_.empty()) return;
  if (auto list = Runc({"list", "-q"}); list.ok()) {
    for (absl::string_view id : absl::StrSplit(list->out, '\n', absl::SkipWhitespace())) {
      (void)Runc({"delete", "--force", std::string(id)});
    }
  }
}

void BenchEnv::StopContainerd() {
  if (!containerd_) return;
  if (auto tasks = Ctr({"task", "ls", "-q"}); tasks.ok()) {
    for (absl::string_view id : absl::StrSplit(tasks->out, '\n', absl::SkipWhitespace())) {
      (void)Ctr({"task", "rm", "-f", std::string(id)});
    }
  }
  if (auto cs = Ctr({"container", "ls", "-q"}); cs.ok()) {
    for (absl::string_view id : absl::StrSplit(cs->out, '\n', absl::SkipWhitespace())) {
      (void)Ctr({"container", "rm", std::string(id)});
    }
  }
  (void)containerd_->Signal(SIGTERM);
  if (!containerd_->Wait(absl::Now() + absl::Seconds(15)).ok()) containerd_.reset();
  containerd_.reset();
  KillPids(ShimPids());
  UnmountUnder(data_->path() + "/containerd");
  UnmountUnder(sock_->path() + "/containerd-state");
}

BenchEnv::~BenchEnv() {
  agent_.reset();
  StopContainerd();
  StopRunc();
  if (!cgroup_parent_.empty()) RemoveCgroupTree(cgroup_parent_);
  if (!ctr_namespace_.empty()) RemoveCgroupTree("/" + ctr_namespace_);
  registry_.reset();
  if (data_) UnmountUnder(data_->path());
  if (sock_) UnmountUnder(sock_->path());
}

}  // namespace zlayer::bench
