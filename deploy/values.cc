#include "deploy/values.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/time_util.h"

namespace zlayer::deploy {
namespace {

struct Unit {
  const char* suffix;
  uint64_t factor;
};

// Longest suffixes first so that "Mi" is not read as "M" followed by junk.
constexpr std::array<Unit, 11> kSizeUnits = {{
    {"Ki", 1ull << 10}, {"Mi", 1ull << 20}, {"Gi", 1ull << 30}, {"Ti", 1ull << 40},
    {"Pi", 1ull << 50}, {"k", 1000ull}, {"K", 1000ull}, {"M", 1000'000ull},
    {"G", 1000'000'000ull}, {"T", 1000'000'000'000ull}, {"P", 1000'000'000'000'000ull},
}};

absl::Status BadSize(absl::string_view text, absl::string_view why = {}) {
  return absl::InvalidArgumentError(absl::StrCat(
      "expected a size like 512Mi, 1Gi or 1048576 (bytes), got \"", text, "\"",
      why.empty() ? "" : "; ", why));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

constexpr std::array<const char*, 26> kStopSignals = {
    "SIGHUP",  "SIGINT",  "SIGQUIT",  "SIGILL",    "SIGTRAP", "SIGABRT", "SIGBUS",
    "SIGFPE",  "SIGKILL", "SIGUSR1",  "SIGSEGV",   "SIGUSR2", "SIGPIPE", "SIGALRM",
    "SIGTERM", "SIGSTKFLT", "SIGXCPU", "SIGXFSZ",  "SIGVTALRM", "SIGPROF", "SIGWINCH",
    "SIGIO",   "SIGPWR",  "SIGSYS",   "SIGPOLL",   "SIGIOT",
};

constexpr std::array<const char*, 41> kCapabilities = {
    "CHOWN",           "DAC_OVERRIDE",     "DAC_READ_SEARCH", "FOWNER",
    "FSETID",          "KILL",             "SETGID",          "SETUID",
    "SETPCAP",         "LINUX_IMMUTABLE",  "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN",       "NET_RAW",          "IPC_LOCK",        "IPC_OWNER",
    "SYS_MODULE",      "SYS_RAWIO",        "SYS_CHROOT",      "SYS_PTRACE",
    "SYS_PACCT",       "SYS_ADMIN",        "SYS_BOOT",        "SYS_NICE",
    "SYS_RESOURCE",    "SYS_TIME",         "SYS_TTY_CONFIG",  "MKNOD",
    "LEASE",           "AUDIT_WRITE",      "AUDIT_CONTROL",   "SETFCAP",
    "MAC_OVERRIDE",    "MAC_ADMIN",        "SYSLOG",          "WAKE_ALARM",
    "BLOCK_SUSPEND",   "AUDIT_READ",       "PERFMON",         "BPF",
    "CHECKPOINT_RESTORE",
};

// Optimal string alignment distance, case-insensitive: insertions, deletions,
// substitutions and swaps of neighbours ("TREM" -> "TERM") cost 1 each.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  auto eq = [](char x, char y) {
    return absl::ascii_tolower(static_cast<unsigned char>(x)) ==
           absl::ascii_tolower(static_cast<unsigned char>(y));
  };
  const size_t w = b.size() + 1;
  std::vector<size_t> d((a.size() + 1) * w);
  for (size_t i = 0; i <= a.size(); ++i) d[i * w] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t best = std::min({d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1,
                              d[(i - 1) * w + j - 1] + (eq(a[i - 1], b[j - 1]) ? 0 : 1)});
      if (i > 1 && j > 1 && eq(a[i - 1], b[j - 2]) && eq(a[i - 2], b[j - 1])) {
        best = std::min(best, d[(i - 2) * w + j - 2] + 1);
      }
      d[i * w + j] = best;
    }
  }
  return d[a.size() * w + b.size()];
}

}  // namespace

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  if (text.empty()) return BadSize(text);
  size_t i = 0;
  while (i < text.size() && IsDigit(text[i])) ++i;
  const absl::string_view whole = text.substr(0, i);
  absl::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    const size_t start = ++i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    fraction = text.substr(start, i - start);
    if (fraction.empty()) return BadSize(text);
  }
  if (whole.empty()) return BadSize(text);
  const absl::string_view suffix = text.substr(i);
  uint64_t factor = 1;
  if (!suffix.empty()) {
    const auto* unit = std::find_if(kSizeUnits.begin(), kSizeUnits.end(),
                                    [&](const Unit& u) { return suffix == u.suffix; });
    if (unit == kSizeUnits.end()) {
      return BadSize(text, absl::StrCat("unknown unit \"", suffix,
                                        "\" (use Ki, Mi, Gi, Ti, Pi or k, M, G, T, P)"));
    }
    factor = unit->factor;
  } else if (!fraction.empty()) {
    return BadSize(text, "a fraction needs a unit, e.g. 1.5Gi");
  }
  // 128-bit arithmetic: 20 digits times 2^50 still fits, so overflow is one compare.
  unsigned __int128 value = 0;
  for (char c : whole) {
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > UINT64_MAX) return BadSize(text, "too large");
  }
  value *= factor;
  unsigned __int128 frac_value = 0, frac_scale = 1;
  for (char c : fraction.substr(0, 18)) {  // beyond 18 digits is below a byte anyway
    frac_value = frac_value * 10 + static_cast<unsigned>(c - '0');
    frac_scale *= 10;
  }
  value += frac_value * factor / frac_scale;
  if (value > UINT64_MAX) return BadSize(text, "too large");
  return static_cast<uint64_t>(value);
}

