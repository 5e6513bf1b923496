#include "core/signals.h"

#include <signal.h>

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace zlayer::core {
namespace {

struct NamedSignal {
  const char* name;
  int number;
};

// The common POSIX signals the contract names; SIGSTOP and SIGCONT use Linux's
// x86/arm numbering (19, 18) but exit-code naming follows the contract's table.
constexpr NamedSignal kAllowedForKill[] = {
    {"SIGKILL", SIGKILL}, {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT},
    {"SIGHUP", SIGHUP},   {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2},
};

constexpr NamedSignal kKnown[] = {
    {"SIGHUP", SIGHUP},       {"SIGINT", SIGINT},   {"SIGQUIT", SIGQUIT},   {"SIGILL", SIGILL},
    {"SIGTRAP", SIGTRAP},     {"SIGABRT", SIGABRT}, {"SIGBUS", SIGBUS},     {"SIGFPE", SIGFPE},
    {"SIGKILL", SIGKILL},     {"SIGUSR1", SIGUSR1}, {"SIGSEGV", SIGSEGV},   {"SIGUSR2", SIGUSR2},
    {"SIGPIPE", SIGPIPE},     {"SIGALRM", SIGALRM}, {"SIGTERM", SIGTERM},   {"SIGCHLD", SIGCHLD},
    {"SIGCONT", SIGCONT},     {"SIGSTOP", SIGSTOP}, {"SIGTSTP", SIGTSTP},   {"SIGTTIN", SIGTTIN},
    {"SIGTTOU", SIGTTOU},     {"SIGURG", SIGURG},   {"SIGXCPU", SIGXCPU},   {"SIGXFSZ", SIGXFSZ},
    {"SIGVTALRM", SIGVTALRM}, {"SIGPROF", SIGPROF}, {"SIGWINCH", SIGWINCH}, {"SIGIO", SIGIO},
    {"SIGPWR", SIGPWR},       {"SIGSYS", SIGSYS},
};

}  // namespace

absl::StatusOr<std::string> ValidateSignal(absl::string_view signal) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(signal);
  if (trimmed.empty()) return core::InvalidSpec("signal must not be empty");
  std::string upper = absl::AsciiStrToUpper(trimmed);
  if (!absl::StartsWith(upper, "SIG")) upper = absl::StrCat("SIG", upper);
  for (const auto& s : kAllowedForKill) {
    if (upper == s.name) return upper;
  }
  return core::InvalidSpec(absl::StrCat("unsupported signal '", upper,
                                        "'; allowed: SIGKILL, SIGTERM, SIGINT, SIGHUP, "
                                        "SIGUSR1, SIGUSR2"));
}

std::optional<int> SignalNumber(absl::string_view canonical_name) {
  for (const auto& s : kKnown) {
    if (canonical_name == s.name) return s.number;
  }
  return std::nullopt;
}

std::optional<std::string> SignalNameFromExitCode(int exit_code) {
  if (exit_code <= 128) return std::nullopt;
  const int n = exit_code - 128;
  // The contract's table: these numbers, these names, whatever the host numbering.
  switch (n) {
    case 1:
      return "SIGHUP";
    case 2:
      return "SIGINT";
    case 3:
      return "SIGQUIT";
    case 4:
      return "SIGILL";
    case 6:
      return "SIGABRT";
    case 7:
      return "SIGBUS";
    case 8:
      return "SIGFPE";
    case 9:
      return "SIGKILL";
    case 10:
      return "SIGUSR1";
    case 11:
      return "SIGSEGV";
    case 12:
      return "SIGUSR2";
    case 13:
      return "SIGPIPE";
    case 14:
      return "SIGALRM";
    case 15:
      return "SIGTERM";
    case 17:
      return "SIGSTOP";
    case 18:
      return "SIGCONT";
    default:
      return absl::StrCat("signal_", n);
  }
}

}  // namespace zlayer::core
