// zlayerctl, the real binary, against a real zlayer-agentd on the mock backend: from
// apply to down, checking output and exit codes as scripts would.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "base/unique_fd.h"
#include "cli_runner.h"
#include "nlohmann/json.hpp"
#include "support/agent_process.h"
#include "support/test_support.h"

namespace zlayer::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(absl::StripTrailingAsciiWhitespace(text), '\n', absl::SkipEmpty());
}

// Names in the first column of a table, header skipped.
std::vector<std::string> FirstColumn(const std::string& table) {
  std::vector<std::string> out;
  auto lines = Lines(table);
  for (size_t i = 1; i < lines.size(); ++i) out.emplace_back(lines[i].substr(0, lines[i].find(' ')));
  return out;
}

// A failure is one line on stderr, "zlayerctl: CODE: message", and exit code 1.
void CheckFails(const CliResult& r, const std::string& code) {
  INFO(Describe(r));
  CHECK(r.code == 1);
  CHECK(absl::StartsWith(r.err, "zlayerctl: " + code + ": "));
  CHECK(Lines(r.err).size() == 1);
}

// A loopback port nobody listens on right now (the kernel's pick for port 0).
int FreeTcpPort() {
  base::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  return ntohs(addr.sin_port);
}

std::string Address(const AgentProcess& agent) { return "unix://" + agent.socket_path(); }

std::string WriteSpec(const base::TempDir& dir, const std::string& name, const std::string& yaml) {
  const std::string path = dir.path() + "/" + name;
  REQUIRE(base::WriteFileAtomic(path, yaml, 0644, false).ok());
  return path;
}