absl::StatusOr<absl::Duration> ParseSpecDuration(absl::string_view text) {
  if (text == "0") return absl::ZeroDuration();
  const bool unitless = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return IsDigit(c) || c == '.';
  });
  auto d = base::ParseDuration(text);
  if (unitless || !d.ok() || *d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a duration like 30s, 1m30s or 250ms, got \"", text, "\"",
                     unitless ? "; add a unit (ms, s, m, h)" : ""));
  }
  return *d;
}

absl::Status ValidateDeploymentName(absl::string_view name) {
  const bool chars_ok = std::all_of(name.begin(), name.end(),
                                    [](char c) { return IsAlnum(c) || c == '-'; });
  if (name.size() < 3 || name.size() > 63 || !chars_ok || !IsAlnum(name.front())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a deployment name of 3 to 63 letters, digits and '-', starting with a "
        "letter or digit, got \"", name, "\""));
  }
  return absl::OkStatus();
}

absl::Status ValidateServiceName(absl::string_view name) {
  const bool chars_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return IsAlnum(c) || c == '-' || c == '_' || c == '.';
  });
  if (name.empty() || name.size() > 63 || !chars_ok || !IsAlnum(name.front())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a service name of 1 to 63 letters, digits, '-', '_' and '.', starting "
        "with a letter or digit, got \"", name, "\""));
  }
  if (absl::StrContains(name, "-rep-")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "service name \"", name, "\" must not contain \"-rep-\": container names are "
        "<service>-rep-<N>, and this one would be ambiguous"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeSignal(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (!absl::StartsWith(upper, "SIG")) upper = absl::StrCat("SIG", upper);
  for (const char* s : kStopSignals) {
    if (upper == s) return upper;
  }
  std::vector<std::string> options(kStopSignals.begin(), kStopSignals.end());
  const std::string near = ClosestMatch(upper, options);
  return absl::InvalidArgumentError(absl::StrCat(
      "expected a signal name like SIGTERM, SIGINT or SIGQUIT, got \"", name, "\"",
      near.empty() ? "" : absl::StrCat("; did you mean ", near, "?")));
}

absl::StatusOr<std::string> NormalizeCapability(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (upper == "ALL") return upper;
  if (absl::StartsWith(upper, "CAP_")) upper = upper.substr(4);
  for (const char* c : kCapabilities) {
    if (upper == c) return absl::StrCat("CAP_", upper);
  }
  std::vector<std::string> options(kCapabilities.begin(), kCapabilities.end());
  const std::string near = ClosestMatch(upper, options);
  return absl::InvalidArgumentError(absl::StrCat(
      "expected a capability like NET_ADMIN or CAP_SYS_PTRACE (or ALL), got \"", name, "\"",
      near.empty() ? "" : absl::StrCat("; did you mean ", near, "?")));
}

absl::Status ValidateEnvName(absl::string_view name) {
  if (name.empty() || name.find('=') != absl::string_view::npos ||
      name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected an environment variable name without '=' or NUL, got \"", name, "\""));
  }
  return absl::OkStatus();
}

absl::Status ValidateHostname(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 253;
  size_t label_start = 0;
  for (size_t i = 0; ok && i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      const absl::string_view label = name.substr(label_start, i - label_start);
      ok = !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-';
      label_start = i + 1;
    } else {
      ok = IsAlnum(name[i]) || name[i] == '-';
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a hostname of letters, digits, '-' and '.' (labels of at most 63 "
        "characters, not starting or ending with '-'), got \"", name, "\""));
  }
  return absl::OkStatus();
}

std::string JoinChoices(const std::vector<std::string>& choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += i + 1 == choices.size() ? " or " : ", ";
    out += choices[i];
  }
  return out;
}

std::string ClosestMatch(absl::string_view word, const std::vector<std::string>& options) {
  std::string best;
  if (word.size() > 64) return best;  // no misspelling is that long; keeps the cost bounded
  size_t best_distance = std::max<size_t>(1, word.size() / 3) + 1;
  for (const auto& option : options) {
    const size_t d = EditDistance(word, option);
    if (d < best_distance) {
      best_distance = d;
      best = option;
    }
  }
  return best;
}

}  // namespace zlayer::deploy
