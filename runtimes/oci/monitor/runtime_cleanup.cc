#include "runtimes/oci/monitor/runtime_cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fs_util.h"

// Every function here runs once, at the container's exit, so each is marked cold:
// the compiler puts them in .text.unlikely, away from the start-up code. Placed
// among that code they cost every monitor 60 KB of resident text, because the
// kernel maps neighbouring pages with each page fault (measured: 1.30 -> 1.24 MB
// file-backed per monitor).
namespace zlayer::monitor {
namespace {

constexpr char kCgroupRoot[] = "/sys/fs/cgroup/";

[[gnu::cold]] void SkipSpace(const std::string& s, size_t* i) {
  while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\n' || s[*i] == '\t' || s[*i] == '\r')) ++*i;
}

// A JSON string without escapes; anything escaped is more than we need to trust.
[[gnu::cold]] bool PlainString(const std::string& s, size_t* i, std::string* out) {
  SkipSpace(s, i);
  if (*i >= s.size() || s[*i] != '"') return false;
  const size_t end = s.find_first_of("\"\\", *i + 1);
  if (end == std::string::npos || s[end] != '"') return false;
  out->assign(s, *i + 1, end - *i - 1);
  *i = end + 1;
  return true;
}

[[gnu::cold]] bool Expect(const std::string& s, size_t* i, char c) {
  SkipSpace(s, i);
  if (*i >= s.size() || s[*i] != c) return false;
  ++*i;
  return true;
}

// The text right after `"key":`, or npos.
[[gnu::cold]] size_t ValueOf(const std::string& s, const char* key) {
  const std::string needle = std::string("\"") + key + "\":";
  const size_t at = s.find(needle);
  return at == std::string::npos ? at : at + needle.size();
}

[[gnu::cold]] bool SafeCgroupPath(const std::string& p) {
  if (p.compare(0, sizeof kCgroupRoot - 1, kCgroupRoot) != 0) return false;
  if (p.find("/..") != std::string::npos || p.find("//") != std::string::npos) return false;
  return p.size() > sizeof kCgroupRoot - 1;
}

// rmdir of a cgroup and the cgroups below it (a container may make its own).
[[gnu::cold]] bool RemoveCgroupDir(const std::string& path) {
  if (rmdir(path.c_str()) == 0 || errno == ENOENT) return true;
  if (errno != EBUSY && errno != ENOTEMPTY) return false;
  if (DIR* d = opendir(path.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
        continue;
      }
      RemoveCgroupDir(path + "/" + e->d_name);
    }
    closedir(d);
  }
  return rmdir(path.c_str()) == 0 || errno == ENOENT;
}

}  // namespace

[[gnu::cold]] bool CgroupPathsToRemove(const std::string& state, std::vector<std::string>* paths) {
  paths->clear();
  // runc's state.json; crun and youki write other files or other keys.
  size_t i = ValueOf(state, "cgroup_paths");
  if (i == std::string::npos || !Expect(state, &i, '{')) return false;
  SkipSpace(state, &i);
  if (i < state.size() && state[i] == '}') return false;  // nothing to go by
  for (;;) {
    std::string controller, path;
    if (!PlainString(state, &i, &controller) || !Expect(state, &i, ':') ||
        !PlainString(state, &i, &path) || !SafeCgroupPath(path)) {
      return false;
    }
    bool seen = false;
    for (const auto& p : *paths) seen = seen || p == path;
    if (!seen) paths->push_back(path);  // cpu and cpuacct may share a directory
    SkipSpace(state, &i);
    if (i < state.size() && state[i] == ',') {
      ++i;
      continue;
    }
    if (!Expect(state, &i, '}')) return false;
    break;
  }
  // runc signals every process in the cgroup only without a private pid namespace;
  // with one, the kernel has killed them all when the init died.
  if (state.find("{\"type\":\"NEWPID\",\"path\":\"\"}") == std::string::npos) return false;
  // Hooks and Intel RDT groups are the runtime's business.
  if (size_t h = ValueOf(state, "poststop"); h != std::string::npos &&
                                               state.compare(h, 4, "null") != 0 &&
                                               state.compare(h, 2, "[]") != 0) {
    return false;
  }
  if (size_t r = ValueOf(state, "intel_rdt_path"); r != std::string::npos &&
                                                     state.compare(r, 2, "\"\"") != 0) {
    return false;
  }
  return true;
}

[[gnu::cold]] CleanupResult DeleteStoppedContainer(const std::string& runtime_root, const std::string& id) {
  const std::string dir = runtime_root + "/" + id;
  auto state = base::ReadFile(dir + "/state.json");
  if (!state.ok()) return CleanupResult::kUseRuntime;
  std::vector<std::string> cgroups;
  if (!CgroupPathsToRemove(*state, &cgroups)) return CleanupResult::kUseRuntime;
  // As runc does: the last processes may take a moment to leave the cgroup, so retry
  // with a doubling pause (10 ms first) before handing over.
  struct timespec pause = {0, 10'000'000};
  for (int attempt = 0; !cgroups.empty(); ++attempt) {
    if (attempt == 5) return CleanupResult::kUseRuntime;
    if (attempt > 0) {
      nanosleep(&pause, nullptr);
      pause.tv_nsec *= 2;
    }
    std::vector<std::string> busy;
    for (const auto& path : cgroups) {
      if (!RemoveCgroupDir(path)) busy.push_back(path);
    }
    cgroups.swap(busy);
  }
  // As runc's own delete does: the whole state directory.
  if (!base::RemoveTree(dir).ok()) return CleanupResult::kUseRuntime;
  return CleanupResult::kDeleted;
}

}  // namespace zlayer::monitor
