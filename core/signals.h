// Signal names as the contract defines them.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zlayer::core {

// Accepts SIGKILL, SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2, with or without the
// "SIG" prefix, in any case, with surrounding whitespace. Returns the canonical
// "SIGxxx" name, or INVALID_ARGUMENT listing the allowed names.
absl::StatusOr<std::string> ValidateSignal(absl::string_view signal);

// The signal number of a canonical name from ValidateSignal (or any "SIGxxx" known to
// the host, for stop signals from image configs); nullopt if unknown.
std::optional<int> SignalNumber(absl::string_view canonical_name);

// For an exit code of 128 + N: the name of signal N ("SIGKILL"), or "signal_N" when
// N is not one of the common POSIX signals. nullopt for codes <= 128.
std::optional<std::string> SignalNameFromExitCode(int exit_code);

}  // namespace zlayer::core
