// zlayer-monitor: one per container, in the spirit of conmon.
//
// The agent starts it; it detaches (new session, out of the agent's process tree),
// becomes the child subreaper, starts the container with the OCI runtime
// (`run --detach`), holds the container's stdout and stderr and writes the log, reaps
// the container's init, and writes an exit record once all output is drained. Then
// it deletes the runtime's state and exits. The agent may die and come back at any
// time meanwhile: nothing here depends on it after start-up.
//
// Files in --state-dir:
//   monitor.json  {"monitor_pid", "monitor_start_ticks", "init_pid", "started_at"}
//   exit.json     {"exit_code", "signal", "oom_killed", "finished_at", "error"}
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cgroups/layout.h"
#include "cgroups/locate.h"
#include "cgroups/oom.h"
#include "runtimes/oci/monitor/log_writer.h"
#include "runtimes/oci/monitor/probe.h"
#include "runtimes/oci/monitor/runtime_cleanup.h"

extern char** environ;

namespace zlayer::monitor {
namespace {

struct Options {
  std::string id;
  std::string bundle;
  std::string runtime;
  std::string runtime_root;
  std::string state_dir;
  std::string cgroups_path;
  std::vector<std::string> cgroup_procs;  // cgroup.procs files to join first
  LogOptions log;
  int sync_fd = -1;
  int drain_timeout_ms = 5000;
};

[[noreturn]] void Die(const char* what) {
  fprintf(stderr, "zlayer-monitor: %s: %s\n", what, strerror(errno));
  _exit(1);
}

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--id") o->id = v;
    else if (k == "--bundle") o->bundle = v;
    else if (k == "--runtime") o->runtime = v;
    else if (k == "--runtime-root") o->runtime_root = v;
    else if (k == "--state-dir") o->state_dir = v;
    else if (k == "--cgroups-path") o->cgroups_path = v;
    else if (k == "--cgroup-procs") o->cgroup_procs.push_back(v);
    else if (k == "--log-path") o->log.path = v;
    else if (k == "--log-max-bytes") o->log.max_bytes = strtoull(v, nullptr, 10);
    else if (k == "--log-max-files") o->log.max_files = atoi(v);
    else if (k == "--log-max-line") o->log.max_line = strtoull(v, nullptr, 10);
    else if (k == "--sync-fd") o->sync_fd = atoi(v);
    else if (k == "--drain-timeout-ms") o->drain_timeout_ms = atoi(v);
    else return false;
  }
  return !o->id.empty() && !o->bundle.empty() && !o->runtime.empty() &&
         !o->runtime_root.empty() && !o->state_dir.empty() && !o->log.path.empty();
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

// temp file, rename: a reader sees the old file or the whole new one. `durable`
// adds the fsyncs (file, then directory) that make it survive a power loss too.
void WriteAtomic(const std::string& dir, const char* name, const std::string& content,
                 bool durable = true) {
  const std::string tmp = dir + "/." + name + ".tmp";
  const std::string path = dir + "/" + name;
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (durable) fsync(fd);
  close(fd);
  rename(tmp.c_str(), path.c_str());
  if (!durable) return;
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// Field 22 of /proc/PID/stat: lets the agent tell this process from a recycled pid.
unsigned long long StartTicks(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = fopen(path, "re");
  if (!f) return 0;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char* p = strrchr(buf, ')');  // the command name may hold spaces
  if (!p) return 0;
  int field = 2;
  for (; *p && field < 22; ++p) {
    if (*p == ' ') ++field;
  }
  return strtoull(p, nullptr, 10);
}

std::string ReadSome(int fd, size_t limit) {
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

pid_t ReadPidFile(const std::string& path) {
  FILE* f = fopen(path.c_str(), "re");
  if (!f) return -1;
  long pid = -1;
  if (fscanf(f, "%ld", &pid) != 1) pid = -1;
  fclose(f);
  return static_cast<pid_t>(pid);
}

// The agent runs OOM-protected (its unit's OOMScoreAdjust=-500) and we inherit that,
// as we should: a monitor killed by the OOM killer loses its container's logs and
// exit record. Containers and exec'd processes must not be protected, and not every
// runtime applies a config's oomScoreAdj of 0 (crun 1.8 skips it). So the runtime
// is started with 0, which a raise can always set; ours is put back after (that
// takes CAP_SYS_RESOURCE, which the agent's unit has; without it we stay at 0).
class ChildOomScore {
 public:
  ChildOomScore() {
    int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    const std::string text = ReadSome(fd, 32);
    close(fd);
    saved_ = atoi(text.c_str());
    if (saved_ < 0) Write("0");
  }
  ~ChildOomScore() {
    if (saved_ < 0) Write(std::to_string(saved_));
  }
  ChildOomScore(const ChildOomScore&) = delete;
  ChildOomScore& operator=(const ChildOomScore&) = delete;

 private:
  static void Write(const std::string& value) {
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)!write(fd, value.data(), value.size());
    close(fd);
  }
  int saved_ = 0;
};

// Runs a command with the given stdio (and, with keep_fd3, our fd 3 as its fd 3)
// and waits for it.
int RunAndWait(const std::vector<std::string>& args, int out_fd, int err_fd,
               bool keep_fd3 = false) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  posix_spawn_file_actions_adddup2(&fa, devnull, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd >= 0 ? out_fd : devnull, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd >= 0 ? err_fd : devnull, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, keep_fd3 ? 4 : 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc;
  {
    ChildOomScore unprotected;
    rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(devnull);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

// Exit code for a runtime that failed to start the process, as Docker reports it.
int RuntimeErrorCode(const std::string& err) {
  if (err.find("no such file or directory") != std::string::npos ||
      err.find("executable file not found") != std::string::npos) {
    return 127;
  }
  if (err.find("permission denied") != std::string::npos) return 126;
  return 128;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  // Keep the tail: the runtime's last words say what went wrong.
  if (s.size() > 4000) s = s.substr(s.size() - 4000);
  return s;
}

void Report(int sync_fd, const std::string& json) {
  if (sync_fd < 0) return;
  WriteAll(sync_fd, json + "\n");
  close(sync_fd);
}

int Run(const Options& o) {
  // Detach: the agent reaps the intermediate process at once; the container and its
  // monitor then live in their own session, outside the agent's process tree.
  pid_t child = fork();
  if (child < 0) Die("fork");
  if (child > 0) _exit(0);
  setsid();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) Die("PR_SET_CHILD_SUBREAPER");
  // Leave the agent's cgroup, so restarting the agent's unit never touches us.
  for (const auto& procs : o.cgroup_procs) {
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      WriteAll(fd, "0");
      close(fd);
    }
  }

  signal(SIGPIPE, SIG_IGN);
  // The agent going away (or systemd stopping its unit) must not stop the container.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) Die("signalfd");

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) Die("pipe2");
  // Bigger pipes: fewer wake-ups, and a chatty container rarely waits for us.
  fcntl(out_pipe[0], F_SETPIPE_SZ, 1 << 20);
  fcntl(err_pipe[0], F_SETPIPE_SZ, 1 << 20);

  LogWriter log(o.log);
  if (!log.Open()) {
    Report(o.sync_fd, "{\"ok\":false,\"error\":\"open log " + JsonEscape(o.log.path) + ": " +
                          JsonEscape(strerror(errno)) + "\"}");
    return 1;
  }

  const std::string pid_file = o.state_dir + "/init.pid";
  unlink(pid_file.c_str());
  // The write ends go to the runtime, which hands them to the container's init.
  const int rc = RunAndWait({o.runtime, "--root", o.runtime_root, "run", "--detach", "--bundle",
                             o.bundle, "--pid-file", pid_file, o.id},
                            out_pipe[1], err_pipe[1]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  const std::string started_at = NowRfc3339Nano();
  pid_t init_pid = rc == 0 ? ReadPidFile(pid_file) : -1;
  if (rc != 0 || init_pid <= 0) {
    // Nothing ran: what is in the pipes is the runtime's own complaint.
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    std::string err = Trim(ReadSome(err_pipe[0], 64 << 10) + ReadSome(out_pipe[0], 16 << 10));
    if (err.empty()) err = "the OCI runtime exited with " + std::to_string(rc) + " and said nothing";
    const int code = RuntimeErrorCode(err);
    WriteAtomic(o.state_dir, "exit.json",
                "{\"exit_code\":" + std::to_string(code) +
                    ",\"signal\":0,\"oom_killed\":false,\"runtime_error\":true,\"finished_at\":\"" +
                    NowRfc3339Nano() + "\",\"error\":\"" + JsonEscape(err) + "\"}\n");
    Report(o.sync_fd, "{\"ok\":false,\"error\":\"" + JsonEscape(err) + "\"}");
    // The runtime may have left a half-made container behind.
    RunAndWait({o.runtime, "--root", o.runtime_root, "delete", "--force", o.id}, -1, -1);
    return 0;
  }

  // Where the runtime put the container, for the OOM counter at exit. A new cgroup
  // starts at zero, so zero is the baseline even if the init was OOM-killed already.
  cgroups::CgroupPaths paths;
  bool have_paths = false;
  if (auto layout = cgroups::HostLayout::Detect(); layout.ok()) {
    auto located = cgroups::LocateByPid(*layout, init_pid);
    if (!located.ok() && !o.cgroups_path.empty()) {
      // The init is already gone: compute where the runtime (our child, in our
      // cgroups) put it from the bundle's cgroupsPath.
      FILE* f = fopen("/proc/self/cgroup", "re");
      std::string self_cgroup;
      if (f) {
        char line[1024];
        while (fgets(line, sizeof line, f)) self_cgroup += line;
        fclose(f);
      }
      located = cgroups::LocateByCgroupsPath(*layout, o.cgroups_path, o.id, self_cgroup);
    }
    if (located.ok()) {
      paths = *located;
      have_paths = true;
    }
  }

  // Not fsynced: the pids in it mean nothing after a power loss (the container is
  // gone then too), and a missing or torn record reads as "monitor gone" on
  // recovery, which is then the truth. Two fsyncs less before the agent hears back.
  const pid_t self = getpid();
  WriteAtomic(o.state_dir, "monitor.json",
              "{\"monitor_pid\":" + std::to_string(self) +
                  ",\"monitor_start_ticks\":" + std::to_string(StartTicks(self)) +
                  ",\"init_pid\":" + std::to_string(init_pid) +
                  ",\"init_start_ticks\":" + std::to_string(StartTicks(init_pid)) +
                  ",\"started_at\":\"" + started_at + "\"}\n",
              /*durable=*/false);
  Report(o.sync_fd, "{\"ok\":true,\"init_pid\":" + std::to_string(init_pid) +
                        ",\"monitor_pid\":" + std::to_string(self) + "}");

  // Start-up parsed /proc/self/mountinfo, which grows with every container's rootfs
  // mount (about 60 KB more at 200 containers); give those freed heap pages back
  // before the long wait, so a monitor's footprint does not grow with the host's.
  malloc_trim(0);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) Die("epoll_create1");
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = out_pipe[0];
  epoll_ctl(ep, EPOLL_CTL_ADD, out_pipe[0], &ev);
  ev.data.fd = err_pipe[0];
  epoll_ctl(ep, EPOLL_CTL_ADD, err_pipe[0], &ev);
  ev.data.fd = sigfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, sigfd, &ev);

