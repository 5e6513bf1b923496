// deploy/values.h: sizes, durations, names, signals and capabilities.
#include "deploy/values.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "core/types.h"

namespace zlayer::deploy {
namespace {

TEST_CASE("sizes take binary and decimal suffixes", "[unit][deploy]") {
  const std::pair<const char*, uint64_t> good[] = {
      {"0", 0},
      {"1048576", 1048576},
      {"512Mi", 512ull << 20},
      {"1Gi", 1ull << 30},
      {"1.5Gi", 3ull << 29},
      {"64Ki", 64ull << 10},
      {"2Ti", 2ull << 40},
      {"1Pi", 1ull << 50},
      {"100M", 100'000'000},
      {"1G", 1'000'000'000},
      {"64k", 64'000},
      {"64K", 64'000},
      {"0.5k", 500},
      {"16383Pi", 16383ull << 50},
  };
  for (const auto& [text, bytes] : good) {
    INFO(text);
    auto parsed = ParseSize(text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == bytes);
  }
  for (const char* bad : {"", "Mi", "1.5", "-1Gi", "1 Gi", "1GB", "1gi", "1e3", ".5Gi", "1.Gi",
                          "16384Pi", "99999999999999999999", "0x10"}) {
    INFO(bad);
    auto parsed = ParseSize(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(absl::StrContains(parsed.status().message(), "expected a size like 512Mi"));
  }
}

TEST_CASE("durations need a unit", "[unit][deploy]") {
  CHECK(*ParseSpecDuration("30s") == absl::Seconds(30));
  CHECK(*ParseSpecDuration("1m30s") == absl::Seconds(90));
  CHECK(*ParseSpecDuration("250ms") == absl::Milliseconds(250));
  CHECK(*ParseSpecDuration("2h") == absl::Hours(2));
  CHECK(*ParseSpecDuration("0") == absl::ZeroDuration());
  for (const char* bad : {"30", "1.5", "-5s", "inf", "soon", "", "5 s"}) {
    INFO(bad);
    auto d = ParseSpecDuration(bad);
    REQUIRE_FALSE(d.ok());
    CHECK(absl::StrContains(d.status().message(), "expected a duration like 30s"));
  }
  CHECK(absl::StrContains(ParseSpecDuration("30").status().message(), "add a unit"));
}

TEST_CASE("deployment names: 3-63 letters, digits and '-'", "[unit][deploy]") {
  for (const std::string& good :
       std::vector<std::string>{"abc", "my-app", "App-2", "0ab", std::string(63, 'a')}) {
    INFO(good);
    CHECK(ValidateDeploymentName(good).ok());
  }
  for (const std::string& bad : std::vector<std::string>{"ab", "", "-abc", "my_app", "my app",
                                                         "a.b.c", std::string(64, 'a')}) {
    INFO(bad);
    CHECK(absl::IsInvalidArgument(ValidateDeploymentName(bad)));
  }
}

// deploy/ cannot link runtimes/ (dependencies point down), so the service-name rule
// is written twice; this keeps the copies in step.
TEST_CASE("service names follow core::ValidateContainerId, minus -rep-", "[unit][deploy]") {
  for (const std::string& name :
       std::vector<std::string>{"web", "a", "w.e_b-1", "9lives", "Web", "", "-web", "_web", ".web",
                                "we b", "web/1", "web:1", "wéb", std::string(63, 'x'),
                                std::string(64, 'x')}) {
    INFO(name);
    CHECK(ValidateServiceName(name).ok() ==
          core::ValidateContainerId(core::ContainerId{name, 1}).ok());
  }
  auto ambiguous = ValidateServiceName("web-rep-1");
  CHECK(absl::StrContains(ambiguous.message(), "must not contain \"-rep-\""));
}

TEST_CASE("signals and capabilities are normalised", "[unit][deploy]") {
  CHECK(*NormalizeSignal("TERM") == "SIGTERM");
  CHECK(*NormalizeSignal("sigint") == "SIGINT");
  CHECK(*NormalizeSignal("SIGWINCH") == "SIGWINCH");
  CHECK(*NormalizeSignal("quit") == "SIGQUIT");
  CHECK_FALSE(NormalizeSignal("SIGSTOP").ok());
  CHECK_FALSE(NormalizeSignal("SIGCHLD").ok());
  CHECK_FALSE(NormalizeSignal("9").ok());
  CHECK(absl::StrContains(NormalizeSignal("TREM").status().message(), "did you mean SIGTERM?"));

  CHECK(*NormalizeCapability("net_admin") == "CAP_NET_ADMIN");
  CHECK(*NormalizeCapability("CAP_SYS_PTRACE") == "CAP_SYS_PTRACE");
  CHECK(*NormalizeCapability("cap_bpf") == "CAP_BPF");
  CHECK(*NormalizeCapability("all") == "ALL");
  CHECK_FALSE(NormalizeCapability("CAP_ALL").ok());
  CHECK_FALSE(NormalizeCapability("").ok());
  CHECK(absl::StrContains(NormalizeCapability("SYS_ADMN").status().message(),
                          "did you mean SYS_ADMIN?"));
}

TEST_CASE("env names, hostnames and suggestions", "[unit][deploy]") {
  CHECK(ValidateEnvName("PATH").ok());
  CHECK(ValidateEnvName("lower.case-ok").ok());
  CHECK_FALSE(ValidateEnvName("").ok());
  CHECK_FALSE(ValidateEnvName("A=B").ok());
  CHECK_FALSE(ValidateEnvName(std::string("A\0B", 3)).ok());

  CHECK(ValidateHostname("api").ok());
  CHECK(ValidateHostname("api-1.internal").ok());
  CHECK_FALSE(ValidateHostname("").ok());
  CHECK_FALSE(ValidateHostname("-api").ok());
  CHECK_FALSE(ValidateHostname("api..x").ok());
  CHECK_FALSE(ValidateHostname("api_1").ok());
  CHECK_FALSE(ValidateHostname(std::string(64, 'a')).ok());

  CHECK(ClosestMatch("imagee", {"image", "env"}) == "image");
  CHECK(ClosestMatch("IMAGE", {"image", "env"}) == "image");
  CHECK(ClosestMatch("zzz", {"image", "env"}).empty());
  CHECK(JoinChoices({"a"}) == "a");
  CHECK(JoinChoices({"a", "b"}) == "a or b");
  CHECK(JoinChoices({"a", "b", "c"}) == "a, b or c");
}

}  // namespace
}  // namespace zlayer::deploy
