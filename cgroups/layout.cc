#include "cgroups/layout.h"

#include <linux/magic.h>
#include <sys/vfs.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/fs_util.h"
#include "core/errors.h"

namespace zlayer::cgroups {
namespace {

// v1 controller names the kernel can print in a cgroup mount's super options; other
// options there (rw, xattr, clone_children, name=..., release_agent=...) are not
// controllers.
constexpr absl::string_view kV1Controllers[] = {
    "cpu",     "cpuacct",   "cpuset",     "memory",  "devices", "freezer", "net_cls",
    "net_prio", "blkio",    "perf_event", "hugetlb", "pids",    "rdma",    "misc",
};

bool IsV1Controller(absl::string_view opt) {
  return std::find(std::begin(kV1Controllers), std::end(kV1Controllers), opt) !=
         std::end(kV1Controllers);
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto octal = [&](size_t j, char max) { return s[j] >= '0' && s[j] <= max; };
    if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1, '3') && octal(i + 2, '7') &&
        octal(i + 3, '7')) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                                      (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool HasDotDot(absl::string_view path) {
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return true;
  }
  return false;
}

}  // namespace

core::CgroupMode DetectMode(const std::string& root) {
  struct statfs st;
  if (::statfs(root.c_str(), &st) != 0) return core::CgroupMode::kUnknown;
  if (st.f_type == CGROUP2_SUPER_MAGIC) return core::CgroupMode::kV2;
  if (st.f_type != TMPFS_MAGIC) return core::CgroupMode::kUnknown;
  const std::string unified = root + "/unified";
  if (::statfs(unified.c_str(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) {
    return core::CgroupMode::kHybrid;
  }
  return core::CgroupMode::kV1;
}

absl::StatusOr<HostLayout> HostLayout::Detect() {
  auto text = base::ReadFile("/proc/self/mountinfo");
  if (!text.ok()) return core::Annotate(text.status(), "cgroup layout");
  return FromMountinfo(*text);
}

absl::StatusOr<HostLayout> HostLayout::FromMountinfo(absl::string_view mountinfo,
                                                     const std::string& sysroot) {
  HostLayout layout;
  bool any_v1_controller = false;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
    const size_t sep = line.find(" - ");
    if (sep == absl::string_view::npos) continue;
    std::vector<absl::string_view> pre = absl::StrSplit(line.substr(0, sep), ' ');
    std::vector<absl::string_view> post =
        absl::StrSplit(line.substr(sep + 3), ' ', absl::SkipEmpty());
    if (pre.size() < 6 || post.size() < 3) continue;
    const bool v2 = post[0] == "cgroup2";
    if (!v2 && post[0] != "cgroup") continue;
    CgroupMount m;
    m.v2 = v2;
    m.root = Unescape(pre[3]);
    m.mount_point = sysroot + Unescape(pre[4]);
    if (!v2) {
      for (absl::string_view opt : absl::StrSplit(post[2], ',')) {
        if (IsV1Controller(opt)) m.controllers.emplace_back(opt);
      }
      any_v1_controller |= !m.controllers.empty();
    }
    layout.mounts_.push_back(std::move(m));
  }
  if (layout.mounts_.empty()) {
    return absl::InvalidArgumentError("mountinfo lists no cgroup or cgroup2 mount");
  }
  // cgroup2 at /sys/fs/cgroup is v2 whatever else is mounted: runtimes decide by
  // statfs on that directory (a stray v1 net_cls mount does not make a host hybrid).
  const CgroupMount* u = layout.unified();
  if (u == nullptr) {
    layout.mode_ = core::CgroupMode::kV1;
  } else if (u->mount_point == sysroot + "/sys/fs/cgroup" || !any_v1_controller) {
    layout.mode_ = core::CgroupMode::kV2;
  } else {
    layout.mode_ = core::CgroupMode::kHybrid;
  }
  return layout;
}

const CgroupMount* HostLayout::unified() const {
  for (const auto& m : mounts_) {
    if (m.v2) return &m;
  }
  return nullptr;
}

const CgroupMount* HostLayout::V1Mount(absl::string_view controller) const {
  for (const auto& m : mounts_) {
    if (m.v2) continue;
    if (std::find(m.controllers.begin(), m.controllers.end(), controller) !=
        m.controllers.end()) {
      return &m;
    }
  }
  return nullptr;
}

absl::StatusOr<std::string> HostLayout::DirFor(const CgroupMount& mount,
                                               absl::string_view path) {
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("cgroup path is not absolute: ", path));
  }
  if (HasDotDot(path)) {
    return absl::InvalidArgumentError(absl::StrCat("cgroup path contains '..': ", path));
  }
  absl::string_view rel = path;
  if (mount.root != "/") {
    // The mount shows only the subtree at mount.root; the path must lie inside it.
    if (!absl::StartsWith(path, mount.root) ||
        (path.size() > mount.root.size() && path[mount.root.size()] != '/')) {
      return core::NotFound(
          absl::StrCat("cgroup ", path),
          absl::StrCat("outside the part of the hierarchy mounted at ", mount.mount_point));
    }
    rel = path.substr(mount.root.size());
  }
  absl::ConsumePrefix(&rel, "/");
  std::string dir = mount.mount_point;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (!rel.empty()) absl::StrAppend(&dir, "/", rel);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace zlayer::cgroups
