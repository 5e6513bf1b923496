#include "cgroups/locate.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/fs_util.h"
#include "core/errors.h"

namespace zlayer::cgroups {
namespace {

// The v1 hierarchies the stats reader uses, and where each lands in CgroupPaths.
struct V1Slot {
  const char* controller;
  std::string CgroupPaths::*field;
};
constexpr V1Slot kV1Slots[] = {
    {"cpu", &CgroupPaths::cpu},     {"cpuacct", &CgroupPaths::cpuacct},
    {"memory", &CgroupPaths::memory}, {"pids", &CgroupPaths::pids},
    {"blkio", &CgroupPaths::blkio},
};

// Lexical clean of an absolute or relative path, like Go's path.Clean.
std::string LexicalClean(absl::string_view path) {
  const bool abs = absl::StartsWith(path, "/");
  std::vector<absl::string_view> out;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!out.empty() && out.back() != "..") {
        out.pop_back();
      } else if (!abs) {
        out.push_back(part);
      }
      continue;
    }
    out.push_back(part);
  }
  std::string joined = absl::StrJoin(out, "/");
  if (abs) return absl::StrCat("/", joined);
  return joined.empty() ? "." : joined;
}

// Go's path.Join for an absolute base: "/a" + "b/c" -> "/a/b/c"; "." adds nothing.
std::string JoinCgroup(absl::string_view base, absl::string_view rel) {
  return LexicalClean(absl::StrCat(base, "/", rel));
}

// Go's path.Dir for an absolute path.
std::string ParentCgroup(absl::string_view path) {
  std::string clean = LexicalClean(path);
  const size_t slash = clean.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "/";
  return clean.substr(0, slash);
}

// Directory for `path` in `mount`, or "" when the path is the hierarchy's root:
// the root is the whole host, never a container's own cgroup, and reading it would
// report the host's numbers as the container's.
absl::StatusOr<std::string> ContainerDir(const CgroupMount& mount, absl::string_view path) {
  if (LexicalClean(path) == "/") return std::string();
  return HostLayout::DirFor(mount, path);
}

}  // namespace

std::string DebugString(const CgroupPaths& p) {
  std::string out = core::CgroupModeName(p.mode);
  const auto add = [&](const char* name, const std::string& v) {
    if (!v.empty()) absl::StrAppend(&out, " ", name, "=", v);
  };
  add("unified", p.unified);
  add("cpu", p.cpu);
  add("cpuacct", p.cpuacct);
  add("memory", p.memory);
  add("pids", p.pids);
  add("blkio", p.blkio);
  return out;
}

const std::string* ProcCgroup::V1Path(absl::string_view controller) const {
  for (const auto& [name, path] : v1) {
    if (name == controller) return &path;
  }
  return nullptr;
}

absl::StatusOr<ProcCgroup> ParseProcCgroup(absl::string_view text) {
  ProcCgroup out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    // The path is everything after the second colon; it may itself hold colons.
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == absl::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("malformed cgroup line: ", line));
    }
    const absl::string_view id = line.substr(0, c1);
    const absl::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const absl::string_view path = line.substr(c2 + 1);
    if (!absl::StartsWith(path, "/")) {
      return absl::InvalidArgumentError(absl::StrCat("malformed cgroup line: ", line));
    }
    if (id == "0" && controllers.empty()) {
      out.unified = std::string(path);
      continue;
    }
    for (absl::string_view c : absl::StrSplit(controllers, ',', absl::SkipEmpty())) {
      out.v1.emplace_back(std::string(c), std::string(path));
    }
  }
  return out;
}

