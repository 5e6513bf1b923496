// The restart policy's judgement (supervise/), without containers: which ends
// restart, the backoff's growth, cap and reset, and judging an exit once.
#include "supervise/restart_policy.h"

#include <catch2/catch.hpp>

using zlayer::core::RestartPolicy;
using zlayer::core::WaitOutcome;
using zlayer::core::WaitReason;
namespace supervise = zlayer::supervise;

namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

RestartPolicy Policy(const std::string& name) {
  auto policy = supervise::ParsePolicyName(name);
  REQUIRE(policy.ok());
  return *policy;
}

WaitOutcome Exit(int code, absl::Time at) {
  WaitOutcome outcome = WaitOutcome::Exited(code);
  outcome.finished_at = at;
  return outcome;
}

}  // namespace

TEST_CASE("restart policy names parse and print", "[supervise]") {
  for (const char* name : {"no", "on-failure", "on-failure:3", "always", "unless-stopped"}) {
    CHECK(supervise::PolicyName(Policy(name)) == name);
  }
  CHECK(supervise::PolicyName(Policy("")) == "no");
  for (const char* bad : {"sometimes", "on-failure:0", "on-failure:x", "on-failure:", "No"}) {
    auto parsed = supervise::ParsePolicyName(bad);
    CHECK(absl::IsInvalidArgument(parsed.status()));
  }
  RestartPolicy policy = Policy("always");
  policy.backoff_base = absl::Seconds(10);
  policy.backoff_max = absl::Seconds(5);
  CHECK(absl::IsInvalidArgument(supervise::ValidatePolicy(policy)));
  policy.backoff_max = absl::Seconds(-1);
  CHECK(absl::IsInvalidArgument(supervise::ValidatePolicy(policy)));
  policy = Policy("always");
  policy.max_retries = 2;
  CHECK(absl::IsInvalidArgument(supervise::ValidatePolicy(policy)));
}

TEST_CASE("backoff doubles from its base up to its cap", "[supervise]") {
  RestartPolicy policy = Policy("always");
  policy.backoff_base = absl::Milliseconds(100);
  policy.backoff_max = absl::Milliseconds(700);
  CHECK(supervise::BackoffDelay(policy, 0) == absl::Milliseconds(100));
  CHECK(supervise::BackoffDelay(policy, 1) == absl::Milliseconds(200));
  CHECK(supervise::BackoffDelay(policy, 2) == absl::Milliseconds(400));
  CHECK(supervise::BackoffDelay(policy, 3) == absl::Milliseconds(700));
  CHECK(supervise::BackoffDelay(policy, 1000) == absl::Milliseconds(700));
  // Zero = the defaults: 1 s doubling to 5 minutes.
  CHECK(supervise::BackoffDelay(Policy("always"), 0) == absl::Seconds(1));
  CHECK(supervise::BackoffDelay(Policy("always"), 30) == absl::Minutes(5));
}

