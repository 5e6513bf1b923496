// Micro-benchmark: stats for N containers' cgroups, as one "list with stats" call
// would read them. The product target is 200 containers in under 50 ms in total.
//
// Creates N real cgroups (one level below each hierarchy's root, in every hierarchy
// the reader uses), optionally with a sleeping process in each, then times whole
// passes over all N in three ways:
//   resolve   per pass and container: LocateByCgroupsPath + StatsReader::Open
//             (directories opened by path, files probed) + Read, then close;
//             what a reader without caching pays
//   dirfds    readers opened once keeping directory fds; Read = openat+read+close
//             per file, no path walk beyond one component
//   filefds   readers opened once keeping every file open; Read = one pread per file
// Prints median / p10 / p90 / min per pass and per container. Needs root; removes
// its cgroups and processes on exit. Timings are printed, never asserted.
//
// --per-file adds the cost of each file on its own (pread through a kept fd), to see
// which files dominate.
//
// Usage: cgroup_stats_bench [--containers N] [--rounds R] [--procs] [--per-file]
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/unique_fd.h"
#include "cgroups/layout.h"
#include "cgroups/locate.h"
#include "cgroups/stats_reader.h"

namespace zc = zlayer::cgroups;

namespace {

std::vector<const std::string*> Dirs(const zc::CgroupPaths& p) {
  return {&p.unified, &p.cpu, &p.cpuacct, &p.memory, &p.pids, &p.blkio};
}

std::string Parent(const std::string& dir) { return dir.substr(0, dir.rfind('/')); }

bool WriteString(const std::string& path, const std::string& value) {
  FILE* f = std::fopen(path.c_str(), "we");
  if (f == nullptr) return false;
  const bool ok = std::fputs(value.c_str(), f) >= 0;
  return std::fclose(f) == 0 && ok;
}

struct Stats {
  double median, p10, p90, min;
};

Stats Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[static_cast<size_t>(q * (ms.size() - 1))]; };
  return {at(0.5), at(0.1), at(0.9), ms.front()};
}

}  // namespace

