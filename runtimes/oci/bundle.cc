#include "runtimes/oci/bundle.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "core/errors.h"
#include "core/signals.h"

namespace zlayer::oci {
namespace {

using nlohmann::json;

constexpr uint64_t kMinMemory = 6ull << 20;  // what Docker accepts; less cannot start runc
constexpr int64_t kCpuPeriod = 100000;

const std::vector<std::string>& AllCapabilities() {
  static const auto* caps = new std::vector<std::string>{
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
      "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
      "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
      "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
      "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
      "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
      "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  return *caps;
}

absl::Status CheckContainerPath(const std::string& what, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return core::InvalidSpec(absl::StrCat(what, " '", path, "' must be an absolute path"));
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") {
      return core::InvalidSpec(absl::StrCat(what, " '", path, "' must not contain '..'"));
    }
  }
  return absl::OkStatus();
}

bool ValidVolumeName(const std::string& name) {
  if (name.empty() || name.size() > 128 || !absl::ascii_isalnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

bool ValidHostname(const std::string& h) {
  if (h.empty() || h.size() > 63) return false;
  return std::all_of(h.begin(), h.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '-' || c == '.'; });
}

json DefaultMounts() {
  return json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      // With a cgroup namespace this shows only the container's own cgroup.
      {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
  });
}

// The standard devices, and nothing else, as containerd allows them.
json DeviceRules(bool privileged) {
  if (privileged) return json::array({{{"allow", true}, {"access", "rwm"}}});
  json rules = json::array({{{"allow", false}, {"access", "rwm"}}});
  auto allow = [&](const char* type, int major, int minor) {
    json r = {{"allow", true}, {"type", type}, {"major", major}, {"access", "rwm"}};
    if (minor >= 0) r["minor"] = minor;
    rules.push_back(r);
  };
  allow("c", 1, 3);     // null
  allow("c", 1, 5);     // zero
  allow("c", 1, 7);     // full
  allow("c", 1, 8);     // random
  allow("c", 1, 9);     // urandom
  allow("c", 5, 0);     // tty
  allow("c", 5, 1);     // console
  allow("c", 5, 2);     // ptmx
  allow("c", 136, -1);  // pts/*
  return rules;
}

}  // namespace

const std::vector<std::string>& DefaultCapabilities() {
  static const auto* caps = new std::vector<std::string>{
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
      "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
  return *caps;
}

absl::StatusOr<std::string> CanonicalCapability(const std::string& name) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name));
  if (!absl::StartsWith(upper, "CAP_")) upper = "CAP_" + upper;
  for (const auto& c : AllCapabilities()) {
    if (c == upper) return upper;
  }
  return core::InvalidSpec(absl::StrCat("capability '", name, "' is unknown"));
}

