#include "runtimes/oci/user_lookup.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/unique_fd.h"
#include "core/errors.h"

namespace zlayer::oci {
namespace {

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

std::vector<PasswdEntry> ParsePasswd(const std::string& text) {
  std::vector<PasswdEntry> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ':');
    if (f.size() < 7) continue;
    PasswdEntry e;
    e.name = std::string(f[0]);
    if (!absl::SimpleAtoi(f[2], &e.uid) || !absl::SimpleAtoi(f[3], &e.gid)) continue;
    e.home = std::string(f[5]);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<GroupEntry> ParseGroup(const std::string& text) {
  std::vector<GroupEntry> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ':');
    if (f.size() < 4) continue;
    GroupEntry e;
    e.name = std::string(f[0]);
    if (!absl::SimpleAtoi(f[2], &e.gid)) continue;
    for (absl::string_view m : absl::StrSplit(f[3], ',', absl::SkipEmpty())) {
      e.members.emplace_back(m);
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool IsNumber(absl::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == absl::string_view::npos;
}

}  // namespace

std::string ReadFileInRoot(const std::string& rootfs, const std::string& path, size_t max_bytes) {
  base::UniqueFd root(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return {};
  struct open_how how = {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const std::string rel = path[0] == '/' ? path.substr(1) : path;
  base::UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof how)));
  if (!fd) return {};
  std::string out;
  char buf[8192];
  while (out.size() < max_bytes) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::StatusOr<ResolvedUser> ResolveUserFrom(const std::string& passwd_text,
                                             const std::string& group_text,
                                             const std::string& spec) {
  ResolvedUser out;
  if (spec.empty()) {
    // root; still pick up /root and root's supplementary groups below.
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(spec, absl::MaxSplits(':', 1));
  const std::string user_part = spec.empty() ? "0" : std::string(parts[0]);
  const std::optional<std::string> group_part =
      parts.size() > 1 ? std::optional<std::string>(std::string(parts[1])) : std::nullopt;
  const auto passwd = ParsePasswd(passwd_text);
  const auto groups = ParseGroup(group_text);

  const PasswdEntry* entry = nullptr;
  if (IsNumber(user_part)) {
    if (!absl::SimpleAtoi(user_part, &out.uid)) {
      return core::InvalidSpec(absl::StrCat("user '", spec, "': uid out of range"));
    }
    for (const auto& e : passwd) {
      if (e.uid == out.uid) {
        entry = &e;
        break;
      }
    }
  } else {
    for (const auto& e : passwd) {
      if (e.name == user_part) {
        entry = &e;
        break;
      }
    }
    if (entry == nullptr) {
      return core::InvalidSpec(absl::StrCat("user '", user_part,
                                            "' is not in the image's /etc/passwd; use a "
                                            "numeric uid or a user the image defines"));
    }
    out.uid = entry->uid;
  }
  if (entry != nullptr) {
    out.gid = entry->gid;
    if (!entry->home.empty()) out.home = entry->home;
  }
  if (group_part) {
    if (IsNumber(*group_part)) {
      if (!absl::SimpleAtoi(*group_part, &out.gid)) {
        return core::InvalidSpec(absl::StrCat("user '", spec, "': gid out of range"));
      }
    } else {
      bool found = false;
      for (const auto& g : groups) {
        if (g.name == *group_part) {
          out.gid = g.gid;
          found = true;
          break;
        }
      }
      if (!found) {
        return core::InvalidSpec(
            absl::StrCat("group '", *group_part, "' is not in the image's /etc/group"));
      }
    }
  } else if (entry != nullptr) {
    // Supplementary groups come with a named passwd entry, as with initgroups().
    for (const auto& g : groups) {
      for (const auto& m : g.members) {
        if (m == entry->name && g.gid != out.gid) out.additional_gids.push_back(g.gid);
      }
    }
  }
  return out;
}

absl::StatusOr<ResolvedUser> ResolveUser(const std::string& rootfs, const std::string& spec) {
  return ResolveUserFrom(ReadFileInRoot(rootfs, "/etc/passwd"),
                         ReadFileInRoot(rootfs, "/etc/group"), spec);
}

}  // namespace zlayer::oci
