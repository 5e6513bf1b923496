// Wall-clock helpers with nanosecond precision (protobuf 3.21's TimeUtil drops them).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace zlayer::base {

// CLOCK_REALTIME with full nanoseconds.
absl::Time NowRealtime();

// "2026-11-30T03:21:08.123456789Z": RFC 3339, UTC, always nine fractional digits, as
// the CRI log format writes it.
std::string FormatRfc3339Nano(absl::Time t);
absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text);

// Durations such as "30s", "1m30s", "250ms", "2h".
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

}  // namespace zlayer::base