int main(int argc, char** argv) {
  int n = 200, rounds = 30;
  bool procs = false, per_file = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--containers") && i + 1 < argc) {
      n = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--procs")) {
      procs = true;
    } else if (!std::strcmp(argv[i], "--per-file")) {
      per_file = true;
    } else {
      std::fprintf(stderr, "usage: %s [--containers N] [--rounds R] [--procs] [--per-file]\n", argv[0]);
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "needs root (creates cgroups)\n");
    return 2;
  }
  auto layout = zc::HostLayout::Detect();
  auto own = zlayer::base::ReadFile("/proc/self/cgroup");
  if (!layout.ok() || !own.ok()) {
    std::fprintf(stderr, "cannot read the cgroup layout\n");
    return 1;
  }
  const std::string top = absl::StrCat("/zbench-", ::getpid());
  std::vector<std::string> cgroups_paths;
  std::vector<zc::CgroupPaths> paths;
  std::vector<pid_t> children;

  // Cleanup runs on every exit path below.
  auto cleanup = [&] {
    for (pid_t c : children) ::kill(c, SIGKILL);
    for (pid_t c : children) ::waitpid(c, nullptr, 0);
    for (const auto& p : paths) {
      for (const std::string* d : Dirs(p)) {
        if (!d->empty()) ::rmdir(d->c_str());
      }
    }
    if (!paths.empty()) {
      for (const std::string* d : Dirs(paths[0])) {
        if (!d->empty()) ::rmdir(Parent(*d).c_str());
      }
    }
  };

  for (int i = 0; i < n; ++i) {
    cgroups_paths.push_back(absl::StrCat(top, "/c", i));
    auto p = zc::LocateByCgroupsPath(*layout, cgroups_paths.back(), "", *own);
    if (!p.ok()) {
      std::fprintf(stderr, "locate: %s\n", std::string(p.status().message()).c_str());
      cleanup();
      return 1;
    }
    for (const std::string* d : Dirs(*p)) {
      if (d->empty()) continue;
      if (i == 0) {
        ::mkdir(Parent(*d).c_str(), 0755);
        // v2: hand the controllers down, or the children lack memory.current & co.
        WriteString(Parent(*d) + "/cgroup.subtree_control", "+cpu +memory +pids +io");
      }
      if (::mkdir(d->c_str(), 0755) != 0 && errno != EEXIST) {
        std::fprintf(stderr, "mkdir %s: %s\n", d->c_str(), std::strerror(errno));
        paths.push_back(*p);
        cleanup();
        return 1;
      }
    }
    paths.push_back(*std::move(p));
  }
  if (procs) {
    for (const auto& p : paths) {
      const pid_t c = ::fork();
      if (c == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) ::pause();
      }
      if (c < 0) break;
      children.push_back(c);
      for (const std::string* d : Dirs(p)) {
        if (!d->empty()) WriteString(*d + "/cgroup.procs", std::to_string(c));
      }
    }
  }

  std::printf("host mode %s, %d cgroups%s, %d rounds; per pass over all cgroups:\n",
              zlayer::core::CgroupModeName(layout->mode()), n, procs ? " with a process each" : "",
              rounds);

  auto time_pass = [&](const std::function<bool()>& pass) -> std::vector<double> {
    std::vector<double> ms;
    pass();  // warm-up: dentries, page cache, first-touch allocations
    for (int r = 0; r < rounds; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      if (!pass()) return {};
      const auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    return ms;
  };
  auto report = [&](const char* name, const std::vector<double>& ms, size_t fds) {
    if (ms.empty()) {
      std::printf("  %-8s FAILED\n", name);
      return;
    }
    const Stats s = Summarize(ms);
    std::printf(
        "  %-8s median %7.2f ms  p10 %7.2f  p90 %7.2f  min %7.2f  | %6.1f us/container"
        "  | fds held %zu\n",
        name, s.median, s.p10, s.p90, s.min, 1000.0 * s.median / n, fds);
  };

  // resolve: nothing kept between passes.
  auto resolve = time_pass([&] {
    for (int i = 0; i < n; ++i) {
      auto p = zc::LocateByCgroupsPath(*layout, cgroups_paths[i], "", *own);
      if (!p.ok()) return false;
      auto r = zc::StatsReader::Open(*p, {.cache_file_fds = false});
      if (!r.ok() || !(*r)->Read().ok()) return false;
    }
    return true;
  });
  report("resolve", resolve, 0);

  for (bool cache : {false, true}) {
    std::vector<std::unique_ptr<zc::StatsReader>> readers;
    size_t fds = 0;
    for (const auto& p : paths) {
      auto r = zc::StatsReader::Open(p, {.cache_file_fds = cache});
      if (!r.ok()) {
        std::fprintf(stderr, "open: %s\n", std::string(r.status().message()).c_str());
        cleanup();
        return 1;
      }
      fds += (*r)->open_fds();
      readers.push_back(*std::move(r));
    }
    if (!cache) std::printf("  sources: %s\n", readers[0]->Describe().c_str());
    auto ms = time_pass([&] {
      for (const auto& r : readers) {
        if (!r->Read().ok()) return false;
      }
      return true;
    });
    report(cache ? "filefds" : "dirfds", ms, fds);
  }

  if (per_file) {
    std::printf("  per file, pread through kept fds, all %d cgroups:\n", n);
    const std::pair<std::string zc::CgroupPaths::*, const char*> files[] = {
        {&zc::CgroupPaths::unified, "cpu.stat"},
        {&zc::CgroupPaths::unified, "memory.current"},
        {&zc::CgroupPaths::unified, "memory.max"},
        {&zc::CgroupPaths::unified, "memory.stat"},
        {&zc::CgroupPaths::unified, "memory.events"},
        {&zc::CgroupPaths::unified, "pids.current"},
        {&zc::CgroupPaths::unified, "pids.max"},
        {&zc::CgroupPaths::unified, "io.stat"},
        {&zc::CgroupPaths::unified, "cpu.pressure"},
        {&zc::CgroupPaths::unified, "memory.pressure"},
        {&zc::CgroupPaths::unified, "io.pressure"},
        {&zc::CgroupPaths::cpu, "cpu.stat"},
        {&zc::CgroupPaths::cpuacct, "cpuacct.usage"},
        {&zc::CgroupPaths::cpuacct, "cpuacct.stat"},
        {&zc::CgroupPaths::memory, "memory.usage_in_bytes"},
        {&zc::CgroupPaths::memory, "memory.limit_in_bytes"},
        {&zc::CgroupPaths::memory, "memory.stat"},
        {&zc::CgroupPaths::memory, "memory.oom_control"},
        {&zc::CgroupPaths::memory, "memory.kmem.usage_in_bytes"},
        {&zc::CgroupPaths::memory, "memory.kmem.tcp.usage_in_bytes"},
        {&zc::CgroupPaths::pids, "pids.current"},
        {&zc::CgroupPaths::pids, "pids.max"},
        {&zc::CgroupPaths::blkio, "blkio.throttle.io_service_bytes_recursive"},
        {&zc::CgroupPaths::blkio, "blkio.throttle.io_serviced_recursive"},
    };
    for (const auto& [field, name] : files) {
      std::vector<zlayer::base::UniqueFd> fds;
      for (const auto& p : paths) {
        const std::string& dir = p.*field;
        if (dir.empty()) break;
        zlayer::base::UniqueFd fd(::open((dir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) break;
        fds.push_back(std::move(fd));
      }
      if (fds.size() != paths.size()) continue;  // not on this host
      char buf[8192];
      auto ms = time_pass([&] {
        for (const auto& fd : fds) {
          if (::pread(fd.get(), buf, sizeof buf, 0) < 0) return false;
        }
        return true;
      });
      if (ms.empty()) continue;
      const std::string label = absl::StrCat(
          paths[0].*field == paths[0].unified ? "unified/" : "v1/", name);
      std::printf("    %-48s %6.2f us\n", label.c_str(), 1000.0 * Summarize(ms).median / n);
    }
  }

  cleanup();
  return 0;
}
