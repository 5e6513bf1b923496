// Memory and thread figures of live processes, from /proc.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace zlayer::bench {

struct ProcMem {
  double rss_mb = 0;   // VmRSS
  double pss_mb = 0;   // smaps_rollup Pss: shared pages divided among their users
  double anon_mb = 0;  // RssAnon: heap, stacks (what the process itself allocated)
  double file_mb = 0;  // RssFile: mapped binaries and libraries (shared with others)
  int threads = 0;
  int fds = 0;
};

absl::StatusOr<ProcMem> ReadProcMem(pid_t pid);

// NUL-separated /proc/PID/cmdline as one string with spaces; empty if gone.
std::string Cmdline(pid_t pid);

// Every live pid whose command line satisfies `match`.
std::vector<pid_t> FindProcesses(const std::function<bool(const std::string& cmdline)>& match);

// 1-minute load average.
double LoadAverage1();

// CPU time a process has used, all its threads (also those that ended), in ms:
// the kernel's per-process CPU clock (clock_getcpuclockid), nanosecond-exact.
absl::StatusOr<double> ProcessCpuMs(pid_t pid);
// The same from /proc/PID/stat: utime + stime, in clock ticks (10 ms here).
absl::StatusOr<double> ProcStatCpuMs(pid_t pid);
// CPU time of the calling thread, in ms.
double ThreadCpuMs();

}  // namespace zlayer::bench
