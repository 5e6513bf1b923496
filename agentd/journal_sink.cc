#include "agentd/journal_sink.h"

#include <syslog.h>
#include <systemd/sd-journal.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace zlayer::agentd {
namespace {

int Priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return LOG_DEBUG;
    case spdlog::level::info: return LOG_INFO;
    case spdlog::level::warn: return LOG_WARNING;
    case spdlog::level::err: return LOG_ERR;
    case spdlog::level::critical: return LOG_CRIT;
    default: return LOG_INFO;
  }
}

}  // namespace

std::string FieldValue(std::string_view line, std::string_view key) {
  size_t pos = 0;
  while ((pos = line.find(key, pos)) != std::string_view::npos) {
    const bool at_word_start = pos == 0 || line[pos - 1] == ' ';
    const size_t value_start = pos + key.size();
    if (at_word_start && value_start < line.size() && line[value_start] == '=') {
      const size_t end = line.find(' ', value_start + 1);
      return std::string(line.substr(value_start + 1, end == std::string_view::npos
                                                          ? std::string_view::npos
                                                          : end - value_start - 1));
    }
    pos = value_start;
  }
  return {};
}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  const std::string_view text(msg.payload.data(), msg.payload.size());
  const absl::string_view module(msg.logger_name.data(), msg.logger_name.size());
  std::vector<std::string> fields;
  fields.push_back(absl::StrCat("MESSAGE=", module, ": ",
                                absl::string_view(text.data(), text.size())));
  fields.push_back(absl::StrCat("PRIORITY=", Priority(msg.level)));
  fields.push_back("SYSLOG_IDENTIFIER=zlayer-agentd");
  fields.push_back(absl::StrCat("ZLAYER_MODULE=", module));
  for (const char* key : {"container_id", "service", "deployment"}) {
    std::string value = FieldValue(text, key);
    if (!value.empty()) {
      fields.push_back(absl::StrCat(absl::AsciiStrToUpper(key), "=", value));
    }
  }
  std::vector<struct iovec> iov;
  iov.reserve(fields.size());
  for (auto& f : fields) iov.push_back({f.data(), f.size()});
  sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

}  // namespace zlayer::agentd