TEST_CASE("apply, watch and down a deployment", "[integration][cli]") {
  AgentProcess agent;
  Cli cli(Address(agent));
  const std::string spec = SourcePath("deploy/examples/web-and-worker.yaml");

  CliResult r = cli.Run({"apply", "-f", spec});
  INFO(Describe(r));
  REQUIRE(r.code == 0);
  CHECK(Lines(r.out) == std::vector<std::string>{
                           "web-rep-1 created", "web-rep-2 created", "worker-rep-1 created",
                           "deployment shop: 3 created, 0 recreated, 0 started, 0 unchanged, 0 removed"});

  // ps: the table the issue asks for, running replicas only.
  r = cli.Run({"ps"});
  REQUIRE(r.code == 0);
  const auto header = Lines(r.out).at(0);
  for (const char* column : {"NAME", "IMAGE", "STATE", "RESTARTS", "UPTIME", "CPU %", "MEMORY"}) {
    CHECK(absl::StrContains(header, column));
  }
  // No restart policy in this spec: every RESTARTS cell is 0.
  const size_t restarts_at = header.find("RESTARTS");
  const std::vector<std::string> rows = Lines(r.out);
  for (size_t i = 1; i < rows.size(); ++i) CHECK(rows[i].substr(restarts_at, 2) == "0 ");
  CHECK(FirstColumn(r.out) == std::vector<std::string>{"web-rep-1", "web-rep-2", "worker-rep-1"});
  CHECK(absl::StrContains(r.out, "registry.example.com/shop/web:2.3.1"));
  CHECK(absl::StrContains(r.out, "running"));
  CHECK(absl::StrContains(r.out, "0.0%"));            // the mock's CPU counter never moves
  CHECK(absl::StrContains(r.out, "50MiB / 256MiB"));  // the mock's memory and limit

  // -o json: every summary, its stats and the CPU % from two samples.
  r = cli.Run({"ps", "-o", "json"});
  REQUIRE(r.code == 0);
  auto ps = nlohmann::json::parse(r.out);
  REQUIRE(ps.size() == 3);
  CHECK(ps[0]["name"] == "web-rep-1");
  CHECK(ps[0]["deployment"] == "shop");
  CHECK(ps[0]["state"]["phase"] == "CONTAINER_PHASE_RUNNING");
  CHECK(ps[0]["cpu_percent"] == 0.0);
  CHECK(ps[0]["stats"]["memory_bytes"] == "52428800");

  // Applying the same spec again changes nothing.
  r = cli.Run({"apply", "-f", spec});
  REQUIRE(r.code == 0);
  CHECK(Lines(r.out).at(0) == "web-rep-1 unchanged");
  CHECK(absl::StrContains(r.out, "0 created, 0 recreated, 0 started, 3 unchanged, 0 removed"));

  // logs: "web" is web-rep-1.
  r = cli.Run({"logs", "web"});
  REQUIRE(r.code == 0);
  CHECK(Lines(r.out) == std::vector<std::string>{"[web-rep-1] Container started",
                                                 "[web-rep-1] Executing command...",
                                                 "[web-rep-1] Command completed successfully"});
  r = cli.Run({"logs", "--tail", "1", "--timestamps", "web-rep-2"});
  REQUIRE(r.code == 0);
  CHECK(r.out.empty());
  CHECK(absl::EndsWith(r.err, "Z mock error line\n"));  // stderr lines go to stderr

  // exec streams the output and exits with the command's code (the mock echoes).
  r = cli.Run({"exec", "web", "--", "echo", "hi"});
  CHECK(r.code == 0);
  CHECK(r.out == "echo hi");

  // stats --no-stream: one table of every running container.
  r = cli.Run({"stats", "--no-stream"});
  REQUIRE(r.code == 0);
  CHECK(FirstColumn(r.out) == std::vector<std::string>{"web-rep-1", "web-rep-2", "worker-rep-1"});
  CHECK(absl::StrContains(r.out, "19.5%"));  // 50 MiB of 256 MiB

  // inspect -o json: an array of ContainerInfo.
  r = cli.Run({"inspect", "-o", "json", "web-rep-2"});
  REQUIRE(r.code == 0);
  auto info = nlohmann::json::parse(r.out);
  REQUIRE(info.size() == 1);
  CHECK(info[0]["deployment"] == "shop");
  CHECK(info[0]["spec"]["scale"]["replicas"] == 2);
  CHECK(info[0]["spec"]["env"]["LOG_LEVEL"] == "info");
  r = cli.Run({"inspect", "worker"});
  REQUIRE(r.code == 0);
  CHECK(absl::StrContains(r.out, "Name:        worker-rep-1"));
  CHECK(absl::StrContains(r.out, "Deployment:  shop"));

  // A killed replica: wait reports the outcome and exits with its code; apply brings
  // it back.
  REQUIRE(cli.Run({"kill", "web-rep-2"}).code == 0);
  r = cli.Run({"wait", "web-rep-2"});
  CHECK(r.code == 137);
  CHECK(r.out == "137 signal SIGKILL\n");
  r = cli.Run({"ps"});
  CHECK(FirstColumn(r.out) == std::vector<std::string>{"web-rep-1", "worker-rep-1"});
  r = cli.Run({"ps", "-a"});
  CHECK(absl::StrContains(r.out, "exited (137)"));
  r = cli.Run({"apply", "-f", spec});
  REQUIRE(r.code == 0);
  CHECK(absl::StrContains(r.out, "web-rep-2 recreated: was exited (137)"));

  // A changed spec: one replica fewer and another environment.
  auto dir = MakeTempDir();
  auto yaml = base::ReadFile(spec);
  REQUIRE(yaml.ok());
  std::string changed = *yaml;
  changed.replace(changed.find("replicas: 2"), 11, "replicas: 1");
  changed.replace(changed.find("LOG_LEVEL: info"), 15, "LOG_LEVEL: warn");
  const std::string changed_path = WriteSpec(dir, "shop.yaml", changed);
  r = cli.Run({"apply", "-f", changed_path, "--dry-run"});
  REQUIRE(r.code == 0);
  CHECK(absl::StrContains(r.out, "web-rep-1 recreated: spec changed: env, scale (dry run)"));
  CHECK(absl::StrContains(r.out, "web-rep-2 removed: scaled down to 1 (dry run)"));
  CHECK(FirstColumn(cli.Run({"ps"}).out).size() == 3);  // a dry run changes nothing
  r = cli.Run({"apply", "-f", changed_path, "-t", "1"});
  REQUIRE(r.code == 0);
  CHECK(Lines(r.out) == std::vector<std::string>{
                           "web-rep-1 recreated: spec changed: env, scale",
                           "web-rep-2 removed: scaled down to 1", "worker-rep-1 unchanged",
                           "deployment shop: 0 created, 1 recreated, 0 started, 1 unchanged, 1 removed"});
  info = nlohmann::json::parse(cli.Run({"inspect", "-o", "json", "web"}).out);
  CHECK(info[0]["spec"]["env"]["LOG_LEVEL"] == "warn");

  // down removes everything of the deployment.
  r = cli.Run({"down", "-f", changed_path});
  REQUIRE(r.code == 0);
  CHECK(Lines(r.out) == std::vector<std::string>{"web-rep-1 removed", "worker-rep-1 removed",
                                                 "deployment shop: 2 removed"});
  r = cli.Run({"ps", "-a", "-q"});
  CHECK(r.code == 0);
  CHECK(r.out.empty());
}