  bool init_done = false;
  int init_status = 0;
  int open_streams = 2;
  struct timespec exited_at = {};
  std::vector<char> buf(64 << 10);
  for (;;) {
    int timeout = -1;
    if (init_done) {
      // Output still held open by a stray process: give up after the drain timeout.
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      const long elapsed = (now.tv_sec - exited_at.tv_sec) * 1000 +
                           (now.tv_nsec - exited_at.tv_nsec) / 1000000;
      timeout = static_cast<int>(o.drain_timeout_ms - elapsed);
      if (open_streams == 0 || timeout <= 0) break;
    }
    struct epoll_event events[4];
    const int n = epoll_wait(ep, events, 4, timeout);
    if (n < 0 && errno != EINTR) Die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == sigfd) {
        struct signalfd_siginfo si;
        while (read(sigfd, &si, sizeof si) == sizeof si) {
        }
        // Reap everything: the init, and orphans re-parented to us (exec'd processes).
        for (;;) {
          int status;
          const pid_t pid = waitpid(-1, &status, WNOHANG);
          if (pid <= 0) break;
          if (pid == init_pid && !init_done) {
            init_done = true;
            init_status = status;
            clock_gettime(CLOCK_MONOTONIC, &exited_at);
          }
        }
        continue;
      }
      const ssize_t r = read(fd, buf.data(), buf.size());
      if (r > 0) {
        log.Feed(fd == out_pipe[0] ? 0 : 1, buf.data(), static_cast<size_t>(r));
      } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        log.Close(fd == out_pipe[0] ? 0 : 1);
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        --open_streams;
      }
    }
    if (!init_done && open_streams == 0) {
      // Both streams closed but the init lives on (it closed its stdio): keep
      // waiting for it, only for SIGCHLD now.
      continue;
    }
  }
  log.Close(0);
  log.Close(1);

  int exit_code = 0, sig = 0;
  if (WIFEXITED(init_status)) {
    exit_code = WEXITSTATUS(init_status);
  } else if (WIFSIGNALED(init_status)) {
    sig = WTERMSIG(init_status);
    exit_code = 128 + sig;
  }
  // The OOM killer's work shows in the cgroup's counter; it is read before the
  // runtime deletes the cgroup. A kill by SIGKILL with the counter up is an OOM kill.
  bool oom = false;
  uint64_t oom_kills = 0;
  if (have_paths) {
    auto count = cgroups::ReadOomKillCount(paths);
    if (count.ok()) oom_kills = *count;
    oom = oom_kills > 0 && sig == SIGKILL;
  }
  WriteAtomic(o.state_dir, "exit.json",
              "{\"exit_code\":" + std::to_string(exit_code) + ",\"signal\":" +
                  std::to_string(sig) + ",\"oom_killed\":" + (oom ? "true" : "false") +
                  ",\"oom_kills\":" + std::to_string(oom_kills) +
                  ",\"runtime_error\":false,\"finished_at\":\"" + NowRfc3339Nano() +
                  "\",\"error\":\"\"}\n");
  // The runtime's state and the container's cgroup go now; the agent still finds
  // everything it needs in exit.json. Done here when we can: one runtime process
  // less per container (see runtime_cleanup.h).
  if (DeleteStoppedContainer(o.runtime_root, o.id) != CleanupResult::kDeleted) {
    RunAndWait({o.runtime, "--root", o.runtime_root, "delete", "--force", o.id}, -1, -1);
  }
  return 0;
}

