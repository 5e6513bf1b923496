#include "runtimes/oci/restart_record.h"

#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "core/errors.h"

namespace zlayer::oci {

using nlohmann::json;

namespace {

json TimeToJson(const std::optional<absl::Time>& t) {
  return t ? json(base::FormatRfc3339Nano(*t)) : json(nullptr);
}

std::optional<absl::Time> TimeFromJson(const json& j) {
  if (!j.is_string()) return std::nullopt;
  auto t = base::ParseRfc3339(j.get<std::string>());
  if (!t.ok()) return std::nullopt;
  return *t;
}

json OutcomeToJson(const core::WaitOutcome& o) {
  json j = {{"exit_code", o.exit_code},
            {"reason", core::WaitReasonName(o.reason)},
            {"finished_at", TimeToJson(o.finished_at)},
            {"message", o.message}};
  if (o.signal) j["signal"] = *o.signal;
  return j;
}

core::WaitOutcome OutcomeFromJson(const json& j) {
  core::WaitOutcome o;
  o.exit_code = j.value("exit_code", 0);
  o.reason = core::ParseWaitReason(j.value("reason", "exited")).value_or(core::WaitReason::kExited);
  o.finished_at = TimeFromJson(j.value("finished_at", json(nullptr)));
  o.message = j.value("message", "");
  if (j.contains("signal") && j["signal"].is_string()) o.signal = j["signal"].get<std::string>();
  return o;
}

}  // namespace

json RestartStateToJson(const supervise::RestartState& s) {
  json history = json::array();
  for (const auto& entry : s.history) {
    history.push_back({{"outcome", OutcomeToJson(entry.outcome)},
                       {"cause", entry.cause},
                       {"restarted", entry.restarted}});
  }
  return {{"restart_count", s.restart_count},
          {"backoff_step", s.backoff_step},
          {"next_restart_at", TimeToJson(s.next_restart_at)},
          {"stopped_by_api", s.stopped_by_api},
          {"stopped_unhealthy", s.stopped_unhealthy},
          {"judged_exit_at", TimeToJson(s.judged_exit_at)},
          {"not_restarting", s.not_restarting},
          {"history", std::move(history)}};
}

absl::StatusOr<supervise::RestartState> RestartStateFromJson(const json& j) {
  if (!j.is_object()) return core::InvalidSpec("restart state is not an object");
  try {
    supervise::RestartState s;
    s.restart_count = j.value("restart_count", 0u);
    s.backoff_step = j.value("backoff_step", 0u);
    s.next_restart_at = TimeFromJson(j.value("next_restart_at", json(nullptr)));
    s.stopped_by_api = j.value("stopped_by_api", false);
    s.stopped_unhealthy = j.value("stopped_unhealthy", false);
    s.judged_exit_at = TimeFromJson(j.value("judged_exit_at", json(nullptr)));
    s.not_restarting = j.value("not_restarting", "");
    for (const auto& entry : j.value("history", json::array())) {
      core::RestartHistoryEntry e;
      e.outcome = OutcomeFromJson(entry.at("outcome"));
      e.cause = entry.value("cause", "exited");
      e.restarted = entry.value("restarted", false);
      s.history.push_back(std::move(e));
    }
    return s;
  } catch (const json::exception& e) {
    return core::InvalidSpec(absl::StrCat("restart state is damaged: ", e.what()));
  }
}

}  // namespace zlayer::oci
