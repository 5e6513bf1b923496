#include "runc_container.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/process.h"
#include "cgroups/layout.h"
#include "core/errors.h"
#include "support/test_support.h"

namespace zlayer::testing {
namespace {

// Container ids carry the test process's pid, so leftovers can be told from the
// containers of a suite running concurrently.
std::string NextId() {
  static std::atomic<int> counter{0};
  return absl::StrCat("zcg-", ::getpid(), "-", counter++);
}

bool ProcessAlive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// A test process killed before its destructors ran (ctest's TIMEOUT sends SIGKILL;
// a closed output pipe sends SIGPIPE) leaves its containers running. Each process
// sweeps, once, the /tmp/zcg-<pid>-* directories whose owner is dead: delete -f
// every container in that runc root, then remove the directory.
void SweepLeftovers(const std::string& runc) {
  static std::once_flag once;
  std::call_once(once, [&] {
    DIR* tmp = ::opendir("/tmp");
    if (tmp == nullptr) return;
    std::vector<std::string> roots;
    while (struct dirent* e = ::readdir(tmp)) {
      std::vector<absl::string_view> parts = absl::StrSplit(e->d_name, '-');
      int owner = 0;
      if (parts.size() == 3 && parts[0] == "zcg" && absl::SimpleAtoi(parts[1], &owner) &&
          !ProcessAlive(owner)) {
        roots.push_back(absl::StrCat("/tmp/", e->d_name));
      }
    }
    ::closedir(tmp);
    for (const std::string& root : roots) {
      base::RunOptions list;
      list.argv = {runc, "--root", root + "/state", "list", "-q"};
      list.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
      list.timeout = absl::Seconds(30);
      auto ids = base::RunCommand(list);
      if (ids.ok() && ids->ok()) {
        for (absl::string_view id : absl::StrSplit(ids->out, '\n', absl::SkipEmpty())) {
          base::RunOptions del = list;
          del.argv = {runc, "--root", root + "/state", "delete", "-f", std::string(id)};
          (void)base::RunCommand(del);
        }
      }
      (void)base::RemoveTree(root);
    }
  });
}

}  // namespace

void RemoveCgroupParents(const std::string& proc_pid_cgroup) {
  auto layout = cgroups::HostLayout::Detect();
  if (!layout.ok()) return;
  for (absl::string_view line : absl::StrSplit(proc_pid_cgroup, '\n', absl::SkipEmpty())) {
    const size_t c2 = line.find(':', line.find(':') + 1);
    if (c2 == absl::string_view::npos) continue;
    const std::string path(line.substr(c2 + 1));
    const std::string parent = path.substr(0, path.rfind('/'));
    if (parent.empty()) continue;
    // rmdir removes only empty cgroups, and the parent names the test process: trying
    // every mount is harmless where the directory does not exist.
    for (const auto& m : layout->mounts()) {
      auto dir = cgroups::HostLayout::DirFor(m, parent);
      if (dir.ok() && *dir != m.mount_point) ::rmdir(dir->c_str());
    }
  }
}

absl::StatusOr<std::string> RuncContainer::Runc(const std::vector<std::string>& args) const {
  base::RunOptions opts;
  opts.argv = {runc_, "--root", dir_.path() + "/state"};
  opts.argv.insert(opts.argv.end(), args.begin(), args.end());
  opts.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  opts.timeout = absl::Seconds(30);
  auto r = base::RunCommand(opts);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return absl::InternalError(absl::StrCat("runc ", absl::StrJoin(args, " "), " exited ",
                                            r->status.code, ": ", r->err));
  }
  return r->out;
}

