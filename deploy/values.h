// The value syntaxes of a deployment spec, independent of YAML: sizes, durations,
// names, signals and capabilities. Each returns INVALID_ARGUMENT whose message says
// what is expected; the YAML reader adds the place and the key path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace zlayer::deploy {

// "512Mi", "1Gi", "1.5G", "64k", "1048576". Binary suffixes Ki Mi Gi Ti Pi (powers
// of 1024), decimal ones k K M G T P (powers of 1000), none = bytes. Fractions are
// allowed with a suffix and rounded down to whole bytes.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

// "30s", "1m30s", "250ms", "2h", and "0". A unit is required for anything but 0;
// negative and infinite durations are refused.
absl::StatusOr<absl::Duration> ParseSpecDuration(absl::string_view text);

// Deployment names: 3-63 characters, letters, digits and '-', starting with a
// letter or digit (a leading '-' reads as an option on command lines).
absl::Status ValidateDeploymentName(absl::string_view name);

// Service names become container names ("<service>-rep-<N>"), file names and cgroup
// names. The rule is core::ValidateContainerId's (1-63 characters, letters,
// digits, '-', '_' and '.', starting with a letter or digit; a test keeps the two
// in step) plus one more: no "-rep-", which would make "web-rep-1" ambiguous.
absl::Status ValidateServiceName(absl::string_view name);

// "TERM", "sigterm", "SIGTERM" -> "SIGTERM". Any standard Linux signal that can end
// a process is allowed as a stop signal, real-time and job-control ones are not.
absl::StatusOr<std::string> NormalizeSignal(absl::string_view name);

// "net_admin", "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; "all" -> "ALL". The names are
// Linux's (capabilities(7)), up to CAP_CHECKPOINT_RESTORE.
absl::StatusOr<std::string> NormalizeCapability(absl::string_view name);

// Environment variable names: non-empty, no '=' and no NUL.
absl::Status ValidateEnvName(absl::string_view name);

// Hostnames: 1-253 characters of letters, digits, '-' and '.', in labels of at
// most 63 characters that neither start nor end with '-'.
absl::Status ValidateHostname(absl::string_view name);

// "a", "a or b", "a, b or c".
std::string JoinChoices(const std::vector<std::string>& choices);

// The option closest to `word` (case-insensitive edit distance of at most a third
// of its length, and at least 1), for "did you mean" hints; empty when none is close.
std::string ClosestMatch(absl::string_view word, const std::vector<std::string>& options);

}  // namespace zlayer::deploy
