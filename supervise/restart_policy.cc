#include "supervise/restart_policy.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/errors.h"

namespace zlayer::supervise {

using Mode = core::RestartPolicy::Mode;

std::string PolicyName(const core::RestartPolicy& policy) {
  switch (policy.mode) {
    case Mode::kNo:
      return "no";
    case Mode::kOnFailure:
      return policy.max_retries ? absl::StrCat("on-failure:", policy.max_retries) : "on-failure";
    case Mode::kAlways:
      return "always";
    case Mode::kUnlessStopped:
      return "unless-stopped";
  }
  return "no";
}

absl::StatusOr<core::RestartPolicy> ParsePolicyName(absl::string_view name) {
  core::RestartPolicy policy;
  if (name.empty() || name == "no") return policy;
  if (name == "always") {
    policy.mode = Mode::kAlways;
    return policy;
  }
  if (name == "unless-stopped") {
    policy.mode = Mode::kUnlessStopped;
    return policy;
  }
  if (name == "on-failure") {
    policy.mode = Mode::kOnFailure;
    return policy;
  }
  if (absl::ConsumePrefix(&name, "on-failure:")) {
    uint32_t max = 0;
    if (absl::SimpleAtoi(name, &max) && max > 0) {
      policy.mode = Mode::kOnFailure;
      policy.max_retries = max;
      return policy;
    }
  }
  return core::InvalidSpec(absl::StrCat("restart policy '", name,
                                        "' is not one of no, on-failure, on-failure:N (N > 0), "
                                        "always, unless-stopped"));
}

absl::Status ValidatePolicy(const core::RestartPolicy& policy) {
  const absl::Duration zero = absl::ZeroDuration();
  if (policy.backoff_base < zero || policy.backoff_max < zero || policy.reset_after < zero) {
    return core::InvalidSpec("restart backoff durations must not be negative");
  }
  if (policy.backoff_base > zero && policy.backoff_max > zero &&
      policy.backoff_max < policy.backoff_base) {
    return core::InvalidSpec(
        absl::StrCat("restart backoff max (", absl::FormatDuration(policy.backoff_max),
                     ") is below its base (", absl::FormatDuration(policy.backoff_base), ")"));
  }
  if (policy.mode != Mode::kOnFailure && policy.max_retries != 0) {
    return core::InvalidSpec("a restart max_retries applies only to the on-failure policy");
  }
  return absl::OkStatus();
}

namespace {

absl::Duration OrDefault(absl::Duration value, absl::Duration fallback) {
  return value > absl::ZeroDuration() ? value : fallback;
}

bool IsFailure(const core::WaitOutcome& outcome, bool unhealthy) {
  return unhealthy || outcome.reason != core::WaitReason::kExited || outcome.exit_code != 0;
}

}  // namespace

absl::Duration BackoffDelay(const core::RestartPolicy& policy, uint32_t step,
                            const BackoffDefaults& defaults) {
  const absl::Duration base = OrDefault(policy.backoff_base, defaults.base);
  const absl::Duration max = std::max(base, OrDefault(policy.backoff_max, defaults.max));
  absl::Duration delay = base;
  for (uint32_t doubled = 0; doubled < step && delay < max; ++doubled) delay *= 2;
  return std::min(delay, max);
}

Decision Judge(const core::RestartPolicy& policy, const core::WaitOutcome& outcome,
               absl::Duration ran_for, absl::Time now, RestartState* state,
               const BackoffDefaults& defaults) {
  const bool unhealthy = std::exchange(state->stopped_unhealthy, false);
  state->judged_exit_at = outcome.finished_at.value_or(now);
  state->next_restart_at.reset();
  core::RestartHistoryEntry entry;
  entry.outcome = outcome;
  entry.cause = unhealthy ? "unhealthy" : "exited";

  Decision decision;
  if (policy.mode == Mode::kNo) {
    decision.why_not = "restart policy is no";
  } else if (state->stopped_by_api) {
    // Keeps what the API call said ("killed through the API").
    decision.why_not =
        state->not_restarting.empty() ? "stopped through the API" : state->not_restarting;
  } else if (policy.mode == Mode::kOnFailure && !IsFailure(outcome, unhealthy)) {
    decision.why_not = "exited 0 (on-failure restarts only failures)";
  } else if (policy.mode == Mode::kOnFailure && policy.max_retries != 0 &&
             state->restart_count >= policy.max_retries) {
    decision.why_not =
        absl::StrCat("on-failure limit reached (", state->restart_count, " restarts)");
  } else {
    if (ran_for >= OrDefault(policy.reset_after, defaults.reset_after)) state->backoff_step = 0;
    const absl::Duration delay = BackoffDelay(policy, state->backoff_step, defaults);
    ++state->backoff_step;
    // From the exit, not from now: an exit judged late (after an agent restart)
    // waits only what is left of its delay.
    decision.restart = true;
    decision.at = std::max(now, state->judged_exit_at.value_or(now) + delay);
    state->next_restart_at = decision.at;
  }
  entry.restarted = decision.restart;
  state->not_restarting = decision.why_not;
  state->history.push_back(std::move(entry));
  if (state->history.size() > kMaxHistory) {
    state->history.erase(state->history.begin(),
                         state->history.end() - static_cast<ptrdiff_t>(kMaxHistory));
  }
  return decision;
}

void MarkRestarted(RestartState* state) {
  ++state->restart_count;
  state->next_restart_at.reset();
  state->not_restarting.clear();
}

void ResetForApiStart(RestartState* state) {
  state->restart_count = 0;
  state->backoff_step = 0;
  state->next_restart_at.reset();
  state->stopped_by_api = false;
  state->stopped_unhealthy = false;
  state->not_restarting.clear();
}

std::optional<core::SupervisionDetail> Describe(const core::RestartPolicy& policy,
                                                const RestartState& state) {
  if (policy.mode == Mode::kNo && state.history.empty()) return std::nullopt;
  core::SupervisionDetail detail;
  detail.policy = PolicyName(policy);
  detail.restart_count = state.restart_count;
  detail.next_restart_at = state.next_restart_at;
  detail.not_restarting = state.not_restarting;
  detail.history = state.history;
  return detail;
}

}  // namespace zlayer::supervise
