// zlayerctl top on a real terminal: tmux gives it a pty of a known size that the
// test reads back (capture-pane) and types into (send-keys), against a real agent on
// the mock backend. Each run ends by saving `stty -a` from the same terminal, so the
// test sees what the shell would find after top is gone.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "cli_runner.h"
#include "support/agent_process.h"
#include "support/test_support.h"

namespace zlayer::testing {
namespace {

constexpr absl::Duration kScreenTimeout = absl::Seconds(20);

bool IsCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// tmux's path, or nullopt and a warning; under CI=true a missing tmux fails, so
// that CI never passes without having run these.
std::optional<std::string> FindTmux() {
  auto path = base::FindExecutable("tmux");
  if (path.ok()) return *path;
  if (IsCi()) FAIL("the zlayerctl top tests need tmux (apt-get install tmux): " << path.status());
  WARN("skipped: tmux is missing");
  return std::nullopt;
}

std::vector<std::string> Lines(const std::string& text) { return absl::StrSplit(text, '\n'); }

// The visible lines that say something, trailing blanks dropped.
std::vector<std::string> Shown(const std::string& screen) {
  std::vector<std::string> out;
  for (auto& line : Lines(screen)) {
    std::string s(absl::StripTrailingAsciiWhitespace(line));
    if (!s.empty()) out.push_back(std::move(s));
  }
  return out;
}

// The table's names, top to bottom.
std::vector<std::string> Names(const std::string& screen) {
  std::vector<std::string> out;
  bool in_table = false;
  for (const auto& line : Shown(screen)) {
    if (absl::StartsWith(line, "NAME ")) {
      in_table = true;
    } else if (line == "done") {
      break;  // the script's, after top
    } else if (in_table && !absl::StartsWith(line, "...")) {
      out.push_back(line.substr(0, line.find(' ')));
    }
  }
  return out;
}

// "icanon" on, as opposed to "-icanon", among stty -a's words.
bool SttyHas(const std::string& stty, const std::string& flag) {
  for (absl::string_view word : absl::StrSplit(stty, absl::ByAnyChar(" \n;"), absl::SkipEmpty())) {
    if (word == flag) return true;
  }
  return false;
}

// A tmux server of the test's own (its socket in the test's directory), running one
// shell script in a 120x30 window, killed with everything in it at the end.
class TmuxTerminal {
 public:
  TmuxTerminal(std::string tmux, const base::TempDir& dir, const std::string& script)
      : tmux_(std::move(tmux)), socket_(dir.path() + "/tmux.sock"), home_(dir.path()) {
    const std::string path = dir.path() + "/run.sh";
    REQUIRE(base::WriteFileAtomic(path, script, 0755, false).ok());
    Run({"new-session", "-d", "-s", "top", "-x", "120", "-y", "30", "/bin/sh " + path});
  }
  ~TmuxTerminal() {
    base::RunOptions options;
    options.argv = {tmux_, "-S", socket_, "kill-server"};
    options.env = Env();
    options.timeout = absl::Seconds(10);
    base::RunCommand(options).IgnoreError();  // nothing to assert in a destructor
  }
  TmuxTerminal(const TmuxTerminal&) = delete;
  TmuxTerminal& operator=(const TmuxTerminal&) = delete;

  std::string Run(const std::vector<std::string>& args) const {
    base::RunOptions options;
    options.argv = {tmux_, "-S", socket_, "-f", "/dev/null"};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.env = Env();
    options.timeout = absl::Seconds(10);
    auto result = base::RunCommand(options);
    INFO("tmux " << absl::StrJoin(args, " "));
    REQUIRE(result.ok());
    INFO(result->err);
    REQUIRE(result->status.code == 0);
    return result->out;
  }
  std::string Screen() const { return Run({"capture-pane", "-p", "-t", "top"}); }
  std::string Format(const std::string& format) const {
    return std::string(
        absl::StripTrailingAsciiWhitespace(Run({"display", "-p", "-t", "top", format})));
  }
  void Keys(const std::string& keys) const { Run({"send-keys", "-t", "top", keys}); }

