#include "agentd/journal_sink.h"

#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace zlayer::agentd {

int JournalPriority(spdlog::level::level_enum level) {
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

std::vector<std::string> JournalFields(spdlog::level::level_enum level, std::string_view module,
                                       std::string_view text) {
  const absl::string_view m(module.data(), module.size());
  const absl::string_view t(text.data(), text.size());
  std::vector<std::string> fields;
  fields.push_back(absl::StrCat("MESSAGE=", m, ": ", t));
  fields.push_back(absl::StrCat("PRIORITY=", JournalPriority(level)));
  fields.push_back("SYSLOG_IDENTIFIER=zlayer-agentd");
  fields.push_back(absl::StrCat("ZLAYER_MODULE=", m));
  for (const char* key : {"container_id", "service", "deployment"}) {
    std::string value = FieldValue(text, key);
    if (!value.empty()) fields.push_back(absl::StrCat(absl::AsciiStrToUpper(key), "=", value));
  }
  return fields;
}

bool JournalSink::NativeSocketPresent() {
  return ::access("/run/systemd/journal/socket", W_OK) == 0;
}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  const std::string_view text(msg.payload.data(), msg.payload.size());
  const std::string_view module(msg.logger_name.data(), msg.logger_name.size());
  std::vector<std::string> fields = JournalFields(msg.level, module, text);
  std::vector<struct iovec> iov;
  iov.reserve(fields.size());
  for (auto& f : fields) iov.push_back({f.data(), f.size()});
  if (native_ && sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0) return;
  // "<6>agentd: text\n": fields[0] minus its "MESSAGE=" is the text.
  const std::string line = absl::StrCat("<", JournalPriority(msg.level), ">",
                                        absl::string_view(fields[0]).substr(8), "\n");
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace zlayer::agentd