TEST_CASE("a broken spec is answered with its places and changes nothing", "[integration][cli]") {
  AgentProcess agent;
  Cli cli(Address(agent));
  auto dir = MakeTempDir();
  const std::string path = WriteSpec(dir, "bad.yaml",
                                     "version: v1\n"
                                     "deployment: shop\n"
                                     "services:\n"
                                     "  web:\n"
                                     "    image: nginx\n"
                                     "    resources:\n"
                                     "      memory: 512\n"
                                     "    enviroment: {A: b}\n");
  CliResult r = cli.Run({"apply", "-f", path});
  INFO(Describe(r));
  CHECK(r.code == 1);
  CHECK(Lines(r.err) == std::vector<std::string>{
                           path + ":7:15: services.web.resources.memory: a memory limit of 512 "
                                  "bytes is too small (at least 1Mi); did you mean 512Mi?",
                           path + ":8:5: services.web: unknown key \"enviroment\"; did you mean \"env\"?",
                           "zlayerctl: INVALID_ARGUMENT: " + path +
                               ": 2 errors in the spec; nothing was changed"});
  CHECK(cli.Run({"ps", "-a", "-q"}).out.empty());

  CheckFails(cli.Run({"apply", "-f", dir.path() + "/missing.yaml"}), "NOT_FOUND");
  CheckFails(cli.Run({"apply"}), "INVALID_ARGUMENT");
}

TEST_CASE("apply refuses names owned by another deployment and prunes on request",
          "[integration][cli]") {
  AgentProcess agent;
  Cli cli(Address(agent));
  auto dir = MakeTempDir();
  const std::string one = WriteSpec(dir, "one.yaml",
                                    "version: v1\ndeployment: one\nservices:\n"
                                    "  api: {image: busybox}\n  old: {image: busybox}\n");
  const std::string two = WriteSpec(dir, "two.yaml",
                                    "version: v1\ndeployment: two\nservices:\n"
                                    "  api: {image: busybox}\n");
  REQUIRE(cli.Run({"apply", "-f", one}).code == 0);
  CliResult r = cli.Run({"apply", "-f", two});
  CheckFails(r, "FAILED_PRECONDITION");
  CHECK(absl::StrContains(r.err, "api-rep-1 belongs to deployment \"one\""));

  const std::string one_less = WriteSpec(dir, "one-less.yaml",
                                         "version: v1\ndeployment: one\nservices:\n"
                                         "  api: {image: busybox}\n");
  r = cli.Run({"apply", "-f", one_less});
  REQUIRE(r.code == 0);
  CHECK(absl::StrContains(r.err, "warning: old-rep-1 belongs to deployment \"one\" but service "
                                 "old is not in the spec; apply --prune removes it"));
  r = cli.Run({"apply", "--prune", "-f", one_less});
  REQUIRE(r.code == 0);
  CHECK(absl::StrContains(r.out, "old-rep-1 removed: service old is not in the spec"));
  CHECK(FirstColumn(cli.Run({"ps", "-a"}).out) == std::vector<std::string>{"api-rep-1"});
  r = cli.Run({"down", "--deployment", "one"});
  CHECK(r.code == 0);
  CHECK(absl::StrContains(r.out, "api-rep-1 removed"));
}

