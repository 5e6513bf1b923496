// The restart policy's judgement, apart from any backend: given how a run ended,
// whether the container starts again and when. Backends keep a RestartState with
// the container's record and call Judge once per ended run; Judge is pure, so the
// same exit judged again (after an agent restart) is recognised by its timestamp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/service_spec.h"
#include "core/types.h"

namespace zlayer::supervise {

// Used where a policy leaves a backoff setting at zero. The kubelet starts at 10 s
// and Docker at 100 ms; one second restarts a crashing service quickly without
// spinning, and the cap keeps a crash loop at one attempt every five minutes.
struct BackoffDefaults {
  absl::Duration base = absl::Seconds(1);
  absl::Duration max = absl::Minutes(5);
  absl::Duration reset_after = absl::Minutes(10);
};

// What a backend persists about a container's restarts.
struct RestartState {
  uint32_t restart_count = 0;  // restarts made by the policy since the last API start
  uint32_t backoff_step = 0;   // consecutive runs shorter than reset_after
  // Set while a restart is due; kept until the new run has started, so that an
  // agent that dies in between still makes it (once) after recovery.
  std::optional<absl::Time> next_restart_at;
  bool stopped_by_api = false;
  // The agent stopped it for failing its health check; the end counts as a failure.
  bool stopped_unhealthy = false;
  // finished_at of the last run judged: the same exit is never judged twice.
  std::optional<absl::Time> judged_exit_at;
  std::string not_restarting;
  std::vector<core::RestartHistoryEntry> history;  // newest last
};

constexpr size_t kMaxHistory = 10;

// "no", "on-failure", "on-failure:N", "always", "unless-stopped".
std::string PolicyName(const core::RestartPolicy& policy);
// Parses the names above (the backoff settings stay zero). INVALID_ARGUMENT names
// the accepted forms.
absl::StatusOr<core::RestartPolicy> ParsePolicyName(absl::string_view name);
// INVALID_ARGUMENT for negative durations or a cap below the base.
absl::Status ValidatePolicy(const core::RestartPolicy& policy);

// The delay before the restart that follows `step` consecutive quick failures.
absl::Duration BackoffDelay(const core::RestartPolicy& policy, uint32_t step,
                            const BackoffDefaults& defaults = {});

struct Decision {
  bool restart = false;
  absl::Time at;        // when restart
  std::string why_not;  // when not
};

// Judges one ended run and records it in `state`: the history entry, the backoff
// step, next_restart_at or not_restarting. `ran_for` is how long the run lasted
// (a zero duration for a run that never started).
Decision Judge(const core::RestartPolicy& policy, const core::WaitOutcome& outcome,
               absl::Duration ran_for, absl::Time now, RestartState* state,
               const BackoffDefaults& defaults = {});

// The restart made: count it and clear the pending time.
void MarkRestarted(RestartState* state);
// An API start: the count and the backoff begin again, as `docker start` does.
void ResetForApiStart(RestartState* state);

// Inspect's view; nullopt for policy "no" with no history.
std::optional<core::SupervisionDetail> Describe(const core::RestartPolicy& policy,
                                                const RestartState& state);

}  // namespace zlayer::supervise