absl::StatusOr<std::unique_ptr<RuncContainer>> RuncContainer::Run(const RuncSpec& spec) {
  auto runc = base::FindExecutable("runc");
  if (!runc.ok()) return runc.status();
  SweepLeftovers(*runc);
  // The owner's pid in the name lets a later run sweep it if this process dies.
  base::TempDir dir = MakeTempDir(absl::StrCat("zcg-", ::getpid(), "-"));
  std::unique_ptr<RuncContainer> c(new RuncContainer(std::move(dir), *runc, NextId()));
  const std::string bundle = c->dir_.path() + "/bundle";
  const std::string rootfs = bundle + "/rootfs";
  for (const char* d : {"/proc", "/dev", "/sys", "/tmp"}) {
    if (auto s = base::MakeDirs(rootfs + d); !s.ok()) return s;
  }
  // The environment may point elsewhere, e.g. when the suite runs inside the test VM.
  const char* hog_path = std::getenv("ZLAYER_CGROUP_HOG");
  auto hog = base::ReadFile(hog_path != nullptr ? hog_path : ZLAYER_CGROUP_HOG);
  if (!hog.ok()) return hog.status();
  if (auto s = base::WriteFileAtomic(rootfs + "/hog", *hog, 0755, false); !s.ok()) return s;

  // Start from runc's own default spec, so the test follows whatever this runc needs.
  base::RunOptions spec_opts;
  spec_opts.argv = {*runc, "spec", "--bundle", bundle};
  spec_opts.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  spec_opts.timeout = absl::Seconds(30);
  auto made = base::RunCommand(spec_opts);
  if (!made.ok()) return made.status();
  if (!made->ok()) return absl::InternalError(absl::StrCat("runc spec: ", made->err));
  auto text = base::ReadFile(bundle + "/config.json");
  if (!text.ok()) return text.status();
  nlohmann::json config = nlohmann::json::parse(*text);
  config["process"]["terminal"] = false;
  config["process"]["args"] = nlohmann::json::array({"/hog"});
  for (const auto& a : spec.hog_args) config["process"]["args"].push_back(a);
  config["root"]["readonly"] = false;  // the hog signals readiness with a file
  nlohmann::json resources = nlohmann::json::object();
  if (spec.memory_limit > 0) resources["memory"]["limit"] = spec.memory_limit;
  if (spec.pids_limit > 0) resources["pids"]["limit"] = spec.pids_limit;
  config["linux"]["resources"] = resources;
  if (!spec.cgroups_path.empty()) config["linux"]["cgroupsPath"] = spec.cgroups_path;
  if (auto s = base::WriteFileAtomic(bundle + "/config.json", config.dump(), 0644, false);
      !s.ok()) {
    return s;
  }

  auto out = c->Runc({"run", "-d", "--bundle", bundle, c->id_});
  if (!out.ok()) {
    c->deleted_ = true;  // nothing to delete if run failed before creating it
    (void)c->Runc({"delete", "-f", c->id_});
    return out.status();
  }
  auto state = c->Runc({"state", c->id_});
  if (!state.ok()) return state.status();
  c->pid_ = nlohmann::json::parse(*state).value("pid", -1);
  if (c->pid_ <= 0) return absl::InternalError(absl::StrCat("runc state: no pid: ", *state));
  return c;
}

RuncContainer::~RuncContainer() {
  if (!deleted_) Delete().IgnoreError();
}

absl::Status RuncContainer::Delete() {
  if (deleted_) return absl::OkStatus();
  auto r = Runc({"delete", "-f", id_});
  if (!r.ok()) return r.status();
  deleted_ = true;
  return absl::OkStatus();
}

bool RuncContainer::Ready() const {
  return ::access((dir_.path() + "/bundle/rootfs/ready").c_str(), F_OK) == 0;
}

bool RuncContainer::WaitReady(absl::Duration timeout) const {
  return WaitFor([&] { return Ready(); }, timeout);
}

absl::StatusOr<std::string> RuncContainer::Status() const {
  auto state = Runc({"state", id_});
  if (!state.ok()) return state.status();
  return nlohmann::json::parse(*state).value("status", std::string());
}

}  // namespace zlayer::testing
