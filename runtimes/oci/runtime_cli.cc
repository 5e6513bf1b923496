#include "runtimes/oci/runtime_cli.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "core/errors.h"
#include "nlohmann/json.hpp"

namespace zlayer::oci {
namespace {

// A bundle whose rootfs borrows the host's /usr read-only: enough to run /bin/true
// without any image.
absl::Status WriteProbeBundle(const std::string& dir) {
  const std::string rootfs = dir + "/rootfs";
  for (const char* d : {"", "/usr", "/proc", "/dev", "/sys", "/tmp"}) {
    if (auto s = base::MakeDirs(rootfs + d); !s.ok()) return s;
  }
  // Merged /usr: /bin, /lib and /lib64 are links into /usr, as on the host.
  for (const char* link : {"bin", "lib", "lib64", "sbin"}) {
    const std::string path = absl::StrCat(rootfs, "/", link);
    ::unlink(path.c_str());
    if (::symlink(absl::StrCat("usr/", link).c_str(), path.c_str()) != 0) {
      return core::ErrnoError(absl::StrCat("symlink ", path));
    }
  }
  nlohmann::json config = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"/bin/true"}},
        {"env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}},
        {"cwd", "/"},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "zlayer-probe"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        // Device nodes on a tmpfs of the container's own, as in real bundles: the
        // bundle lives under run_dir, and /run is mounted nodev on systemd hosts, so
        // nodes that runc makes in the bundle's own /dev cannot be opened there.
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=1024k"}}},
        {{"destination", "/usr"},
         {"type", "bind"},
         {"source", "/usr"},
         {"options", {"rbind", "ro", "nosuid", "nodev"}}}}},
      {"linux",
       {{"namespaces",
         {{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}},
          {{"type", "network"}}}}}}};
  return base::WriteFileAtomic(dir + "/config.json", config.dump(2), 0644, false);
}

std::string FirstLine(const std::string& s) {
  std::string line(absl::StripAsciiWhitespace(s.substr(0, s.find('\n'))));
  return line;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RuntimeCli>> RuntimeCli::Probe(const std::string& choice,
                                                              const std::string& root,
                                                              const std::string& scratch,
                                                              std::vector<ProbeResult>* results) {
  std::vector<std::string> candidates;
  if (choice.empty() || choice == "auto") {
    candidates = {"youki", "crun", "runc"};
  } else {
    candidates = {choice};
  }
  if (auto s = base::MakeDirs(root, 0700); !s.ok()) return s;
  const std::string bundle = scratch + "/probe-bundle";
  if (auto s = WriteProbeBundle(bundle); !s.ok()) return s;
  std::vector<std::string> reasons;
  for (const auto& candidate : candidates) {
    ProbeResult result;
    result.candidate = candidate;
    auto path = base::FindExecutable(candidate);
    if (!path.ok()) {
      result.detail = "not installed";
    } else {
      RuntimeCli cli(RuntimeInfo{candidate.substr(candidate.rfind('/') + 1), *path, ""}, root);
      auto version = cli.Run({*path, "--version"}, absl::Seconds(10));
      if (!version.ok() || !version->ok()) {
        result.detail = "--version failed";
      } else {
        cli.info_.version = FirstLine(version->out);
        const std::string id = absl::StrCat("zlayer-probe-", ::getpid());
        (void)cli.Delete(id, true);
        auto run = cli.Run(cli.Command({"run", "--bundle", bundle, id}), absl::Seconds(30));
        (void)cli.Delete(id, true);
        if (run.ok() && run->ok()) {
          result.usable = true;
          result.detail = cli.info_.version;
          if (results) results->push_back(result);
          return std::make_unique<RuntimeCli>(std::move(cli));
        }
        result.detail = absl::StrCat(
            "cannot run containers here: ",
            run.ok() ? FirstLine(run->err.empty() ? run->out : run->err)
                     : std::string(run.status().message()));
      }
    }
    reasons.push_back(absl::StrCat(candidate, ": ", result.detail));
    if (results) results->push_back(result);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no usable OCI runtime (", absl::StrJoin(reasons, "; "),
      "); install runc or crun, or name one with --runtime"));
}

std::vector<std::string> RuntimeCli::Command(std::initializer_list<std::string> args) const {
  std::vector<std::string> argv = {info_.path, "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

absl::StatusOr<base::RunResult> RuntimeCli::Run(std::vector<std::string> argv,
                                                absl::Duration timeout) const {
  base::RunOptions run;
  run.argv = std::move(argv);
  run.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  run.timeout = timeout;
  run.max_output = 64 << 10;
  return base::RunCommand(run);
}

namespace {

bool SaysMissing(const base::RunResult& r) {
  const std::string text = r.err + r.out;
  return absl::StrContains(text, "does not exist") || absl::StrContains(text, "not found") ||
         absl::StrContains(text, "No such file");
}

absl::Status Failure(const std::string& what, const base::RunResult& r) {
  std::string text = FirstLine(r.err.empty() ? r.out : r.err);
  return core::Internal(absl::StrCat(what, " failed (exit ", r.status.code, "): ", text));
}

}  // namespace

absl::Status RuntimeCli::Kill(const std::string& id, int signal, bool all) const {
  auto r = all ? Run(Command({"kill", "--all", id, std::to_string(signal)}))
               : Run(Command({"kill", id, std::to_string(signal)}));
  if (!r.ok()) return r.status();
  if (r->ok()) return absl::OkStatus();
  if (SaysMissing(*r) || absl::StrContains(r->err, "not running") ||
      absl::StrContains(r->err, "process already finished")) {
    return core::NotFound(absl::StrCat("runtime container ", id), "not running");
  }
  return Failure(absl::StrCat(info_.name, " kill ", id), *r);
}

absl::Status RuntimeCli::Delete(const std::string& id, bool force) const {
  auto r = force ? Run(Command({"delete", "--force", id})) : Run(Command({"delete", id}));
  if (!r.ok()) return r.status();
  if (r->ok() || SaysMissing(*r)) return absl::OkStatus();
  return Failure(absl::StrCat(info_.name, " delete ", id), *r);
}

absl::StatusOr<std::vector<std::string>> RuntimeCli::List() const {
  auto r = Run(Command({"list", "--quiet"}));
  if (!r.ok()) return r.status();
  if (!r->ok()) return Failure(absl::StrCat(info_.name, " list"), *r);
  std::vector<std::string> ids;
  for (absl::string_view line : absl::StrSplit(r->out, '\n', absl::SkipWhitespace())) {
    ids.emplace_back(absl::StripAsciiWhitespace(line));
  }
  return ids;
}

absl::StatusOr<std::string> RuntimeCli::Status(const std::string& id) const {
  auto r = Run(Command({"state", id}));
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    if (SaysMissing(*r)) return core::NotFound(absl::StrCat("runtime container ", id), "unknown");
    return Failure(absl::StrCat(info_.name, " state ", id), *r);
  }
  auto json = nlohmann::json::parse(r->out, nullptr, false);
  if (json.is_discarded() || !json.contains("status")) {
    return core::Internal(absl::StrCat(info_.name, " state ", id, ": unreadable output"));
  }
  return json["status"].get<std::string>();
}

}  // namespace zlayer::oci
