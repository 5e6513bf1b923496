#include "cli/format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/types.h"

namespace zlayer::cli {

std::string Table::ToString() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 3, ' ');
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return absl::StrCat(bytes, "B");
  // Three significant digits: 1.23, 12.3, 123.
  const int decimals = value < 10 ? 2 : value < 100 ? 1 : 0;
  std::string number = absl::StrFormat("%.*f", decimals, value);
  // "50.00" -> "50": trailing zeros say nothing.
  if (number.find('.') != std::string::npos) {
    while (number.back() == '0') number.pop_back();
    if (number.back() == '.') number.pop_back();
  }
  return absl::StrCat(number, kUnits[unit]);
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  if (s < 86400) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  return absl::StrFormat("%dd%dh", s / 86400, (s % 86400) / 3600);
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string FormatTime(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", ToTime(ts), absl::UTCTimeZone());
}

std::string ShortDigest(absl::string_view digest) {
  if (digest.empty()) return "-";
  const size_t colon = digest.find(':');
  if (colon == absl::string_view::npos) return std::string(digest.substr(0, 12));
  return absl::StrCat(digest.substr(0, colon + 1), digest.substr(colon + 1, 12));
}

std::string PhaseText(pb::ContainerPhase phase) {
  switch (phase) {
    case pb::CONTAINER_PHASE_PENDING: return "pending";
    case pb::CONTAINER_PHASE_INITIALIZING: return "initializing";
    case pb::CONTAINER_PHASE_RUNNING: return "running";
    case pb::CONTAINER_PHASE_STOPPING: return "stopping";
    case pb::CONTAINER_PHASE_EXITED: return "exited";
    case pb::CONTAINER_PHASE_FAILED: return "failed";
    default: return "unknown";
  }
}

std::string StateText(const pb::ContainerState& state) {
  switch (state.phase()) {
    case pb::CONTAINER_PHASE_EXITED: return absl::StrCat("exited (", state.exit_code(), ")");
    case pb::CONTAINER_PHASE_FAILED:
      return state.reason().empty() ? "failed" : absl::StrCat("failed: ", state.reason());
    default: return PhaseText(state.phase());
  }
}

std::string StateText(const pb::ContainerState& state, std::optional<absl::Time> restart_at,
                      absl::Time now) {
  std::string out = StateText(state);
  if (!restart_at) return out;
  // HumanDuration counts whole seconds: under one left, "in 0s" would read as stuck.
  const absl::Duration left = *restart_at - now;
  return absl::StrCat(
      out, left < absl::Seconds(1) ? ", restarting now" : ", restarting in " + HumanDuration(left));
}

std::string WaitReasonText(pb::WaitReason reason) {
  switch (reason) {
    case pb::WAIT_REASON_SIGNAL: return "signal";
    case pb::WAIT_REASON_OOM_KILLED: return "oom_killed";
    case pb::WAIT_REASON_RUNTIME_ERROR: return "runtime_error";
    default: return "exited";
  }
}

std::string ContainerName(const pb::ContainerId& id) {
  return core::ContainerId{id.service(), id.replica()}.ToString();
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

namespace {

void Write(FILE* f, absl::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fflush(f) != 0) {
    // The reader went away (EPIPE) or the disk is full: nothing useful is left to do.
    // 141 = 128 + SIGPIPE, what a shell reports when SIGPIPE is not ignored.
    std::_Exit(errno == EPIPE ? 141 : 1);
  }
}

}  // namespace

void Out(absl::string_view text) { Write(stdout, text); }
void Err(absl::string_view text) { Write(stderr, text); }

}  // namespace zlayer::cli