  // Polls the screen until `pred` holds; the last screen goes into the failure.
  bool WaitForScreen(const std::function<bool(const std::string&)>& pred) const {
    std::string last;
    const bool ok = WaitFor(
        [&] {
          last = Screen();
          return pred(last);
        },
        kScreenTimeout, absl::Milliseconds(100));
    if (!ok) UNSCOPED_INFO("the screen was:\n" << last);
    return ok;
  }

 private:
  std::vector<std::string> Env() const {
    return {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
            "HOME=" + home_, "SHELL=/bin/sh"};
  }
  std::string tmux_;
  std::string socket_;
  std::string home_;
};

// The script tmux runs: top, under a shell with job control as a user's would be
// (so Ctrl-C reaches top alone), then what the terminal looks like afterwards.
std::string TopScript(const base::TempDir& dir, const std::string& address,
                      const std::string& top_args) {
  const std::string d = dir.path();
  return absl::StrCat("set -m\n",
                      // The inner shell records top's pid, for SIGTERM, and becomes top.
                      "/bin/sh -c 'echo $$ > ", d, "/pid; exec ", ZLAYERCTL_BIN, " --address ",
                      address, " top ", top_args, "'\n", "echo rc=$? > ", d, "/rc\n", "stty -a > ",
                      d, "/stty\n", "echo done\n",
                      // Keeps the pane, and the screen top left, until the server is
                      // killed; tmux reports the cursor only for a live pane.
                      "exec cat\n");
}

std::string Address(const AgentProcess& agent) { return "unix://" + agent.socket_path(); }

bool HasTableOf(const std::string& screen, const std::vector<std::string>& names) {
  if (!absl::StrContains(screen, "NAME ") || !absl::StrContains(screen, "MEM USAGE / LIMIT")) {
    return false;
  }
  for (const auto& n : names) {
    if (!absl::StrContains(screen, n)) return false;
  }
  return true;
}

// After top: the script went on, the modes are cooked again, the normal screen is back.
void CheckRestored(const TmuxTerminal& tmux, const base::TempDir& dir, int expected_rc) {
  REQUIRE(tmux.WaitForScreen([](const std::string& s) { return absl::StrContains(s, "done"); }));
  CHECK(base::ReadFile(dir.path() + "/rc").value_or("") == absl::StrCat("rc=", expected_rc, "\n"));
  const std::string stty = base::ReadFile(dir.path() + "/stty").value_or("");
  INFO(stty);
  CHECK(SttyHas(stty, "icanon"));
  CHECK(SttyHas(stty, "echo"));
  CHECK(SttyHas(stty, "isig"));
  CHECK(tmux.Format("#{alternate_on}") == "0");
  CHECK(tmux.Format("#{cursor_flag}") == "1");              // the cursor is visible again
  CHECK_FALSE(absl::StrContains(tmux.Screen(), "q quit"));  // top's screen is gone
}

struct Setup {
  Setup() : cli(Address(agent)) {
    REQUIRE(cli.Run({"run", "-d", "-q", "--name", "web", "busybox"}).code == 0);
    REQUIRE(cli.Run({"run", "-d", "-q", "--name", "worker", "busybox"}).code == 0);
    REQUIRE(cli.Run({"create", "-q", "--name", "api", "busybox"}).code == 0);  // not running
  }
  AgentProcess agent;
  Cli cli;
  base::TempDir dir = MakeTempDir("zt-top-");
};

TEST_CASE("top draws, refreshes, sorts, fits the window and restores the terminal on q",
          "[integration][cli][tty]") {
  auto tmux_path = FindTmux();
  if (!tmux_path) return;
  Setup s;
  TmuxTerminal tmux(*tmux_path, s.dir, TopScript(s.dir, Address(s.agent), "--interval 200ms"));

  REQUIRE(tmux.WaitForScreen([](const std::string& screen) {
    return HasTableOf(screen, {"web-rep-1", "worker-rep-1", "api-rep-1"});
  }));
  CHECK(tmux.Format("#{alternate_on}") == "1");
  CHECK(tmux.Format("#{cursor_flag}") == "0");
  std::string screen = tmux.Screen();
  INFO(screen);
  const auto shown = Shown(screen);
  REQUIRE(shown.size() >= 3);
  CHECK(absl::StartsWith(shown[0], "zlayerctl top - "));
  CHECK(absl::StrContains(shown[0],
                          "3 containers, 2 running   sort: cpu   agent: " + Address(s.agent)));
  CHECK(absl::StartsWith(shown[1], "q quit   c cpu   m memory   n name   p pids"));
  for (const char* column :
       {"NAME", "STATE", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS", "UPTIME", "IMAGE"}) {
    CHECK(absl::StrContains(shown[2], column));
  }
  CHECK_FALSE(absl::StrContains(shown[2], "RESTARTS"));  // not in the API yet
  // By CPU: the running two (0.0% each, the mock's counter never moves; names break
  // the tie), then the one that cannot be measured.
  CHECK(Names(screen) == std::vector<std::string>{"web-rep-1", "worker-rep-1", "api-rep-1"});
  CHECK(absl::StrContains(screen, "0.0%    50MiB / 256MiB      19.5%"));
  CHECK(absl::StrContains(screen, "api-rep-1      pending   -       -                   -"));

  // It refreshes: a container started now shows up.
  REQUIRE(s.cli.Run({"run", "-d", "-q", "--name", "late", "busybox"}).code == 0);
  CHECK(tmux.WaitForScreen([](const std::string& screen) {
    return absl::StrContains(screen, "late-rep-1") &&
           absl::StrContains(screen, "4 containers, 3 running");
  }));

  // Sort keys: the header says which, the rows follow.
  tmux.Keys("n");
  CHECK(tmux.WaitForScreen([](const std::string& screen) {
    return absl::StrContains(screen, "sort: name") &&
           Names(screen) ==
               std::vector<std::string>{"api-rep-1", "late-rep-1", "web-rep-1", "worker-rep-1"};
  }));
  tmux.Keys("m");
  CHECK(tmux.WaitForScreen(
      [](const std::string& screen) { return absl::StrContains(screen, "sort: memory"); }));
  tmux.Keys("p");
  CHECK(tmux.WaitForScreen(
      [](const std::string& screen) { return absl::StrContains(screen, "sort: pids"); }));

  // A smaller window (SIGWINCH): lines are cut at its width rather than wrapped, and
  // rows that do not fit are counted instead.
  tmux.Run({"resize-window", "-t", "top", "-x", "50", "-y", "5"});
  CHECK(tmux.WaitForScreen([](const std::string& screen) {
    const auto shown = Shown(screen);
    return shown.size() == 5 && absl::StartsWith(shown[0], "zlayerctl top - ") &&
           absl::StartsWith(shown[1], "q quit") && absl::StartsWith(shown[2], "NAME") &&
           shown[4] == "... 3 more (a taller window shows them)";
  }));
  tmux.Run({"resize-window", "-t", "top", "-x", "120", "-y", "30"});
  CHECK(tmux.WaitForScreen([](const std::string& screen) { return Names(screen).size() == 4; }));

  tmux.Keys("q");
  CheckRestored(tmux, s.dir, 0);
}

TEST_CASE("Ctrl-C, SIGTERM and a lost agent end top with the terminal restored",
          "[integration][cli][tty]") {
  auto tmux_path = FindTmux();
  if (!tmux_path) return;
  Setup s;
  TmuxTerminal tmux(*tmux_path, s.dir, TopScript(s.dir, Address(s.agent), "--interval 200ms"));
  REQUIRE(tmux.WaitForScreen(
      [](const std::string& screen) { return HasTableOf(screen, {"web-rep-1"}); }));

  SECTION("Ctrl-C") {
    tmux.Keys("C-c");
    CheckRestored(tmux, s.dir, 128 + SIGINT);
  }
  SECTION("SIGTERM") {
    int pid = 0;
    REQUIRE(absl::SimpleAtoi(
        absl::StripTrailingAsciiWhitespace(base::ReadFile(s.dir.path() + "/pid").value_or("")),
        &pid));
    REQUIRE(::kill(pid, SIGTERM) == 0);
    CheckRestored(tmux, s.dir, 128 + SIGTERM);
  }
  SECTION("the agent stops") {
    CHECK(s.agent.Stop() == 0);
    CheckRestored(tmux, s.dir, 1);
    // One line on the normal screen, after the terminal was put back.
    const auto shown = Shown(tmux.Screen());
    INFO(absl::StrJoin(shown, "\n"));
    REQUIRE(shown.size() >= 2);
    CHECK(absl::StartsWith(shown.front(), "zlayerctl: UNAVAILABLE: top: lost the agent at " +
                                              Address(s.agent) + ": "));
    CHECK(shown.back() == "done");  // what wraps at 120 columns is one line of stderr
  }
}

TEST_CASE("top on a terminal: an agent that is not there, and -n", "[integration][cli][tty]") {
  auto tmux_path = FindTmux();
  if (!tmux_path) return;
  auto dir = MakeTempDir("zt-top-");

  SECTION("no agent: one line, exit 1, the terminal untouched") {
    TmuxTerminal tmux(*tmux_path, dir, TopScript(dir, "unix://" + dir.path() + "/none.sock", ""));
    CheckRestored(tmux, dir, 1);
    const auto shown = Shown(tmux.Screen());
    INFO(absl::StrJoin(shown, "\n"));
    REQUIRE(shown.size() >= 2);
    CHECK(absl::StartsWith(shown.front(), "zlayerctl: UNAVAILABLE: "));
    CHECK(absl::StrContains(absl::StrJoin(shown, ""), "is zlayer-agentd running"));
    CHECK(shown.back() == "done");
  }
  SECTION("-n 3 stops by itself and leaves the last table on the normal screen") {
    Setup s;
    TmuxTerminal tmux(*tmux_path, s.dir,
                      TopScript(s.dir, Address(s.agent), "-n 3 --interval 100ms"));
    CheckRestored(tmux, s.dir, 0);
    const std::string screen = tmux.Screen();
    INFO(screen);
    CHECK(Names(screen) == std::vector<std::string>{"web-rep-1", "worker-rep-1", "api-rep-1"});
  }
}

TEST_CASE("top without a terminal prints plain tables", "[integration][cli]") {
  Setup s;
  CliResult r = s.cli.Run({"top"});
  INFO(Describe(r));
  REQUIRE(r.code == 0);
  CHECK_FALSE(absl::StrContains(r.out, "\x1b"));
  auto lines = Shown(r.out);
  REQUIRE(lines.size() == 4);  // the header and one row per container
  CHECK(absl::StartsWith(lines[0], "NAME           STATE     CPU %   MEM USAGE / LIMIT   MEM %"));
  CHECK(absl::StartsWith(lines[1], "web-rep-1      running   0.0%    50MiB / 256MiB      19.5%"));
  CHECK(absl::StartsWith(lines[3], "api-rep-1      pending   -       -                   -"));

  r = s.cli.Run({"top", "-n", "2", "--interval", "100ms", "--service", "web"});
  REQUIRE(r.code == 0);
  std::vector<std::string> tables = absl::StrSplit(r.out, "\n\n");
  REQUIRE(tables.size() == 2);  // one per refresh, a blank line apart
  for (const auto& table : tables) {
    CHECK(absl::StartsWith(table, "NAME "));
    CHECK(Names(table) == std::vector<std::string>{"web-rep-1"});
  }

  r = s.cli.Run({"top", "--help"});
  CHECK(r.code == 0);
  CHECK(absl::StartsWith(r.out, "Usage: zlayerctl top [OPTIONS]"));
  CHECK(absl::StrContains(s.cli.Run({"--help"}).out, "\n  top       "));

  r = s.cli.Run({"top", "--interval", "1ms"});
  CHECK(r.code == 1);
  CHECK(absl::StartsWith(r.err, "zlayerctl: INVALID_ARGUMENT: --interval"));
  r = Cli("unix://" + s.dir.path() + "/none.sock").Run({"top"});
  CHECK(r.code == 1);
  CHECK(absl::StartsWith(r.err, "zlayerctl: UNAVAILABLE: "));
  CHECK(Lines(r.err).size() == 2);  // one line and its newline
}

}  // namespace
}  // namespace zlayer::testing