TEST_CASE("container commands: run, create, start, stop, kill, rm", "[integration][cli]") {
  AgentProcess agent;
  Cli cli(Address(agent));

  CliResult r = cli.Run({"run", "-d", "-q", "busybox:latest", "sleep", "1000"});
  INFO(Describe(r));
  REQUIRE(r.code == 0);
  CHECK(r.out == "busybox-rep-1\n");
  r = cli.Run({"run", "-d", "-q", "docker.io/library/busybox:latest"});
  CHECK(r.out == "busybox-rep-2\n");  // the next free replica
  r = cli.Run({"run", "-d", "-q", "--name", "busybox", "busybox"});
  CheckFails(r, "ALREADY_EXISTS");

  r = cli.Run({"create", "-q", "--name", "api-rep-3", "-e", "A=1", "-l", "tier=back", "--memory",
               "64Mi", "--cpus", "0.5", "--cap-add", "net_admin", "--restart", "on-failure:3",
               "--init", "busybox", "echo", "x"});
  REQUIRE(r.code == 0);
  CHECK(r.out == "api-rep-3\n");
  auto info = nlohmann::json::parse(cli.Run({"inspect", "-o", "json", "api-rep-3"}).out);
  CHECK(info[0]["state"]["phase"] == "CONTAINER_PHASE_PENDING");
  CHECK(info[0]["spec"]["env"]["A"] == "1");
  CHECK(info[0]["spec"]["labels"]["tier"] == "back");
  CHECK(info[0]["spec"]["resources"]["memory_bytes"] == "67108864");
  CHECK(info[0]["spec"]["capabilities"][0] == "CAP_NET_ADMIN");
  CHECK(info[0]["spec"]["command"]["args"] == nlohmann::json::array({"echo", "x"}));
  CHECK(info[0]["spec"]["restart"]["policy"] == "on-failure:3");
  CHECK(info[0]["spec"]["init_process"] == true);
  r = cli.Run({"create", "-q", "--restart", "sometimes", "busybox"});
  CheckFails(r, "INVALID_ARGUMENT");
  CHECK(absl::StrContains(r.err, "--restart: restart policy 'sometimes' is not one of"));
  r = cli.Run({"start", "api-rep-3"});
  CHECK(r.code == 0);
  CHECK(r.out == "api-rep-3\n");

  r = cli.Run({"stop", "-t", "1", "busybox", "busybox-rep-2"});
  CHECK(r.code == 0);
  CHECK(r.out == "busybox\nbusybox-rep-2\n");
  CHECK(cli.Run({"wait", "busybox"}).out == "0 exited -\n");

  r = cli.Run({"kill", "-s", "SIGSEGV", "api-rep-3"});
  CheckFails(r, "INVALID_ARGUMENT");
  r = cli.Run({"kill", "-s", "term", "api-rep-3"});
  CHECK(r.code == 0);
  r = cli.Run({"wait", "-o", "json", "api-rep-3"});
  CHECK(r.code == 137);
  CHECK(nlohmann::json::parse(r.out)["reason"] == "WAIT_REASON_SIGNAL");

  // rm of several: failures are reported one line each, the rest still go.
  r = cli.Run({"rm", "busybox", "nothere", "busybox-rep-2"});
  CHECK(r.code == 1);
  CHECK(r.out == "busybox\nbusybox-rep-2\n");
  CHECK(Lines(r.err) == std::vector<std::string>{
                           "zlayerctl: NOT_FOUND: container nothere-rep-1: container not found"});
  r = cli.Run({"rm", "-f", "api-rep-3"});
  CHECK(r.code == 0);
  CHECK(cli.Run({"ps", "-a", "-q"}).out.empty());

  CheckFails(cli.Run({"run", "-d", "--rm", "busybox"}), "INVALID_ARGUMENT");
  CheckFails(cli.Run({"stop", "web-rep-x"}), "INVALID_ARGUMENT");
  CheckFails(cli.Run({"exec", "nothere", "--", "true"}), "NOT_FOUND");
}

