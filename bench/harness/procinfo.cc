#include "bench/harness/procinfo.h"

#include <dirent.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/fs_util.h"

namespace zlayer::bench {
namespace {

// "VmRSS:     1234 kB" -> 1234
double FieldKb(const std::string& text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, key)) continue;
    line.remove_prefix(key.size());
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    double v = 0;
    if (!parts.empty() && absl::SimpleAtod(parts[0], &v)) return v;
  }
  return 0;
}

int CountEntries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int n = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace

absl::StatusOr<ProcMem> ReadProcMem(pid_t pid) {
  auto status = base::ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return status.status();
  ProcMem m;
  m.rss_mb = FieldKb(*status, "VmRSS:") / 1024.0;
  m.anon_mb = FieldKb(*status, "RssAnon:") / 1024.0;
  m.file_mb = FieldKb(*status, "RssFile:") / 1024.0;
  m.threads = static_cast<int>(FieldKb(*status, "Threads:"));
  auto rollup = base::ReadFile(absl::StrCat("/proc/", pid, "/smaps_rollup"));
  if (rollup.ok()) m.pss_mb = FieldKb(*rollup, "Pss:") / 1024.0;
  m.fds = CountEntries(absl::StrCat("/proc/", pid, "/fd"));
  return m;
}

std::string Cmdline(pid_t pid) {
  auto raw = base::ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!raw.ok()) return "";
  std::string s = *raw;
  for (char& c : s) {
    if (c == '\0') c = ' ';
  }
  return std::string(absl::StripTrailingAsciiWhitespace(s));
}

std::vector<pid_t> FindProcesses(const std::function<bool(const std::string&)>& match) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    pid_t pid;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    const std::string cmd = Cmdline(pid);
    if (!cmd.empty() && match(cmd)) out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

double LoadAverage1() {
  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) < 1) return -1;
  return load[0];
}

absl::StatusOr<double> ProcessCpuMs(pid_t pid) {
  clockid_t clock;
  if (int err = ::clock_getcpuclockid(pid, &clock); err != 0) {
    return absl::NotFoundError(absl::StrCat("CPU clock of ", pid, ": ", std::strerror(err)));
  }
  struct timespec ts;
  if (::clock_gettime(clock, &ts) != 0) {
    return absl::NotFoundError(absl::StrCat("CPU clock of ", pid, ": ", std::strerror(errno)));
  }
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

absl::StatusOr<double> ProcStatCpuMs(pid_t pid) {
  auto stat = base::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return stat.status();
  // "pid (comm) state ppid ...": comm may hold spaces, so count from its ')'.
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) return absl::InternalError("/proc/PID/stat unreadable");
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(*stat).substr(close + 1), ' ', absl::SkipEmpty());
  double utime = 0, stime = 0;  // fields 14 and 15; f[0] is field 3
  if (f.size() < 13 || !absl::SimpleAtod(f[11], &utime) || !absl::SimpleAtod(f[12], &stime)) {
    return absl::InternalError("/proc/PID/stat: no utime/stime");
  }
  return (utime + stime) * 1e3 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ThreadCpuMs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace zlayer::bench
