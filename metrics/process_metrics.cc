#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace zlayer::metrics {
namespace {

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Seconds since the epoch at which the system booted (/proc/stat's btime).
std::optional<double> BootTime() {
  const std::string stat = ReadSmallFile("/proc/stat");
  for (absl::string_view line : absl::StrSplit(stat, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      double v;
      if (absl::SimpleAtod(line, &v)) return v;
    }
  }
  return std::nullopt;
}

size_t OpenFds() {
  size_t n = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) n += entry->d_name[0] != '.';
    ::closedir(dir);
    if (n > 0) --n;  // the directory stream's own descriptor
  }
  return n;
}

}  // namespace

void WriteProcessMetrics(TextWriter& out) {
  const std::string stat = ReadSmallFile("/proc/self/stat");
  // The command name (field 2) may hold spaces; fields are counted after its ')'.
  const auto close = stat.rfind(')');
  if (close != std::string::npos) {
    const std::vector<absl::string_view> fields =
        absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ', absl::SkipEmpty());
    // Field 3 (state) is fields[0]: utime is 14, stime 15, starttime 22, vsize 23, rss 24.
    auto field = [&](int number) -> std::optional<double> {
      const size_t index = static_cast<size_t>(number - 3);
      double v;
      if (index < fields.size() && absl::SimpleAtod(fields[index], &v)) return v;
      return std::nullopt;
    };
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    if (auto utime = field(14), stime = field(15); utime && stime) {
      out.Single("process_cpu_seconds_total", "counter", "User and system CPU time, in seconds.",
                 (*utime + *stime) / ticks);
    }
    if (auto rss = field(24)) {
      out.Single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                 *rss * page);
    }
    if (auto vsize = field(23)) {
      out.Single("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", *vsize);
    }
    if (auto start = field(22), boot = BootTime(); start && boot) {
      out.Single("process_start_time_seconds", "gauge",
                 "Start time of the process since the Unix epoch, in seconds.",
                 *boot + *start / ticks);
    }
  }
  out.Single("process_open_fds", "gauge", "Open file descriptors.", static_cast<double>(OpenFds()));
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.Single("process_max_fds", "gauge", "Limit on open file descriptors.",
               static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace zlayer::metrics