TEST_CASE("a foreground run streams the log, forwards Ctrl-C and exits with the code",
          "[integration][cli]") {
  AgentProcess agent;
  Cli cli(Address(agent));
  auto run = cli.Start({"run", "--rm", "-q", "--name", "fg", "busybox"});
  // The mock's log is three lines; the run then waits for the container to end.
  REQUIRE(WaitFor([&] { return absl::StrContains(run.Out(), "Command completed"); },
                  absl::Seconds(10)));
  run.Signal(SIGINT);  // forwarded as KillContainer(SIGINT); the mock exits 137
  CHECK(run.Wait() == 137);
  CHECK(absl::StartsWith(run.Out(), "[fg-rep-1] Container started\n"));
  INFO(run.Err());
  CHECK(cli.Run({"ps", "-a", "-q"}).out.empty());  // --rm
}

TEST_CASE("logs -f follows until the container exits", "[integration][cli]") {
  AgentProcess agent;
  Cli cli(Address(agent));
  REQUIRE(cli.Run({"run", "-d", "-q", "--name", "web", "busybox"}).code == 0);
  auto logs = cli.Start({"logs", "-f", "web"});
  REQUIRE(WaitFor([&] { return Lines(logs.Out()).size() == 3; }, absl::Seconds(10)));
  CHECK(logs.Wait(absl::Milliseconds(200)) == -1);  // still following
  REQUIRE(cli.Run({"stop", "web"}).code == 0);
  CHECK(logs.Wait() == 0);
}

TEST_CASE("events replays and follows, filters, and resumes after a sequence",
          "[integration][cli]") {
  AgentProcess agent;
  Cli cli(Address(agent));
  REQUIRE(cli.Run({"run", "-d", "-q", "--name", "web", "busybox"}).code == 0);
  REQUIRE(cli.Run({"kill", "web"}).code == 0);
  REQUIRE(cli.Run({"rm", "web"}).code == 0);

  // From the start of the journal: the agent's two events, run's pull, then web's four.
  CliResult r = cli.Run({"events", "--since", "0", "-n", "7", "-o", "json"});
  INFO(Describe(r));
  REQUIRE(r.code == 0);
  auto lines = Lines(r.out);
  REQUIRE(lines.size() == 7);
  std::vector<std::string> kinds;
  uint64_t last = 0;
  for (const auto& line : lines) {
    auto event = nlohmann::json::parse(line);
    kinds.push_back(event["kind"]);
    const uint64_t sequence = std::stoull(event["sequence"].get<std::string>());
    CHECK(sequence == last + 1);  // no gap in an unfiltered replay
    last = sequence;
  }
  CHECK(kinds == std::vector<std::string>{"EVENT_KIND_AGENT_STARTED", "EVENT_KIND_AGENT_RECOVERED",
                                          "EVENT_KIND_IMAGE_PULLED", "EVENT_KIND_CONTAINER_CREATED",
                                          "EVENT_KIND_CONTAINER_STARTED",
                                          "EVENT_KIND_CONTAINER_EXITED",
                                          "EVENT_KIND_CONTAINER_REMOVED"});

  // A filter, in the table form.
  r = cli.Run({"events", "--since", "0", "-f", "kind=container_exited", "-n", "1"});
  REQUIRE(r.code == 0);
  REQUIRE(Lines(r.out).size() == 2);
  CHECK(absl::StrContains(Lines(r.out)[1], "container_exited"));
  CHECK(absl::StrContains(Lines(r.out)[1], "web"));
  CHECK(absl::StrContains(Lines(r.out)[1], "exit_code=137 reason=signal signal=SIGKILL"));

  // Following: a resume from the last sequence sees only what happens next.
  // (create pulls first; the mock's pull always fetches.)
  auto follow = cli.Start({"events", "--since", std::to_string(last), "-n", "2", "-o", "json"});
  REQUIRE(cli.Run({"create", "-q", "--name", "api", "busybox"}).code == 0);
  CHECK(follow.Wait() == 0);
  auto pulled = nlohmann::json::parse(Lines(follow.Out()).at(0));
  CHECK(std::stoull(pulled["sequence"].get<std::string>()) == last + 1);
  CHECK(pulled["kind"] == "EVENT_KIND_IMAGE_PULLED");
  auto next = nlohmann::json::parse(Lines(follow.Out()).at(1));
  CHECK(std::stoull(next["sequence"].get<std::string>()) == last + 2);
  CHECK(next["kind"] == "EVENT_KIND_CONTAINER_CREATED");

  CheckFails(cli.Run({"events", "--since", "99999"}), "OUT_OF_RANGE");
  CheckFails(cli.Run({"events", "-f", "kind=nope"}), "INVALID_ARGUMENT");
  CheckFails(cli.Run({"events", "-f", "color=red"}), "INVALID_ARGUMENT");
}