// `zlayer-monitor exec RUNTIME ROOT PID_FILE ID`: the agent's helper for one exec.
// The runtime's own foreground exec copies output through pipes and waits until
// every holder closes them, so a background child of the exec'd command would
// hang it. Instead we run `exec --detach` (the process gets our stdout and stderr
// as they are), become the subreaper that inherits the process when the runtime
// exits, and exit with the process's status. fd 3 carries the process spec.
int RunExec(int argc, char** argv) {
  if (argc != 6) return 2;
  const std::string runtime = argv[2], root = argv[3], pid_file = argv[4], id = argv[5];
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) Die("PR_SET_CHILD_SUBREAPER");
  const int rc = RunAndWait({runtime, "--root", root, "exec", "--detach", "--process",
                             "/proc/self/fd/3", "--pid-file", pid_file, id},
                            1, 2, /*keep_fd3=*/true);
  // From here on we must not hold the output open ourselves.
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  dup2(devnull, 1);
  dup2(devnull, 2);
  close(3);
  if (rc != 0) return 126;  // could not run it; the runtime said why on stderr
  const pid_t pid = ReadPidFile(pid_file);
  if (pid <= 0) return 126;
  // The process was the runtime's child; now it is ours (zombie or not).
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(-1, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 125;  // it was never handed to us
    if (r == pid) break;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  // Mirror death by signal: the agent reads it as 128 + N, like any shell.
  return 128 + WTERMSIG(status);
}

}  // namespace
}  // namespace zlayer::monitor

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "exec") return zlayer::monitor::RunExec(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "probe") return zlayer::monitor::RunProbe(argc, argv);
  zlayer::monitor::Options options;
  if (!zlayer::monitor::ParseOptions(argc, argv, &options)) {
    fprintf(stderr,
            "usage: zlayer-monitor --id ID --bundle DIR --runtime PATH --runtime-root DIR "
            "--state-dir DIR --log-path FILE [--log-max-bytes N] [--log-max-files N] "
            "[--log-max-line N] [--cgroup-procs FILE]... [--sync-fd FD] [--drain-timeout-ms MS]\n"
            "Started by zlayer-agentd, one per container; not meant to be run by hand.\n");
    return 2;
  }
  return zlayer::monitor::Run(options);
}
