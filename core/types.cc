#include "core/types.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace zlayer::core {

std::string ContainerId::ToString() const { return absl::StrCat(service, "-rep-", replica); }

absl::StatusOr<ContainerId> ContainerId::Parse(absl::string_view name) {
  const size_t pos = name.rfind("-rep-");
  if (pos == absl::string_view::npos || pos == 0) {
    return core::InvalidSpec(
        absl::StrCat("'", name, "' is not a container name; expected <service>-rep-<N>"));
  }
  ContainerId id;
  id.service = std::string(name.substr(0, pos));
  const absl::string_view number = name.substr(pos + 5);
  if (number.empty() || !absl::SimpleAtoi(number, &id.replica) ||
      number.find_first_not_of("0123456789") != absl::string_view::npos) {
    return core::InvalidSpec(absl::StrCat("'", name, "': replica '", number,
                                          "' is not a number; expected <service>-rep-<N>"));
  }
  if (auto s = ValidateContainerId(id); !s.ok()) return s;
  return id;
}

absl::Status ValidateNetworkName(absl::string_view name) {
  if (name.empty()) return absl::OkStatus();
  const bool plain = name.size() <= 64 && absl::ascii_isalnum(name.front()) &&
                     std::all_of(name.begin(), name.end(), [](char ch) {
                       return absl::ascii_isalnum(ch) || ch == '-' || ch == '_' || ch == '.';
                     });
  if (plain) return absl::OkStatus();
  return InvalidSpec(absl::StrCat(
      "network '", name,
      "': use none, host, bridge or the name of a configured network (letters, digits, '-', "
      "'_', '.'; at most 64)"));
}

absl::Status ValidateContainerId(const ContainerId& id) {
  const std::string& s = id.service;
  if (s.empty()) return core::InvalidSpec("container id: service name must not be empty");
  if (s.size() > 63) {
    return core::InvalidSpec(
        absl::StrCat("container id: service name '", s, "' is longer than 63 characters"));
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s.front())) {
    return core::InvalidSpec(
        absl::StrCat("container id: service name '", s, "' must start with a letter or digit"));
  }
  for (char c : s) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') {
      return core::InvalidSpec(
          absl::StrCat("container id: service name '", s,
                       "' may contain only letters, digits, '-', '_' and '.'"));
    }
  }
  return absl::OkStatus();
}

const char* PhaseName(ContainerState::Phase phase) {
  switch (phase) {
    case ContainerState::Phase::kPending:
      return "pending";
    case ContainerState::Phase::kInitializing:
      return "initializing";
    case ContainerState::Phase::kRunning:
      return "running";
    case ContainerState::Phase::kStopping:
      return "stopping";
    case ContainerState::Phase::kExited:
      return "exited";
    case ContainerState::Phase::kFailed:
      return "failed";
  }
  return "unknown";
}

std::string ContainerState::ToString() const {
  switch (phase) {
    case Phase::kExited:
      return absl::StrCat("exited(", exit_code, ")");
    case Phase::kFailed:
      return absl::StrCat("failed: ", reason);
    default:
      return PhaseName(phase);
  }
}

const char* WaitReasonName(WaitReason reason) {
  switch (reason) {
    case WaitReason::kExited:
      return "exited";
    case WaitReason::kSignal:
      return "signal";
    case WaitReason::kOomKilled:
      return "oom_killed";
    case WaitReason::kRuntimeError:
      return "runtime_error";
  }
  return "exited";
}

std::optional<WaitReason> ParseWaitReason(absl::string_view name) {
  for (auto r : {WaitReason::kExited, WaitReason::kSignal, WaitReason::kOomKilled,
                 WaitReason::kRuntimeError}) {
    if (name == WaitReasonName(r)) return r;
  }
  return std::nullopt;
}

bool ContainerFilter::Matches(const ContainerRecord& r) const {
  if (!service.empty() && r.id.service != service) return false;
  if (!deployment.empty() && r.deployment != deployment) return false;
  if (phase && r.state.phase != *phase) return false;
  return true;
}

}  // namespace zlayer::core