TEST_CASE("stats refreshes until interrupted", "[integration][cli]") {
  AgentProcess agent;
  Cli cli(Address(agent));
  REQUIRE(cli.Run({"run", "-d", "-q", "--name", "web", "busybox"}).code == 0);
  auto stats = cli.Start({"stats", "--interval", "200ms", "web"});
  // Not a terminal: one table per interval, separated by blank lines.
  REQUIRE(WaitFor([&] { return absl::StrContains(stats.Out(), "\n\nNAME"); }, absl::Seconds(10)));
  stats.Signal(SIGINT);
  CHECK(stats.Wait() == 128 + SIGINT);
  CHECK(absl::StrContains(stats.Out(), "web-rep-1   0.0%"));

  CliResult r = cli.Run({"stats", "--no-stream", "-o", "json", "web"});
  REQUIRE(r.code == 0);
  auto json = nlohmann::json::parse(r.out);
  CHECK(json[0]["name"] == "web-rep-1");
  CHECK(json[0]["cpu_percent"] == 0.0);
  CheckFails(cli.Run({"stats", "--no-stream", "nothere"}), "NOT_FOUND");
}

TEST_CASE("image commands against the mock", "[integration][cli]") {
  AgentProcess agent;
  Cli cli(Address(agent));
  CliResult r = cli.Run({"pull", "busybox:latest"});
  INFO(Describe(r));
  CHECK(r.code == 0);
  // Not a terminal: plain lines, the mock's status and the result.
  CHECK(Lines(r.out) == std::vector<std::string>{"mock backend: pretending to pull busybox:latest",
                                                 "Pulled busybox:latest"});
  CHECK(cli.Run({"pull", "-q", "busybox"}).out == "busybox\n");
  CheckFails(cli.Run({"pull", "--policy", "sometimes", "busybox"}), "INVALID_ARGUMENT");
  r = cli.Run({"images"});
  CHECK(r.code == 0);
  CHECK(Lines(r.out) == std::vector<std::string>{"REFERENCE   DIGEST   SIZE   CREATED   CONTAINERS"});
  CHECK(cli.Run({"images", "-o", "json"}).out == "[]\n");
  CHECK(cli.Run({"tag", "busybox", "busybox:mine"}).code == 0);
  CHECK(cli.Run({"rmi", "busybox:mine"}).out == "Removed busybox:mine\n");
  CHECK(cli.Run({"prune"}).out == "Reclaimed 0B\n");
  // The mock backend cannot import.
  auto dir = MakeTempDir();
  REQUIRE(base::WriteFileAtomic(dir.path() + "/img.tar", "not a tar", 0644, false).ok());
  CheckFails(cli.Run({"import", dir.path() + "/img.tar", "x:1"}), "UNIMPLEMENTED");
  CheckFails(cli.Run({"import", dir.path() + "/missing.tar"}), "NOT_FOUND");
}