TEST_CASE("which ends restart", "[supervise]") {
  supervise::RestartState state;
  SECTION("no never restarts") {
    auto d = supervise::Judge(Policy("no"), Exit(1, kT0), absl::Seconds(1), kT0, &state);
    CHECK_FALSE(d.restart);
  }
  SECTION("on-failure: exit 0 no, exit 1 / signal / OOM / runtime error / unhealthy yes") {
    auto d = supervise::Judge(Policy("on-failure"), Exit(0, kT0), absl::Seconds(1), kT0, &state);
    CHECK_FALSE(d.restart);
    CHECK(d.why_not == "exited 0 (on-failure restarts only failures)");
    CHECK(state.not_restarting == d.why_not);
    WaitOutcome signal = Exit(143, kT0 + absl::Seconds(1));
    signal.reason = WaitReason::kSignal;
    WaitOutcome oom = Exit(137, kT0 + absl::Seconds(2));
    oom.reason = WaitReason::kOomKilled;
    WaitOutcome error = WaitOutcome::RuntimeError("no such file", kT0 + absl::Seconds(3));
    for (const auto& outcome : {Exit(1, kT0), signal, oom, error}) {
      CHECK(supervise::Judge(Policy("on-failure"), outcome, absl::Seconds(1), kT0, &state).restart);
    }
    state.stopped_unhealthy = true;
    auto unhealthy =
        supervise::Judge(Policy("on-failure"), Exit(0, kT0), absl::Seconds(1), kT0, &state);
    CHECK(unhealthy.restart);
    CHECK(state.history.back().cause == "unhealthy");
    CHECK_FALSE(state.stopped_unhealthy);
  }
  SECTION("always restarts exit 0") {
    CHECK(supervise::Judge(Policy("always"), Exit(0, kT0), absl::Seconds(1), kT0, &state).restart);
    CHECK(supervise::Judge(Policy("unless-stopped"), Exit(0, kT0), absl::Seconds(1), kT0, &state)
              .restart);
  }
  SECTION("an API stop is never undone") {
    state.stopped_by_api = true;
    auto d = supervise::Judge(Policy("always"), Exit(137, kT0), absl::Seconds(1), kT0, &state);
    CHECK_FALSE(d.restart);
    CHECK(d.why_not == "stopped through the API");
    CHECK_FALSE(state.next_restart_at);
  }
  SECTION("on-failure:2 gives up after two restarts") {
    const RestartPolicy policy = Policy("on-failure:2");
    for (int run = 0; run < 2; ++run) {
      CHECK(supervise::Judge(policy, Exit(1, kT0), absl::Seconds(1), kT0, &state).restart);
      supervise::MarkRestarted(&state);
    }
    auto d = supervise::Judge(policy, Exit(1, kT0), absl::Seconds(1), kT0, &state);
    CHECK_FALSE(d.restart);
    CHECK(d.why_not == "on-failure limit reached (2 restarts)");
    CHECK(state.history.size() == 3);
    CHECK(state.history[0].restarted);
    CHECK_FALSE(state.history[2].restarted);
    supervise::ResetForApiStart(&state);
    CHECK(state.restart_count == 0);
    CHECK(supervise::Judge(policy, Exit(1, kT0), absl::Seconds(1), kT0, &state).restart);
  }
}

TEST_CASE("the delay grows with quick failures, resets after a long run, counts from the exit",
          "[supervise]") {
  RestartPolicy policy = Policy("always");
  policy.backoff_base = absl::Seconds(1);
  policy.backoff_max = absl::Seconds(60);
  policy.reset_after = absl::Minutes(1);
  supervise::RestartState state;
  std::vector<absl::Duration> delays;
  for (int run = 0; run < 4; ++run) {
    auto d = supervise::Judge(policy, Exit(1, kT0), absl::Seconds(2), kT0, &state);
    REQUIRE(d.restart);
    delays.push_back(d.at - kT0);
    REQUIRE(state.next_restart_at == d.at);
    supervise::MarkRestarted(&state);
    CHECK_FALSE(state.next_restart_at);
  }
  CHECK(delays == std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                              absl::Seconds(8)});
  // A run that lasted reset_after starts again from the base.
  auto d = supervise::Judge(policy, Exit(1, kT0), absl::Minutes(2), kT0, &state);
  CHECK(d.at - kT0 == absl::Seconds(1));
  // An exit judged late (after an agent restart) waits only what is left of its delay.
  auto late =
      supervise::Judge(policy, Exit(1, kT0), absl::Seconds(2), kT0 + absl::Hours(1), &state);
  CHECK(late.at == kT0 + absl::Hours(1));
  CHECK(state.judged_exit_at == kT0);
  // History is bounded.
  for (int run = 0; run < 30; ++run) {
    supervise::Judge(policy, Exit(1, kT0), absl::Seconds(2), kT0, &state);
  }
  CHECK(state.history.size() == supervise::kMaxHistory);
}
