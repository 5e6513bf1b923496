// A spdlog sink that writes to the systemd journal natively. Our log lines end in
// stable key=value fields; the ones operators filter on become journal fields:
// container_id=web-rep-1 -> CONTAINER_ID=web-rep-1 (also SERVICE, DEPLOYMENT).
//
// Selected when stderr is the journal (JOURNAL_STREAM), i.e. when systemd runs us.
// If the native socket refuses a message (journald restarting), the line goes to
// stderr with a "<N>" priority prefix instead, which journald's stream reader
// turns into PRIORITY=N: a line is never lost, only its extra fields. The same
// happens for every line when the native socket does not exist at all, since
// sd_journal_sendv then reports success and drops the message.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "spdlog/sinks/base_sink.h"

namespace zlayer::agentd {

class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // `native`: send through journald's native socket; false: "<N>" lines on stderr.
  explicit JournalSink(bool native) : native_(native) {}

  // Whether journald's native socket exists (/run/systemd/journal/socket).
  static bool NativeSocketPresent();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  const bool native_;
};

// The journal fields for one log line: MESSAGE ("module: text"), PRIORITY (syslog
// level), SYSLOG_IDENTIFIER, ZLAYER_MODULE, and CONTAINER_ID / SERVICE / DEPLOYMENT
// when the line carries container_id= / service= / deployment=.
std::vector<std::string> JournalFields(spdlog::level::level_enum level, std::string_view module,
                                       std::string_view text);

// The syslog priority for a spdlog level (LOG_DEBUG ... LOG_CRIT).
int JournalPriority(spdlog::level::level_enum level);

// Extracts the value of `key=` from a log line (up to the next space); empty if
// absent. Only whole keys match: "service=" does not match "xservice=".
std::string FieldValue(std::string_view line, std::string_view key);

}  // namespace zlayer::agentd
