// The pure parts of zlayerctl: argument parsing, names, formatting, CPU %, pull
// progress rendering and apply plans.
#include <cstdio>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "cli/apply_plan.h"
#include "cli/args.h"
#include "cli/client.h"
#include "cli/format.h"
#include "cli/names.h"
#include "cli/pull_progress.h"
#include "cli/stats_util.h"
#include "deploy/parser.h"
#include "proto/convert/convert.h"
#include "proto/convert/deployment.h"

namespace zlayer::cli {
namespace {

CommandSpec LogsLike() {
  CommandSpec spec{"logs", "[OPTIONS] NAME", "Print a log", "",
                   {{"follow", 'f', "", "follow"}, {"tail", 'n', "N", "tail"},
                    {"env", 'e', "K=V", "env", true}},
                   1, 1};
  AddCommonOptions(&spec);
  return spec;
}

TEST_CASE("arguments: GNU-style options and positionals", "[unit][cli]") {
  const CommandSpec spec = LogsLike();
  auto a = ParseArgs(spec, {"-f", "--tail", "5", "web"});
  REQUIRE(a.ok());
  CHECK(a->Has("follow"));
  CHECK(a->Value("tail") == "5");
  CHECK(a->args == std::vector<std::string>{"web"});

  a = ParseArgs(spec, {"web", "--tail=7", "-fn3"});  // options after positionals, clusters
  REQUIRE(a.ok());
  CHECK(a->Has("follow"));
  CHECK(a->Value("tail") == "3");

  a = ParseArgs(spec, {"-e", "A=1", "--env", "B=2", "-eC=3", "--", "-web"});
  REQUIRE(a.ok());
  CHECK(a->Values("env") == std::vector<std::string>{"A=1", "B=2", "C=3"});
  CHECK(a->args == std::vector<std::string>{"-web"});

  a = ParseArgs(spec, {"--help"});
  REQUIRE(a.ok());
  CHECK(a->help);  // no positional needed for help

  CHECK(absl::StrContains(ParseArgs(spec, {"--tial", "3", "x"}).status().message(),
                          "unknown option --tial; did you mean --tail?"));
  CHECK(absl::StrContains(ParseArgs(spec, {"x", "--tail"}).status().message(), "--tail needs a value"));
  CHECK(absl::StrContains(ParseArgs(spec, {"--follow=yes", "x"}).status().message(),
                          "--follow takes no value"));
  CHECK(absl::StrContains(ParseArgs(spec, {}).status().message(), "expected [OPTIONS] NAME"));
  CHECK(absl::StrContains(ParseArgs(spec, {"a", "b"}).status().message(), "unexpected argument \"b\""));
}

TEST_CASE("arguments: run and exec stop at their first positional", "[unit][cli]") {
  CommandSpec spec{"exec", "NAME -- CMD", "", "", {{"user", 'u', "USER", ""}}, 2};
  spec.options_end_at_first_arg = true;
  auto a = ParseArgs(spec, {"-u", "root", "web", "--", "ls", "-l", "--all"});
  REQUIRE(a.ok());
  CHECK(a->Value("user") == "root");
  CHECK(a->args == std::vector<std::string>{"web", "ls", "-l", "--all"});
  a = ParseArgs(spec, {"web", "sh", "-c", "--", "x"});  // only the first -- after NAME goes
  REQUIRE(a.ok());
  CHECK(a->args == std::vector<std::string>{"web", "sh", "-c", "--", "x"});
}

TEST_CASE("help text lists every option", "[unit][cli]") {
  const std::string help = HelpText(LogsLike());
  CHECK(absl::StartsWith(help, "Usage: zlayerctl logs [OPTIONS] NAME\n\nPrint a log\n"));
  CHECK(absl::StrContains(help, "  -n, --tail N"));
  CHECK(absl::StrContains(help, "      --address ADDR"));
  CHECK(absl::StrContains(help, "(repeatable)"));
}

TEST_CASE("container names: service-rep-N or service", "[unit][cli]") {
  auto id = ParseContainerName("web-rep-2");
  REQUIRE(id.ok());
  CHECK(id->service() == "web");
  CHECK(id->replica() == 2);
  id = ParseContainerName("web");
  REQUIRE(id.ok());
  CHECK(id->service() == "web");
  CHECK(id->replica() == 1);
  id = ParseContainerName("my-rep-service-rep-3");
  REQUIRE(id.ok());
  CHECK(id->service() == "my-rep-service");
  for (const char* bad : {"", "web-rep-", "web-rep-x", "-rep-1", "bad name", "a/b"}) {
    INFO(bad);
    CHECK(absl::IsInvalidArgument(ParseContainerName(bad).status()));
  }
  CHECK(ServiceNameForImage("docker.io/library/busybox:latest") == "busybox");
  CHECK(ServiceNameForImage("busybox") == "busybox");
  CHECK(ServiceNameForImage("localhost:5000/team/api@sha256:abc") == "api");
  CHECK(ServiceNameForImage("x/my-rep-thing:1") == "my-thing");
  CHECK(ServiceNameForImage("_x") == "x");
  CHECK(ServiceNameForImage("///") == "container");
}

TEST_CASE("addresses", "[unit][cli]") {
  CHECK(NormalizeAddress("unix:///run/zlayer/agentd.sock") == "unix:///run/zlayer/agentd.sock");
  CHECK(NormalizeAddress("/tmp/a.sock") == "unix:///tmp/a.sock");
  CHECK(NormalizeAddress("./a.sock") == "unix:./a.sock");
  CHECK(NormalizeAddress("10.0.0.1:7000") == "10.0.0.1:7000");
  CHECK(NormalizeAddress("tcp://host:7000") == "host:7000");
}

TEST_CASE("formatting", "[unit][cli]") {
  CHECK(HumanBytes(0) == "0B");
  CHECK(HumanBytes(1023) == "1023B");
  CHECK(HumanBytes(1536) == "1.5KiB");
  CHECK(HumanBytes(50ull << 20) == "50MiB");
  CHECK(HumanBytes(256ull << 20) == "256MiB");
  CHECK(HumanBytes((1ull << 30) + (1ull << 29)) == "1.5GiB");
  CHECK(HumanDuration(absl::Seconds(45)) == "45s");
  CHECK(HumanDuration(absl::Seconds(312)) == "5m12s");
  CHECK(HumanDuration(absl::Hours(3) + absl::Minutes(4)) == "3h04m");
  CHECK(HumanDuration(absl::Hours(51)) == "2d3h");
  CHECK(ShortDigest("sha256:0123456789abcdef0123") == "sha256:0123456789ab");
  CHECK(ShortDigest("") == "-");

  pb::ContainerState state;
  state.set_phase(pb::CONTAINER_PHASE_EXITED);
  state.set_exit_code(3);
  CHECK(StateText(state) == "exited (3)");
  state.set_phase(pb::CONTAINER_PHASE_FAILED);
  state.set_reason("no such image");
  CHECK(StateText(state) == "failed: no such image");

  // A restart due: ps says when, in whole seconds, and "now" once it is due.
  const absl::Time now = absl::FromUnixSeconds(1'000'000);
  state.set_phase(pb::CONTAINER_PHASE_EXITED);
  state.set_exit_code(1);
  CHECK(StateText(state, now + absl::Milliseconds(4500), now) == "exited (1), restarting in 4s");
  CHECK(StateText(state, now + absl::Seconds(90), now) == "exited (1), restarting in 1m30s");
  CHECK(StateText(state, now - absl::Seconds(2), now) == "exited (1), restarting now");
  CHECK(StateText(state, std::nullopt, now) == "exited (1)");

  Table t({"NAME", "STATE"});
  t.AddRow({"web-rep-1", "running"});
  t.AddRow({"a", "exited (0)"});
  CHECK(t.ToString() == "NAME        STATE\nweb-rep-1   running\na           exited (0)\n");
}

pb::ContainerStats Sample(uint64_t usec, absl::Time at) {
  pb::ContainerStats s;
  s.set_cpu_usage_usec(usec);
  *s.mutable_timestamp() = proto::ToProto(at);
  return s;
}

TEST_CASE("CPU % from two samples: 100% is one core", "[unit][cli]") {
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  CHECK(*CpuPercent(Sample(1'000'000, t0), Sample(1'500'000, t0 + absl::Seconds(1))) == 50.0);
  CHECK(*CpuPercent(Sample(0, t0), Sample(2'000'000, t0 + absl::Milliseconds(500))) == 400.0);
  CHECK(*CpuPercent(Sample(7, t0), Sample(7, t0 + absl::Seconds(2))) == 0.0);
  CHECK_FALSE(CpuPercent(Sample(10, t0), Sample(5, t0 + absl::Seconds(1))));  // recreated
  CHECK_FALSE(CpuPercent(Sample(10, t0), Sample(20, t0)));                    // no interval
  CHECK(CpuText(12.345) == "12.3%");
  CHECK(CpuText(std::nullopt) == "-");
}

std::string Render(bool tty, const std::vector<pb::PullImageEvent>& events) {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* f = open_memstream(&buffer, &size);
  {
    PullProgressView view(f, tty, 100);
    for (const auto& e : events) view.OnEvent(e);
    view.Finish();
  }
  std::fclose(f);
  std::string out(buffer, size);
  std::free(buffer);
  return out;
}

pb::PullImageEvent Layer(const std::string& digest, pb::LayerStatus status, uint64_t done,
                         uint64_t total) {
  pb::PullImageEvent e;
  e.mutable_layer()->set_digest(digest);
  e.mutable_layer()->set_status(status);
  e.mutable_layer()->set_bytes_done(done);
  e.mutable_layer()->set_bytes_total(total);
  return e;
}

TEST_CASE("pull progress: bars on a terminal, a line per change otherwise", "[unit][cli]") {
  pb::PullImageEvent status;
  status.set_status("resolved busybox:latest to sha256:feed");
  const std::string a = "sha256:aaaaaaaaaaaaaaaaaaaa", b = "sha256:bbbbbbbbbbbbbbbbbbbb";
  const std::vector<pb::PullImageEvent> events = {
      status,
      Layer(a, pb::LAYER_STATUS_DOWNLOADING, 0, 4 << 20),
      Layer(b, pb::LAYER_STATUS_ALREADY_EXISTS, 0, 1 << 20),
      Layer(a, pb::LAYER_STATUS_DOWNLOADING, 1 << 20, 4 << 20),
      Layer(a, pb::LAYER_STATUS_DOWNLOADING, 2 << 20, 4 << 20),
      Layer(a, pb::LAYER_STATUS_DONE, 4 << 20, 4 << 20),
  };
  const std::string plain = Render(false, events);
  CHECK(plain ==
        "resolved busybox:latest to sha256:feed\n"
        "aaaaaaaaaaaa  downloading    0B/4MiB\n"
        "bbbbbbbbbbbb  already exists 1MiB\n"
        "aaaaaaaaaaaa  done           4MiB\n");

  const std::string tty = Render(true, events);
  CHECK(absl::StrContains(tty, "\033[2A"));  // redrawn in place: up two lines
  CHECK(absl::StrContains(tty, "\033[K"));
  CHECK(absl::StrContains(tty, "aaaaaaaaaaaa  done           4MiB\033[K\n"));

  pb::LayerProgress half;
  half.set_digest(a);
  half.set_status(pb::LAYER_STATUS_DOWNLOADING);
  half.set_bytes_done(2 << 20);
  half.set_bytes_total(4 << 20);
  CHECK(PullProgressView::LayerLine(half, 80) ==
        "aaaaaaaaaaaa  downloading    [==================>                  ] 2MiB/4MiB");
}

// A spec of two services; "web" with `replicas` replicas.
deploy::DeploymentSpec TwoServices(int replicas, const std::string& env = "1") {
  auto spec = deploy::ParseDeployment(absl::StrCat(
      "version: v1\ndeployment: shop\nservices:\n"
      "  web: {image: nginx, env: {A: \"", env, "\"}, scale: {replicas: ", replicas, "}}\n"
      "  job: {rtype: job, image: busybox}\n"));
  REQUIRE(spec.ok());
  return *spec;
}

ExistingContainer Have(const deploy::DeploymentSpec& spec, const std::string& service,
                       uint32_t replica, pb::ContainerPhase phase, const std::string& deployment = "shop") {
  ExistingContainer c;
  c.id.set_service(service);
  c.id.set_replica(replica);
  c.deployment = deployment;
  c.state.set_phase(phase);
  if (phase == pb::CONTAINER_PHASE_EXITED) c.state.set_exit_code(1);
  if (auto it = spec.services.find(service); it != spec.services.end()) {
    c.spec = proto::WithoutCredentials(proto::ToProto(it->second));
  }
  return c;
}

std::vector<std::string> Summary(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& a : plan.actions) {
    out.push_back(absl::StrCat(ContainerName(a.id), " ", ActionVerb(a.kind),
                               a.reason.empty() ? "" : ": ", a.reason));
  }
  return out;
}

TEST_CASE("apply plans", "[unit][cli]") {
  const auto spec = TwoServices(2);
  SECTION("nothing there: create every replica") {
    auto plan = PlanApply(spec, {}, false);
    REQUIRE(plan.ok());
    CHECK(Summary(*plan) == std::vector<std::string>{"job-rep-1 created", "web-rep-1 created",
                                                     "web-rep-2 created"});
    CHECK(plan->actions[1].request->deployment() == "shop");
  }
  SECTION("each state of an existing replica") {
    auto plan = PlanApply(spec,
                          {Have(spec, "web", 1, pb::CONTAINER_PHASE_RUNNING),
                           Have(spec, "web", 2, pb::CONTAINER_PHASE_PENDING),
                           Have(spec, "job", 1, pb::CONTAINER_PHASE_EXITED),
                           Have(spec, "web", 3, pb::CONTAINER_PHASE_RUNNING),
                           Have(spec, "old", 1, pb::CONTAINER_PHASE_RUNNING),
                           Have(spec, "other", 1, pb::CONTAINER_PHASE_RUNNING, "elsewhere")},
                          false);
    REQUIRE(plan.ok());
    CHECK(Summary(*plan) == std::vector<std::string>{
                                "job-rep-1 unchanged: job finished: exited (1)",
                                "web-rep-1 unchanged", "web-rep-2 started",
                                "web-rep-3 removed: scaled down to 2"});
    CHECK(plan->warnings.size() == 1);
    CHECK(absl::StartsWith(plan->warnings[0], "old-rep-1 belongs to deployment \"shop\""));
    auto pruned = PlanApply(spec, {Have(spec, "old", 1, pb::CONTAINER_PHASE_EXITED)}, true);
    REQUIRE(pruned.ok());
    CHECK(Summary(*pruned).back() == "old-rep-1 removed: service old is not in the spec");
  }
  SECTION("a changed spec or an exited service is recreated") {
    const auto changed = TwoServices(1, "2");
    auto plan = PlanApply(changed,
                          {Have(spec, "web", 1, pb::CONTAINER_PHASE_RUNNING),
                           Have(spec, "job", 1, pb::CONTAINER_PHASE_FAILED)},
                          false);
    REQUIRE(plan.ok());
    CHECK(Summary(*plan) == std::vector<std::string>{"job-rep-1 recreated: was failed",
                                                     "web-rep-1 recreated: spec changed: env, scale"});
    CHECK(plan->actions[1].request.has_value());
  }
  SECTION("a replica the restart policy will start again is left to it") {
    auto waiting = Have(spec, "web", 1, pb::CONTAINER_PHASE_EXITED);
    waiting.restart_pending = true;
    auto plan = PlanApply(spec, {waiting}, false);
    REQUIRE(plan.ok());
    CHECK(Summary(*plan)[1] == "web-rep-1 unchanged: exited (1), restart pending");
    // A changed spec still wins: the pending restart would run the old one.
    auto changed = PlanApply(TwoServices(2, "2"), {waiting}, false);
    REQUIRE(changed.ok());
    CHECK(Summary(*changed)[1] == "web-rep-1 recreated: spec changed: env");
  }
  SECTION("credentials do not count as a change") {
    auto with_auth = spec;
    with_auth.services.at("web").image.auth = core::RegistryAuth{"u", "p"};
    auto plan = PlanApply(with_auth, {Have(spec, "web", 1, pb::CONTAINER_PHASE_RUNNING)}, false);
    REQUIRE(plan.ok());
    CHECK(Summary(*plan)[1] == "web-rep-1 unchanged");
  }
  SECTION("a name held by another deployment is refused") {
    auto plan = PlanApply(spec, {Have(spec, "web", 2, pb::CONTAINER_PHASE_RUNNING, "")}, false);
    CHECK(absl::IsFailedPrecondition(plan.status()));
    CHECK(absl::StrContains(plan.status().message(), "web-rep-2 belongs to no deployment"));
  }
}

}  // namespace
}  // namespace zlayer::cli
