#include "base/logging.h"

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace zlayer::base {
namespace {

struct Registry {
  absl::Mutex mu;
  std::vector<spdlog::sink_ptr> sinks ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, std::shared_ptr<spdlog::logger>> loggers ABSL_GUARDED_BY(mu);
  spdlog::level::level_enum level ABSL_GUARDED_BY(mu) = spdlog::level::info;
};

Registry& GetRegistry() {
  static auto* registry = [] {
    auto* r = new Registry;
    absl::MutexLock lock(&r->mu);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%fZ %l %n: %v", spdlog::pattern_time_type::utc));
    r->sinks.push_back(sink);
    return r;
  }();
  return *registry;
}

}  // namespace

bool ParseLogLevel(absl::string_view name, spdlog::level::level_enum* level) {
  static const std::pair<const char*, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
      {"critical", spdlog::level::critical}, {"off", spdlog::level::off},
  };
  for (const auto& [n, l] : kLevels) {
    if (name == n) {
      *level = l;
      return true;
    }
  }
  return false;
}

std::shared_ptr<spdlog::logger> Logger(const std::string& module) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.loggers.find(module);
  if (it != r.loggers.end()) return it->second;
  auto logger = std::make_shared<spdlog::logger>(module, r.sinks.begin(), r.sinks.end());
  logger->set_level(r.level);
  r.loggers.emplace(module, logger);
  return logger;
}

void SetLogSinks(std::vector<spdlog::sink_ptr> sinks) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.sinks = std::move(sinks);
  for (auto& [name, logger] : r.loggers) logger->sinks() = r.sinks;
}

void SetLogLevel(spdlog::level::level_enum level) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.level = level;
  for (auto& [name, logger] : r.loggers) logger->set_level(level);
}

}  // namespace zlayer::base
