// spdlog setup shared by the daemon, the monitor and the CLI.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

// fmt cannot format absl::Status or Debian's absl::string_view by itself.
template <>
struct fmt::formatter<absl::Status> : fmt::formatter<std::string> {
  template <typename FormatContext>
  auto format(const absl::Status& s, FormatContext& ctx) const {
    return fmt::formatter<std::string>::format(s.ToString(), ctx);
  }
};

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};

namespace zlayer::base {

// "trace", "debug", "info", "warn", "error", "critical", "off".
bool ParseLogLevel(absl::string_view name, spdlog::level::level_enum* level);

// Returns the logger for a module ("agentd", "oci", "images", ...), creating it with
// the process-wide sinks on first use.
std::shared_ptr<spdlog::logger> Logger(const std::string& module);

// Replaces the process-wide sinks; existing loggers pick them up.
void SetLogSinks(std::vector<spdlog::sink_ptr> sinks);
void SetLogLevel(spdlog::level::level_enum level);

}  // namespace zlayer::base
