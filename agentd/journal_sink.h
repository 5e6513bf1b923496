// A spdlog sink that writes to the systemd journal natively. Our log lines end in
// stable key=value fields; the ones operators filter on become journal fields:
// container_id=web-rep-1 -> CONTAINER_ID=web-rep-1 (also SERVICE, DEPLOYMENT).
#pragma once

#include <mutex>
#include <string>

#include "spdlog/sinks/base_sink.h"

namespace zlayer::agentd {

class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}
};

// Extracts the value of `key=` from a log line (up to the next space); empty if absent.
std::string FieldValue(std::string_view line, std::string_view key);

}  // namespace zlayer::agentd
