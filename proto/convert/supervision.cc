// Health checks, restart policies, init actions and the restart policy's report on
// the wire (docs/supervision.md).
#include "proto/convert/supervision.h"

#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/utf8.h"
#include "core/errors.h"
#include "proto/convert/convert.h"
#include "supervise/restart_policy.h"

namespace zlayer::proto {
namespace {

constexpr uint32_t kMaxPort = 65535;

absl::Status Bad(absl::string_view field, absl::string_view message) {
  return core::InvalidSpec(absl::StrCat(field, ": ", message));
}

// Durations arrive from clients as two signed integers: a negative one is a mistake,
// never "no limit", so it is refused rather than clamped.
absl::StatusOr<absl::Duration> NonNegative(const google::protobuf::Duration& d,
                                           absl::string_view field) {
  const absl::Duration out = FromProto(d);
  if (out < absl::ZeroDuration()) {
    return Bad(field, absl::StrCat("must not be negative, got ", absl::FormatDuration(out)));
  }
  return out;
}

absl::StatusOr<core::InitAction> StepFromProto(const pb::InitAction& in, absl::string_view field) {
  using Kind = core::InitAction::Kind;
  core::InitAction out;
  out.name = in.name();
  switch (in.action_case()) {
    case pb::InitAction::kWaitTcp: {
      out.kind = Kind::kWaitTcp;
      out.host = in.wait_tcp().host();
      out.port = in.wait_tcp().port();
      if (out.port == 0 || out.port > kMaxPort) {
        return Bad(absl::StrCat(field, ".wait_tcp.port"),
                   absl::StrCat("expected a port from 1 to 65535, got ", out.port));
      }
      break;
    }
    case pb::InitAction::kWaitHttp: {
      out.kind = Kind::kWaitHttp;
      out.url = in.wait_http().url();
      out.expect_status = in.wait_http().expect_status();
      if (!absl::StartsWith(out.url, "http://") && !absl::StartsWith(out.url, "https://")) {
        return Bad(absl::StrCat(field, ".wait_http.url"),
                   absl::StrCat("expected a URL starting with http:// or https://, got \"",
                                base::SanitizeUtf8(out.url), "\""));
      }
      if (out.expect_status != 0 && (out.expect_status < 100 || out.expect_status > 599)) {
        return Bad(absl::StrCat(field, ".wait_http.expect_status"),
                   absl::StrCat("expected 0 (any 2xx) or a status from 100 to 599, got ",
                                out.expect_status));
      }
      break;
    }
    case pb::InitAction::kRun:
      out.kind = Kind::kRun;
      out.command.assign(in.run().command().begin(), in.run().command().end());
      if (out.command.empty()) {
        return Bad(absl::StrCat(field, ".run.command"), "expected a non-empty command");
      }
      break;
    case pb::InitAction::ACTION_NOT_SET:
      return Bad(field, "no action: set one of wait_tcp, wait_http or run");
  }
  auto timeout = NonNegative(in.timeout(), absl::StrCat(field, ".timeout"));
  if (!timeout.ok()) return timeout.status();
  out.timeout = *timeout;
  out.retries = in.retries();
  return out;
}

}  // namespace

absl::StatusOr<core::HealthSpec> FromProto(const pb::HealthSpec& h, absl::string_view field) {
  core::HealthSpec hs;
  hs.start_grace = FromProto(h.start_grace());
  hs.interval = FromProto(h.interval());
  hs.timeout = FromProto(h.timeout());
  hs.retries = h.retries();
  switch (h.check_case()) {
    case pb::HealthSpec::kTcp:
      hs.check = core::HealthSpec::Check::kTcp;
      hs.tcp_port = h.tcp().port();
      break;
    case pb::HealthSpec::kHttp:
      hs.check = core::HealthSpec::Check::kHttp;
      hs.http_url = h.http().url();
      hs.http_expect_status = h.http().expect_status();
      break;
    case pb::HealthSpec::kCommand:
      hs.check = core::HealthSpec::Check::kCommand;
      hs.command.assign(h.command().command().begin(), h.command().command().end());
      break;
    case pb::HealthSpec::CHECK_NOT_SET:
      hs.check = core::HealthSpec::Check::kNone;
      break;
  }
  hs.restart_on_unhealthy = h.restart_on_unhealthy();
  // Without a check nothing can turn unhealthy: the flag would silently do nothing.
  if (hs.restart_on_unhealthy && hs.check == core::HealthSpec::Check::kNone) {
    return Bad(absl::StrCat(field, ".restart_on_unhealthy"),
               "needs a check (tcp, http or command)");
  }
  return hs;
}

pb::HealthSpec ToProto(const core::HealthSpec& h) {
  pb::HealthSpec hs;
  *hs.mutable_start_grace() = ToProto(h.start_grace);
  *hs.mutable_interval() = ToProto(h.interval);
  *hs.mutable_timeout() = ToProto(h.timeout);
  hs.set_retries(h.retries);
  switch (h.check) {
    case core::HealthSpec::Check::kTcp:
      hs.mutable_tcp()->set_port(h.tcp_port);
      break;
    case core::HealthSpec::Check::kHttp:
      hs.mutable_http()->set_url(h.http_url);
      hs.mutable_http()->set_expect_status(h.http_expect_status);
      break;
    case core::HealthSpec::Check::kCommand:
      for (const auto& c : h.command) hs.mutable_command()->add_command(c);
      break;
    case core::HealthSpec::Check::kNone:
      break;
  }
  hs.set_restart_on_unhealthy(h.restart_on_unhealthy);
  return hs;
}

absl::StatusOr<core::RestartPolicy> FromProto(const pb::RestartPolicy& in,
                                              absl::string_view field) {
  auto policy = supervise::ParsePolicyName(in.policy());
  if (!policy.ok()) return Bad(absl::StrCat(field, ".policy"), policy.status().message());
  for (auto [d, name, out] : {std::tuple{&in.backoff_base(), "backoff_base", &policy->backoff_base},
                              std::tuple{&in.backoff_max(), "backoff_max", &policy->backoff_max},
                              std::tuple{&in.reset_after(), "reset_after", &policy->reset_after}}) {
    auto value = NonNegative(*d, absl::StrCat(field, ".", name));
    if (!value.ok()) return value.status();
    *out = *value;
  }
  if (auto s = supervise::ValidatePolicy(*policy); !s.ok()) return Bad(field, s.message());
  return policy;
}

pb::RestartPolicy ToProto(const core::RestartPolicy& in) {
  pb::RestartPolicy out;
  out.set_policy(supervise::PolicyName(in));
  // Zero means "the agent's default" and is left unset, as a client would send it.
  const absl::Duration zero = absl::ZeroDuration();
  if (in.backoff_base != zero) *out.mutable_backoff_base() = ToProto(in.backoff_base);
  if (in.backoff_max != zero) *out.mutable_backoff_max() = ToProto(in.backoff_max);
  if (in.reset_after != zero) *out.mutable_reset_after() = ToProto(in.reset_after);
  return out;
}

absl::StatusOr<std::vector<core::InitAction>> FromProto(
    const google::protobuf::RepeatedPtrField<pb::InitAction>& steps, absl::string_view field) {
  std::vector<core::InitAction> out;
  out.reserve(steps.size());
  for (int i = 0; i < steps.size(); ++i) {
    auto step = StepFromProto(steps[i], absl::StrCat(field, "[", i, "]"));
    if (!step.ok()) return step.status();
    out.push_back(*std::move(step));
  }
  return out;
}

pb::InitAction ToProto(const core::InitAction& in) {
  pb::InitAction out;
  out.set_name(in.name);
  switch (in.kind) {
    case core::InitAction::Kind::kWaitTcp:
      out.mutable_wait_tcp()->set_host(in.host);
      out.mutable_wait_tcp()->set_port(in.port);
      break;
    case core::InitAction::Kind::kWaitHttp:
      out.mutable_wait_http()->set_url(in.url);
      out.mutable_wait_http()->set_expect_status(in.expect_status);
      break;
    case core::InitAction::Kind::kRun:
      for (const auto& arg : in.command) out.mutable_run()->add_command(arg);
      break;
  }
  if (in.timeout != absl::ZeroDuration()) *out.mutable_timeout() = ToProto(in.timeout);
  out.set_retries(in.retries);
  return out;
}

pb::Supervision ToProto(const core::SupervisionDetail& in) {
  pb::Supervision out;
  out.set_policy(in.policy);
  out.set_restart_count(in.restart_count);
  if (in.next_restart_at) *out.mutable_next_restart_at() = ToProto(*in.next_restart_at);
  out.set_not_restarting(base::SanitizeUtf8(in.not_restarting));
  for (const auto& h : in.history) {
    auto* entry = out.add_history();
    *entry->mutable_outcome() = ToProto(h.outcome);
    entry->set_cause(h.cause);
    entry->set_restarted(h.restarted);
  }
  return out;
}

core::SupervisionDetail FromProto(const pb::Supervision& in) {
  core::SupervisionDetail out;
  out.policy = in.policy();
  out.restart_count = in.restart_count();
  if (in.has_next_restart_at()) out.next_restart_at = FromProto(in.next_restart_at());
  out.not_restarting = in.not_restarting();
  for (const auto& h : in.history()) {
    core::RestartHistoryEntry entry;
    entry.outcome = FromProto(h.outcome());
    entry.cause = h.cause();
    entry.restarted = h.restarted();
    out.history.push_back(std::move(entry));
  }
  return out;
}

}  // namespace zlayer::proto
