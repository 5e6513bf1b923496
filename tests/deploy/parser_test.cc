// deploy/: the YAML schema, against the examples, a corpus of broken specs with the
// exact messages they must produce, and hostile inputs.
#include "deploy/parser.h"

#include <dirent.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/fs_util.h"
#include "support/test_support.h"

namespace zlayer::deploy {
namespace {

using core::ServiceSpec;
using testing::SourcePath;

std::vector<std::string> FilesWithSuffix(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = ::readdir(d)) {
    if (absl::EndsWith(e->d_name, suffix)) out.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> ErrorLines(absl::string_view yaml, absl::string_view file) {
  std::vector<SpecError> errors;
  ParseDeployment(yaml, file, &errors);
  std::vector<std::string> lines;
  for (const auto& e : errors) lines.push_back(e.ToString());
  return lines;
}

DeploymentSpec MustLoad(const std::string& relative) {
  auto spec = LoadDeploymentFile(SourcePath(relative));
  INFO(spec.status().ToString());
  REQUIRE(spec.ok());
  return *std::move(spec);
}

TEST_CASE("every spec in deploy/examples is valid", "[unit][deploy]") {
  const auto files = FilesWithSuffix(SourcePath("deploy/examples"), ".yaml");
  REQUIRE(files.size() >= 4);
  for (const auto& name : files) {
    DYNAMIC_SECTION(name) {
      DeploymentSpec spec = MustLoad("deploy/examples/" + name);
      CHECK(spec.version == "v1");
      CHECK(spec.deployment.size() >= 3);
      CHECK_FALSE(spec.services.empty());
      for (const auto& [service, s] : spec.services) CHECK_FALSE(s.image.name.empty());
    }
  }
}

// The docs are what newcomers copy from: each complete spec in them must parse.
TEST_CASE("the specs in docs/deploy.md and docs/supervision.md are valid", "[unit][deploy]") {
  const std::string page =
      GENERATE(std::string("docs/deploy.md"), std::string("docs/supervision.md"));
  auto doc = base::ReadFile(SourcePath(page));
  REQUIRE(doc.ok());
  int checked = 0;
  for (size_t at = doc->find("```yaml\n"); at != std::string::npos;
       at = doc->find("```yaml\n", at + 1)) {
    const size_t begin = at + 8;
    const std::string block = doc->substr(begin, doc->find("```", begin) - begin);
    if (!absl::StartsWith(block, "version: v1")) continue;  // fragments, not whole specs
    INFO(block);
    auto parsed = ParseDeployment(block, page);
    INFO(parsed.status().message());
    CHECK(parsed.ok());
    ++checked;
  }
  CHECK(checked >= (page == "docs/deploy.md" ? 2 : 1));
}

TEST_CASE("a minimal spec gets the documented defaults", "[unit][deploy]") {
  const DeploymentSpec spec = MustLoad("deploy/examples/minimal.yaml");
  CHECK(spec.deployment == "hello");
  REQUIRE(spec.services.count("web") == 1);
  const ServiceSpec& web = spec.services.at("web");
  CHECK(web.rtype == core::ServiceType::kService);
  CHECK(web.image.name == "docker.io/library/nginx:1.25");
  CHECK(web.image.pull_policy == core::PullPolicy::kIfNotPresent);
  CHECK_FALSE(web.image.auth.has_value());
  CHECK(web.replicas == 1);
  CHECK_FALSE(web.resources.cpu.has_value());
  CHECK_FALSE(web.resources.memory_bytes.has_value());
  CHECK_FALSE(web.health.has_value());
  CHECK_FALSE(web.stop_grace_period.has_value());
  CHECK(web.stop_signal.empty());
}

TEST_CASE("every key of the schema lands in its ServiceSpec field", "[unit][deploy]") {
  const DeploymentSpec spec = MustLoad("deploy/examples/everything.yaml");
  CHECK(spec.deployment == "kitchen-sink");
  REQUIRE(spec.services.size() == 2);
  const ServiceSpec& api = spec.services.at("api");
  CHECK(api.rtype == core::ServiceType::kService);
  CHECK(api.image.name == "registry.example.com/team/api:1.0");
  CHECK(api.image.pull_policy == core::PullPolicy::kAlways);
  REQUIRE(api.image.auth.has_value());
  CHECK(api.image.auth->username == "deploy-bot");
  CHECK(api.image.auth->password == "not-a-real-password");
  CHECK(api.command.entrypoint == std::vector<std::string>{"/usr/bin/api"});
  CHECK(api.command.args == std::vector<std::string>{"serve", "--port", "9000"});
  CHECK(api.command.workdir == "/srv/api");
  CHECK(api.env == std::map<std::string, std::string>{{"RUST_LOG", "debug"}, {"EMPTY", ""}});
  CHECK(api.resources.cpu == 1.5);
  CHECK(api.resources.memory_bytes == 1ull << 30);
  CHECK(api.resources.pids_limit == 512);
  REQUIRE(api.endpoints.size() == 3);
  CHECK(api.endpoints[0].name == "grpc");
  CHECK(api.endpoints[0].protocol == core::EndpointProtocol::kTcp);
  CHECK(api.endpoints[0].port == 9000);
  CHECK(api.endpoints[0].target_port == 0);
  CHECK(api.endpoints[1].protocol == core::EndpointProtocol::kHttp);
  CHECK(api.endpoints[1].target_port == 9101);
  CHECK(api.endpoints[2].protocol == core::EndpointProtocol::kUdp);
  CHECK(api.replicas == 3);
  REQUIRE(api.storage.size() == 3);
  CHECK(api.storage[0].type == core::StorageType::kBind);
  CHECK(api.storage[0].source == "/srv/config");
  CHECK(api.storage[0].target == "/etc/api");
  CHECK(api.storage[0].readonly);
  CHECK(api.storage[1].type == core::StorageType::kNamed);
  CHECK(api.storage[1].source == "api-data");
  CHECK_FALSE(api.storage[1].readonly);
  CHECK(api.storage[2].type == core::StorageType::kTmpfs);
  CHECK(api.storage[2].size_bytes == 64ull << 20);
  CHECK(api.user == "1000:1000");
  CHECK(api.hostname == "api");
  CHECK(api.cap_add == std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
  CHECK(api.cap_drop == std::vector<std::string>{"ALL"});
  CHECK_FALSE(api.privileged);
  CHECK(api.read_only_root_fs);
  CHECK(api.stop_signal == "SIGINT");
  CHECK(api.stop_grace_period == absl::Seconds(90));
  CHECK(api.labels == std::map<std::string, std::string>{{"app.kubernetes.io/name", "api"}});
  REQUIRE(api.health.has_value());
  CHECK(api.health->start_grace == absl::Seconds(5));
  CHECK(api.health->interval == absl::Seconds(10));
  CHECK(api.health->timeout == absl::Seconds(1));
  CHECK(api.health->retries == 5);
  CHECK(api.health->check == core::HealthSpec::Check::kTcp);
  CHECK(api.health->tcp_port == 9000);
  CHECK(api.health->restart_on_unhealthy);
  CHECK(api.restart.mode == core::RestartPolicy::Mode::kOnFailure);
  CHECK(api.restart.max_retries == 4);
  CHECK(api.restart.backoff_base == absl::Seconds(2));
  CHECK(api.restart.backoff_max == absl::Minutes(2));
  CHECK(api.restart.reset_after == absl::Minutes(15));
  REQUIRE(api.init.size() == 3);
  CHECK(api.init[0].host == "10.0.0.5");
  CHECK(api.init[0].timeout == absl::Seconds(45));
  CHECK(api.init[0].retries == 3);
  CHECK(api.init[1].expect_status == 204);
  CHECK(api.init[2].command == std::vector<std::string>{"/usr/bin/api", "check-config"});
  CHECK(api.init_process == true);

  const ServiceSpec& migrate = spec.services.at("migrate");
  CHECK(migrate.rtype == core::ServiceType::kJob);
  CHECK(migrate.image.pull_policy == core::PullPolicy::kNever);
  CHECK(migrate.command.args == std::vector<std::string>{"migrate", "--all"});
  CHECK(migrate.restart.mode == core::RestartPolicy::Mode::kNo);
  CHECK(migrate.init.empty());
  CHECK_FALSE(migrate.init_process.has_value());
}

TEST_CASE("restart policies, init steps and init_process land in the ServiceSpec",
          "[unit][deploy]") {
  using Mode = core::RestartPolicy::Mode;
  using Kind = core::InitAction::Kind;
  const DeploymentSpec spec = MustLoad("deploy/examples/supervised.yaml");
  const ServiceSpec& api = spec.services.at("api");
  CHECK(api.restart.mode == Mode::kOnFailure);
  CHECK(api.restart.max_retries == 3);
  CHECK(api.restart.backoff_base == absl::Seconds(1));
  CHECK(api.restart.backoff_max == absl::Minutes(5));
  CHECK(api.restart.reset_after == absl::Minutes(10));
  REQUIRE(api.init.size() == 3);
  CHECK(api.init[0].name == "db");
  CHECK(api.init[0].kind == Kind::kWaitTcp);
  CHECK(api.init[0].host == "10.0.0.5");
  CHECK(api.init[0].port == 5432);
  CHECK(api.init[0].timeout == absl::Seconds(30));
  CHECK(api.init[0].retries == 2);
  CHECK(api.init[1].kind == Kind::kWaitHttp);
  CHECK(api.init[1].url == "http://10.0.0.6:8080/ready");
  CHECK(api.init[1].expect_status == 200);
  CHECK(api.init[1].timeout == absl::ZeroDuration());  // the agent's default
  CHECK(api.init[2].kind == Kind::kRun);
  CHECK(api.init[2].command ==
        std::vector<std::string>{"sh", "-c", "exec /usr/bin/api migrate --up"});
  CHECK(api.init[2].timeout == absl::Minutes(5));
  CHECK(api.init_process == true);
  REQUIRE(api.health.has_value());
  CHECK(api.health->restart_on_unhealthy);

  const ServiceSpec& worker = spec.services.at("worker");
  CHECK(worker.restart.mode == Mode::kAlways);
  CHECK(worker.restart.backoff_base == absl::ZeroDuration());
  REQUIRE(worker.init.size() == 1);
  CHECK(worker.init[0].name.empty());
  CHECK(worker.init[0].host.empty());  // 127.0.0.1 in the container, decided by the agent
  CHECK(worker.init[0].port == 9000);
  CHECK_FALSE(worker.init_process.has_value());

  const ServiceSpec& cron = spec.services.at("cron");
  CHECK(cron.restart.mode == Mode::kOnFailure);
  CHECK(cron.restart.max_retries == 5);
  CHECK(cron.init_process == false);

  // Every policy name, quoted or not; "no" stays the policy, not YAML 1.1's false.
  for (const auto& [text, mode, max] :
       {std::tuple{"no", Mode::kNo, 0u}, std::tuple{"\"no\"", Mode::kNo, 0u},
        std::tuple{"on-failure", Mode::kOnFailure, 0u},
        std::tuple{"on-failure:7", Mode::kOnFailure, 7u}, std::tuple{"always", Mode::kAlways, 0u},
        std::tuple{"unless-stopped", Mode::kUnlessStopped, 0u},
        std::tuple{"{policy: on-failure, max_retries: 2}", Mode::kOnFailure, 2u}}) {
    INFO(text);
    auto parsed = ParseDeployment(
        absl::StrCat("version: v1\ndeployment: names\nservices:\n  web:\n    image: nginx\n",
                     "    restart: ", text, "\n"));
    INFO(parsed.status().ToString());
    REQUIRE(parsed.ok());
    CHECK(parsed->services.at("web").restart.mode == mode);
    CHECK(parsed->services.at("web").restart.max_retries == max);
  }
  // Without the keys: no restarts, no steps, the agent's init default.
  const ServiceSpec& web = MustLoad("deploy/examples/minimal.yaml").services.at("web");
  CHECK(web.restart.mode == Mode::kNo);
  CHECK(web.init.empty());
  CHECK_FALSE(web.init_process.has_value());
}

TEST_CASE("YAML anchors and merge keys share defaults; a service's own keys win",
          "[unit][deploy]") {
  const DeploymentSpec spec = MustLoad("deploy/examples/web-and-worker.yaml");
  const ServiceSpec& web = spec.services.at("web");
  const ServiceSpec& worker = spec.services.at("worker");
  for (const ServiceSpec* s : {&web, &worker}) {
    CHECK(s->resources.cpu == 0.5);
    CHECK(s->resources.memory_bytes == 256ull << 20);
    CHECK(s->stop_grace_period == absl::Seconds(20));
    CHECK(s->labels.at("team") == "storefront");
  }
  CHECK(web.replicas == 2);
  CHECK(web.env.at("PORT") == "8080");  // numbers are taken as written
  CHECK(worker.image.name == "registry.example.com/shop/worker:2.3.1");  // name shorthand
  REQUIRE(worker.health.has_value());
  CHECK(worker.health->command ==
        std::vector<std::string>{"/usr/local/bin/worker", "--check"});

  auto own_wins = ParseDeployment(R"(
version: v1
deployment: merge
x-base: &base
  image: {name: base-image}
  privileged: true
services:
  web:
    <<: *base
    image: {name: own-image}
)");
  REQUIRE(own_wins.ok());
  CHECK(own_wins->services.at("web").image.name == "own-image");
  CHECK(own_wins->services.at("web").privileged);
}

// Each tests/deploy/broken/NAME.yaml must produce exactly the lines of NAME.errors:
// the place, the key path and the expectation of every mistake in it.
TEST_CASE("broken specs are answered with the exact place and fix", "[unit][deploy]") {
  const std::string dir = SourcePath("tests/deploy/broken");
  const auto files = FilesWithSuffix(dir, ".yaml");
  REQUIRE(files.size() >= 15);
  for (const auto& name : files) {
    DYNAMIC_SECTION(name) {
      auto yaml = base::ReadFile(dir + "/" + name);
      REQUIRE(yaml.ok());
      auto expected_text = base::ReadFile(dir + "/" + name.substr(0, name.size() - 5) + ".errors");
      REQUIRE(expected_text.ok());
      std::vector<std::string> expected =
          absl::StrSplit(*expected_text, '\n', absl::SkipEmpty());
      const std::vector<std::string> got = ErrorLines(*yaml, name);
      INFO("got:\n" << absl::StrJoin(got, "\n"));
      CHECK(got == expected);
    }
  }
}

// Inputs the fuzzer (tests/fuzz) found troublesome once; each must be answered
// promptly with errors.
TEST_CASE("fuzzer regressions stay fixed", "[unit][deploy]") {
  const std::string dir = SourcePath("tests/fuzz/regressions/deploy_spec");
  for (const auto& name : FilesWithSuffix(dir, "")) {
    if (name == "." || name == "..") continue;
    DYNAMIC_SECTION(name) {
      auto yaml = base::ReadFile(dir + "/" + name);
      REQUIRE(yaml.ok());
      std::vector<SpecError> errors;
      ParseDeployment(*yaml, name, &errors);
      CHECK_FALSE(errors.empty());
    }
  }
}

TEST_CASE("the status form lists one error per line", "[unit][deploy]") {
  auto spec = ParseDeployment("version: v1\ndeployment: x\nservices:\n  web: {image: a, privileged: 1}\n",
                              "s.yaml");
  REQUIRE(absl::IsInvalidArgument(spec.status()));
  const std::vector<std::string> lines = absl::StrSplit(spec.status().message(), '\n');
  REQUIRE(lines.size() == 2);
  CHECK(absl::StartsWith(lines[0], "s.yaml:2:13: deployment: expected a deployment name"));
  CHECK(lines[1] == "s.yaml:4:31: services.web.privileged: expected true or false, got \"1\"");
}

TEST_CASE("LoadDeploymentFile names what it cannot read", "[unit][deploy]") {
  auto missing = LoadDeploymentFile("/nonexistent/zlayer/spec.yaml");
  CHECK(absl::IsNotFound(missing.status()));

  auto dir = testing::MakeTempDir();
  const std::string path = dir.path() + "/spec.yaml";
  REQUIRE(base::WriteFileAtomic(path, "version: v1\n", 0644, false).ok());
  auto partial = LoadDeploymentFile(path);
  REQUIRE(absl::IsInvalidArgument(partial.status()));
  CHECK(absl::StrContains(partial.status().message(), path + ":1:1: missing required key \"deployment\""));
}

TEST_CASE("hostile documents are refused without blowing up", "[unit][deploy]") {
  SECTION("too large") {
    const std::string big(kMaxSpecBytes + 1, '#');
    auto spec = ParseDeployment(big, "big.yaml");
    CHECK(absl::StrContains(spec.status().message(), "specs are limited to"));
  }
  SECTION("deep nesting") {
    const std::string deep = "version: " + std::string(100000, '[') + std::string(100000, ']');
    auto spec = ParseDeployment(deep, "deep.yaml");
    CHECK(absl::IsInvalidArgument(spec.status()));
  }
  SECTION("billion laughs through aliases") {
    std::string doc = "version: v1\ndeployment: laughs\nx-0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (int i = 1; i < 12; ++i) {
      absl::StrAppend(&doc, "x-", i, ": &l", i, " [");
      for (int j = 0; j < 9; ++j) absl::StrAppend(&doc, j ? ", " : "", "*l", i - 1);
      absl::StrAppend(&doc, "]\n");
    }
    absl::StrAppend(&doc, "services:\n  web:\n    image: nginx\n    capabilities: *l11\n",
                    "    env: {<<: [*l11]}\n");
    auto spec = ParseDeployment(doc, "laughs.yaml");
    CHECK(absl::IsInvalidArgument(spec.status()));
  }
  SECTION("many errors are capped in the message") {
    std::string doc = "version: v1\ndeployment: many\nservices:\n  web:\n    image: nginx\n    env:\n";
    for (int i = 0; i < 200; ++i) absl::StrAppend(&doc, "      V", i, ": [x]\n");
    auto spec = ParseDeployment(doc, "many.yaml");
    const std::vector<std::string> lines = absl::StrSplit(spec.status().message(), '\n');
    CHECK(lines.size() == kMaxReportedErrors + 1);
    CHECK(lines.back() == "many.yaml: ... and 150 more errors");
  }
  SECTION("a ',' at document level, which makes yaml-cpp's LoadAll loop forever") {
    for (const char* doc : {",", ",a", "- a\n,", "\"x\",", "a: b\n--- ,", "!t ,"}) {
      INFO(doc);
      CHECK_FALSE(ParseDeployment(doc, "comma.yaml").ok());
    }
  }
  SECTION("binary junk") {
    const std::string junk("\x00\xff\xfe{[:\x01\n\t-", 10);
    auto spec = ParseDeployment(junk, "junk.yaml");
    CHECK_FALSE(spec.ok());
  }
}

}  // namespace
}  // namespace zlayer::deploy