absl::StatusOr<CgroupPaths> PathsFromProcCgroup(const HostLayout& layout,
                                                absl::string_view proc_pid_cgroup,
                                                absl::string_view not_shared_with) {
  auto parsed = ParseProcCgroup(proc_pid_cgroup);
  if (!parsed.ok()) return parsed.status();
  ProcCgroup own;
  if (!not_shared_with.empty()) {
    auto p = ParseProcCgroup(not_shared_with);
    if (!p.ok()) return core::Annotate(p.status(), "own /proc/self/cgroup");
    own = *std::move(p);
  }
  CgroupPaths paths;
  paths.mode = layout.mode();
  if (const CgroupMount* u = layout.unified(); u != nullptr && parsed->unified &&
                                               parsed->unified != own.unified) {
    auto dir = ContainerDir(*u, *parsed->unified);
    if (!dir.ok()) return dir.status();
    paths.unified = *std::move(dir);
  }
  if (layout.mode() != core::CgroupMode::kV2) {
    for (const V1Slot& slot : kV1Slots) {
      const CgroupMount* m = layout.V1Mount(slot.controller);
      const std::string* path = parsed->V1Path(slot.controller);
      if (m == nullptr || path == nullptr) continue;
      const std::string* shared = own.V1Path(slot.controller);
      if (shared != nullptr && *shared == *path) continue;
      auto dir = ContainerDir(*m, *path);
      if (!dir.ok()) return dir.status();
      paths.*slot.field = *std::move(dir);
    }
  }
  if (paths.empty()) {
    return absl::FailedPreconditionError(
        "process is in no container cgroup (at the hierarchies' roots, or in the "
        "caller's own cgroups)");
  }
  return paths;
}

absl::StatusOr<CgroupPaths> LocateByPid(const HostLayout& layout, pid_t pid,
                                        const std::string& proc_root) {
  const std::string file = absl::StrCat(proc_root, "/", pid, "/cgroup");
  auto text = base::ReadFile(file);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return core::NotFound(absl::StrCat("process ", pid), "it has exited");
    }
    return text.status();
  }
  auto self = base::ReadFile(proc_root + "/self/cgroup");
  if (!self.ok()) return core::Annotate(self.status(), "own cgroup");
  auto paths = PathsFromProcCgroup(layout, *text, *self);
  if (!paths.ok()) return core::Annotate(paths.status(), absl::StrCat("process ", pid));
  return paths;
}

std::string CleanCgroupPath(absl::string_view path) {
  if (path.empty()) return "";
  if (absl::StartsWith(path, "/")) return LexicalClean(path);
  // Clean as if rooted, then drop the root: "../../x" becomes "x".
  std::string rooted = LexicalClean(absl::StrCat("/", path));
  if (rooted == "/") return ".";
  return rooted.substr(1);
}

absl::StatusOr<CgroupPaths> LocateByCgroupsPath(const HostLayout& layout,
                                                absl::string_view cgroups_path,
                                                absl::string_view container_id,
                                                absl::string_view runtime_proc_cgroup) {
  std::string inner = CleanCgroupPath(cgroups_path);
  if (inner.empty()) inner = CleanCgroupPath(container_id);
  if (inner.empty() || inner == "." || inner == "/") {
    return absl::InvalidArgumentError(
        "neither cgroupsPath nor the container id names a cgroup below the root");
  }
  const bool abs = absl::StartsWith(inner, "/");
  auto own = ParseProcCgroup(runtime_proc_cgroup);
  if (!own.ok()) return core::Annotate(own.status(), "runtime's /proc/self/cgroup");

  CgroupPaths paths;
  paths.mode = layout.mode();
  if (const CgroupMount* u = layout.unified(); u != nullptr) {
    std::string cgroup;
    if (abs || layout.mode() == core::CgroupMode::kHybrid) {
      cgroup = JoinCgroup("/", inner);
    } else if (own->unified) {
      cgroup = JoinCgroup(ParentCgroup(*own->unified), inner);
    }
    if (!cgroup.empty()) {
      auto dir = ContainerDir(*u, cgroup);
      if (!dir.ok()) return dir.status();
      paths.unified = *std::move(dir);
    }
  }
  if (layout.mode() != core::CgroupMode::kV2) {
    for (const V1Slot& slot : kV1Slots) {
      const CgroupMount* m = layout.V1Mount(slot.controller);
      if (m == nullptr) continue;
      std::string cgroup;
      if (abs) {
        cgroup = inner;
      } else if (const std::string* own_path = own->V1Path(slot.controller)) {
        cgroup = JoinCgroup(*own_path, inner);
      } else {
        continue;  // the runtime is not in this hierarchy; neither will the container be
      }
      auto dir = ContainerDir(*m, cgroup);
      if (!dir.ok()) return dir.status();
      paths.*slot.field = *std::move(dir);
    }
  }
  if (paths.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no cgroup hierarchy would hold cgroupsPath '", cgroups_path, "'"));
  }
  return paths;
}

}  // namespace zlayer::cgroups