TEST_CASE("addresses: --address forms, $ZLAYER_ADDRESS, and an agent that is not there",
          "[integration][cli]") {
  const std::string port = std::to_string(FreeTcpPort());
  AgentOptions options;
  options.extra_args = {"--tcp", "127.0.0.1:" + port};
  AgentProcess agent(options);
  CHECK(Cli("127.0.0.1:" + port).Run({"ps"}).code == 0);
  CHECK(Cli("tcp://127.0.0.1:" + port).Run({"ps"}).code == 0);
  CHECK(Cli(agent.socket_path()).Run({"ps"}).code == 0);  // a bare path is a unix socket
  CHECK(Cli("unix:" + agent.socket_path()).Run({"ps", "--address", Address(agent)}).code == 0);
  CHECK(Cli("").Run({"ps"}, absl::Seconds(30), {"ZLAYER_ADDRESS=" + Address(agent)}).code == 0);

  auto dir = MakeTempDir();
  CliResult r = Cli("unix://" + dir.path() + "/none.sock").Run({"ps"});
  CheckFails(r, "UNAVAILABLE");
  CHECK(absl::StrContains(r.err, "is zlayer-agentd running"));
}

TEST_CASE("--help works at every level and usage errors are one line", "[unit][cli]") {
  Cli cli("");
  CliResult top = cli.Run({"--help"});
  REQUIRE(top.code == 0);
  CHECK(absl::StartsWith(top.out, "Usage: zlayerctl [--address ADDR] COMMAND"));
  const char* commands[] = {"pull", "import", "images", "tag",  "rmi",  "prune", "create",
                            "start", "run",   "stop",   "kill", "rm",   "ps",    "inspect",
                            "logs",  "exec",  "wait",   "stats", "apply", "down"};
  for (const char* name : commands) {
    INFO(name);
    CHECK(absl::StrContains(top.out, absl::StrCat("\n  ", name, " ")));
    CliResult r = cli.Run({name, "--help"});
    CHECK(r.code == 0);
    CHECK(absl::StartsWith(r.out, absl::StrCat("Usage: zlayerctl ", name, " ")));
    CHECK(absl::StrContains(r.out, "--address ADDR"));
    CHECK(cli.Run({"help", name}).out == r.out);
    CHECK(cli.Run({name, "-h"}).out == r.out);
  }
  for (const char* name : {"images", "ps", "inspect", "stats", "logs", "wait"}) {
    INFO(name);
    CHECK(absl::StrContains(cli.Run({name, "--help"}).out, "-o, --output FORMAT"));
  }
  CHECK(absl::StartsWith(cli.Run({"--version"}).out, "zlayerctl "));

  CheckFails(cli.Run({"pss"}), "INVALID_ARGUMENT");
  CHECK(absl::StrContains(cli.Run({"pss"}).err, "did you mean ps?"));
  CliResult r = cli.Run({"logs", "--tial", "3", "web"});
  CheckFails(r, "INVALID_ARGUMENT");
  CHECK(absl::StrContains(r.err, "did you mean --tail?"));
  CheckFails(cli.Run({"logs"}), "INVALID_ARGUMENT");
  CheckFails(cli.Run({"tag", "a", "b", "c"}), "INVALID_ARGUMENT");
  CheckFails(cli.Run({"ps", "-o", "yaml"}), "INVALID_ARGUMENT");
  CHECK(cli.Run({}).code == 1);
}

}  // namespace
}  // namespace zlayer::testing