absl::Status ValidateSpec(const core::ServiceSpec& spec) {
  if (spec.image.name.empty()) return core::InvalidSpec("spec.image.name must be set");
  const auto& r = spec.resources;
  if (r.cpu && (!(*r.cpu > 0) || *r.cpu > 1024)) {
    return core::InvalidSpec(absl::StrCat("spec.resources.cpu ", *r.cpu,
                                          " is out of range; give cores between 0.01 and 1024"));
  }
  if (r.cpu && static_cast<int64_t>(*r.cpu * kCpuPeriod) < 1000) {
    return core::InvalidSpec("spec.resources.cpu must be at least 0.01 cores");
  }
  if (r.memory_bytes && *r.memory_bytes < kMinMemory) {
    return core::InvalidSpec(absl::StrCat("spec.resources.memory ", *r.memory_bytes,
                                          " bytes is below the 6 MiB a container needs"));
  }
  if (r.pids_limit && *r.pids_limit < 1) {
    return core::InvalidSpec("spec.resources.pids_limit must be at least 1");
  }
  std::set<std::string> targets;
  for (const auto& m : spec.storage) {
    if (auto s = CheckContainerPath("spec.storage target", m.target); !s.ok()) return s;
    if (m.target == "/") return core::InvalidSpec("spec.storage: cannot mount over /");
    if (!targets.insert(m.target).second) {
      return core::InvalidSpec(absl::StrCat("spec.storage: two mounts on ", m.target));
    }
    switch (m.type) {
      case core::StorageType::kBind: {
        if (auto s = CheckContainerPath("spec.storage bind source", m.source); !s.ok()) return s;
        struct stat st;
        if (::stat(m.source.c_str(), &st) != 0) {
          return core::InvalidSpec(
              absl::StrCat("spec.storage bind source ", m.source, " does not exist on this host"));
        }
        if (m.size_bytes) return core::InvalidSpec("spec.storage: size applies to tmpfs only");
        break;
      }
      case core::StorageType::kNamed:
        if (!ValidVolumeName(m.source)) {
          return core::InvalidSpec(absl::StrCat(
              "spec.storage: volume name '", m.source,
              "' must be letters, digits, '-', '_' or '.', starting with a letter or digit"));
        }
        if (m.size_bytes) return core::InvalidSpec("spec.storage: size applies to tmpfs only");
        break;
      case core::StorageType::kTmpfs:
        if (!m.source.empty()) return core::InvalidSpec("spec.storage: tmpfs takes no source");
        break;
    }
  }
  if (!spec.hostname.empty() && !ValidHostname(spec.hostname)) {
    return core::InvalidSpec(absl::StrCat("spec.hostname '", spec.hostname,
                                          "' must be 1-63 letters, digits, '-' or '.'"));
  }
  for (const auto& c : spec.cap_add) {
    if (absl::AsciiStrToUpper(c) == "ALL") continue;
    if (auto s = CanonicalCapability(c); !s.ok())
      return core::Annotate(s.status(), "spec.capabilities");
  }
  for (const auto& c : spec.cap_drop) {
    if (absl::AsciiStrToUpper(c) == "ALL") continue;
    if (auto s = CanonicalCapability(c); !s.ok())
      return core::Annotate(s.status(), "spec.cap_drop");
  }
  if (!spec.stop_signal.empty()) {
    std::string sig = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(spec.stop_signal));
    if (!absl::StartsWith(sig, "SIG")) sig = "SIG" + sig;
    if (!core::SignalNumber(sig)) {
      return core::InvalidSpec(
          absl::StrCat("spec.stop_signal '", spec.stop_signal, "' is not a signal name"));
    }
  }
  if (spec.stop_grace_period && *spec.stop_grace_period < absl::ZeroDuration()) {
    return core::InvalidSpec("spec.stop_grace_period must not be negative");
  }
  if (!spec.command.workdir.empty()) {
    if (auto s = CheckContainerPath("spec.command.workdir", spec.command.workdir); !s.ok()) return s;
  }
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos) {
      return core::InvalidSpec(absl::StrCat("spec.env: '", k, "' is not a variable name"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ResolveArgs(const images::ImageConfig& image,
                                                     const core::CommandSpec& command) {
  std::vector<std::string> args;
  if (!command.entrypoint.empty()) {
    args = command.entrypoint;
    args.insert(args.end(), command.args.begin(), command.args.end());
  } else {
    args = image.entrypoint;
    const auto& cmd = command.args.empty() ? image.cmd : command.args;
    args.insert(args.end(), cmd.begin(), cmd.end());
  }
  if (args.empty()) {
    return core::InvalidSpec(
        "no command: the image has no ENTRYPOINT or CMD; set spec.command.entrypoint or args");
  }
  return args;
}

std::vector<std::string> MergeEnv(const std::vector<std::string>& image_env,
                                  const std::map<std::string, std::string>& spec_env,
                                  const std::vector<std::string>& extra, const std::string& home) {
  std::vector<std::pair<std::string, std::string>> vars;
  auto set = [&](const std::string& key, const std::string& value) {
    for (auto& [k, v] : vars) {
      if (k == key) {
        v = value;
        return;
      }
    }
    vars.emplace_back(key, value);
  };
  auto split = [](const std::string& kv) {
    const auto eq = kv.find('=');
    return eq == std::string::npos ? std::make_pair(kv, std::string())
                                   : std::make_pair(kv.substr(0, eq), kv.substr(eq + 1));
  };
  for (const auto& kv : image_env) {
    auto [k, v] = split(kv);
    set(k, v);
  }
  for (const auto& [k, v] : spec_env) set(k, v);
  for (const auto& kv : extra) {
    auto [k, v] = split(kv);
    set(k, v);
  }
  auto has = [&](const char* key) {
    return std::any_of(vars.begin(), vars.end(), [&](const auto& p) { return p.first == key; });
  };
  if (!has("PATH")) set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (!has("HOME")) set("HOME", home.empty() ? "/" : home);
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [k, v] : vars) out.push_back(absl::StrCat(k, "=", v));
  return out;
}

namespace {

json UserJson(const ResolvedUser& user) {
  json u = {{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additional_gids.empty()) u["additionalGids"] = user.additional_gids;
  return u;
}

absl::StatusOr<std::vector<std::string>> Capabilities(const core::ServiceSpec& spec) {
  if (spec.privileged) return AllCapabilities();
  std::vector<std::string> caps = DefaultCapabilities();
  for (const auto& c : spec.cap_drop) {
    if (absl::AsciiStrToUpper(c) == "ALL") {
      caps.clear();
      continue;
    }
    auto name = CanonicalCapability(c);
    if (!name.ok()) return name.status();
    caps.erase(std::remove(caps.begin(), caps.end(), *name), caps.end());
  }
  for (const auto& c : spec.cap_add) {
    if (absl::AsciiStrToUpper(c) == "ALL") return AllCapabilities();
    auto name = CanonicalCapability(c);
    if (!name.ok()) return name.status();
    if (std::find(caps.begin(), caps.end(), *name) == caps.end()) caps.push_back(*name);
  }
  return caps;
}

}  // namespace

absl::Status AddContainerAuth(const auth::ContainerAuthContext& auth, const core::ContainerId& id,
                              BundleInputs* inputs) {
  auto token = auth::MintContainerToken(auth, id, absl::Now());
  if (!token.ok()) return token.status();
  inputs->extra_env.push_back(absl::StrCat(auth::kApiUrlEnv, "=", auth.api_url));
  inputs->extra_env.push_back(absl::StrCat(auth::kTokenEnv, "=", *token));
  if (auth.socket_path.empty()) return absl::OkStatus();
  struct stat st;
  if (::stat(auth.socket_path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    base::Logger("oci")->warn(
        "container_auth.socket_path {} is not a socket yet; container_id={} gets {} only",
        auth.socket_path, id.ToString(), auth::kApiUrlEnv);
    return absl::OkStatus();
  }
  inputs->extra_env.push_back(absl::StrCat(auth::kSocketEnv, "=", auth.socket_path));
  inputs->extra_binds.push_back({auth.socket_path, auth.socket_path, false});
  return absl::OkStatus();
}

absl::StatusOr<json> BuildConfig(const images::ImageConfig& image, const core::ServiceSpec& spec,
                                 const BundleInputs& in) {
  if (auto s = ValidateSpec(spec); !s.ok()) return s;
  auto args = ResolveArgs(image, spec.command);
  if (!args.ok()) return args.status();
  const std::string user_spec = !spec.user.empty() ? spec.user : image.user;
  auto user = ResolveUser(in.rootfs, user_spec);
  if (!user.ok()) return user.status();
  std::string cwd = !spec.command.workdir.empty() ? spec.command.workdir : image.working_dir;
  if (cwd.empty()) cwd = "/";
  if (cwd[0] != '/') {
    return core::InvalidSpec(absl::StrCat("working directory '", cwd, "' must be absolute"));
  }
  auto caps = Capabilities(spec);
  if (!caps.ok()) return caps.status();
  const std::string hostname = spec.hostname.empty() ? in.runtime_id : spec.hostname;

  json process = {
      {"terminal", false},
      {"user", UserJson(*user)},
      {"args", *args},
      {"env", MergeEnv(image.env, spec.env, in.extra_env, user->home)},
      {"cwd", cwd},
      {"capabilities",
       {{"bounding", *caps}, {"effective", *caps}, {"permitted", *caps}}},
      {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      {"noNewPrivileges", !spec.privileged},
  };

  json mounts = DefaultMounts();
  if (spec.privileged) {
    for (auto& m : mounts) {
      if (m["destination"] == "/sys" || m["destination"] == "/sys/fs/cgroup") {
        auto& opts = m["options"];
        opts.erase(std::remove(opts.begin(), opts.end(), "ro"), opts.end());
        opts.push_back("rw");
      }
    }
  }
  for (const auto& s : spec.storage) {
    json m = {{"destination", s.target}};
    switch (s.type) {
      case core::StorageType::kBind:
        m["type"] = "bind";
        m["source"] = s.source;
        m["options"] = {"rbind", "rprivate", s.readonly ? "ro" : "rw"};
        break;
      case core::StorageType::kNamed: {
        const std::string dir = absl::StrCat(in.volumes_dir, "/", s.source);
        if (auto st = base::MakeDirs(dir, 0755); !st.ok()) return st;
        m["type"] = "bind";
        m["source"] = dir;
        m["options"] = {"rbind", "rprivate", s.readonly ? "ro" : "rw"};
        break;
      }
      case core::StorageType::kTmpfs: {
        m["type"] = "tmpfs";
        m["source"] = "tmpfs";
        json opts = {"nosuid", "nodev", "mode=1777"};
        if (s.size_bytes) opts.push_back(absl::StrCat("size=", s.size_bytes));
        if (s.readonly) opts.push_back("ro");
        m["options"] = opts;
        break;
      }
    }
    mounts.push_back(m);
  }
  for (const auto& b : in.extra_binds) {
    mounts.push_back({{"destination", b.destination},
                      {"type", "bind"},
                      {"source", b.source},
                      {"options", {"bind", "rprivate", b.readonly ? "ro" : "rw"}}});
  }

  json resources = {{"devices", DeviceRules(spec.privileged)}};
  if (spec.resources.cpu) {
    resources["cpu"] = {{"quota", static_cast<int64_t>(*spec.resources.cpu * kCpuPeriod)},
                        {"period", kCpuPeriod}};
  }
  if (spec.resources.memory_bytes) {
    resources["memory"] = {{"limit", static_cast<int64_t>(*spec.resources.memory_bytes)}};
  }
  if (spec.resources.pids_limit) resources["pids"] = {{"limit", *spec.resources.pids_limit}};

  json namespaces = {{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                     {{"type", "mount"}}, {{"type", "cgroup"}}};
  switch (in.network) {
    case BundleInputs::Network::kPrivate:
      namespaces.push_back({{"type", "network"}});
      break;
    case BundleInputs::Network::kJoin:
      // Attached before create: the process never runs without its network.
      namespaces.push_back({{"type", "network"}, {"path", in.netns_path}});
      break;
    case BundleInputs::Network::kHost:
      break;
  }
  json linux = {
      {"cgroupsPath", in.cgroups_path},
      {"resources", resources},
      {"namespaces", std::move(namespaces)},
  };
  if (!spec.privileged) {
    linux["maskedPaths"] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                            "/sys/devices/virtual/powercap"};
    linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"};
  }

  json annotations = json::object();
  for (const auto& [k, v] : spec.labels) annotations[k] = v;

  return json{
      {"ociVersion", "1.0.2"},
      {"process", process},
      {"root", {{"path", in.rootfs}, {"readonly", spec.read_only_root_fs}}},
      {"hostname", hostname},
      {"mounts", mounts},
      {"linux", linux},
      {"annotations", annotations},
  };
}

absl::StatusOr<json> BuildExecProcess(const json& config, const std::string& rootfs,
                                      const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env,
                                      const std::string& cwd, const std::string& user) {
  json process = config.at("process");
  process["args"] = args;
  process["terminal"] = false;
  if (!cwd.empty()) {
    if (cwd[0] != '/')
      return core::InvalidSpec(absl::StrCat("exec: workdir '", cwd, "' must be absolute"));
    process["cwd"] = cwd;
  }
  std::string home;
  if (!user.empty()) {
    auto resolved = ResolveUser(rootfs, user);
    if (!resolved.ok()) return core::Annotate(resolved.status(), "exec");
    process["user"] = UserJson(*resolved);
    home = resolved->home;
  }
  // The container's environment, with the exec's variables on top.
  std::vector<std::string> base_env = process.value("env", std::vector<std::string>{});
  std::vector<std::string> extra;
  if (!home.empty()) extra.push_back("HOME=" + home);
  process["env"] = MergeEnv(base_env, env, extra, home);
  return process;
}

}  // namespace zlayer::oci
