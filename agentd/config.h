// The daemon's settings: embedded defaults, then /etc/zlayer/agentd.yaml (or
// --config), then flags. Unknown keys and bad values are errors naming
// file:line:column.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtimes/backend_config.h"

namespace zlayer::agentd {

struct AgentConfig {
  std::string config_file;  // the file read, if any
  std::string socket_path = "/run/zlayer/agentd.sock";
  unsigned socket_mode = 0660;
  std::string socket_group;  // empty = root's group
  std::string tcp_address;   // empty = no TCP listener
  std::string backend = "oci";
  std::string log_level = "info";
  int work_threads = 8;
  runtimes::BackendConfig backend_config;
};

// Parses argv over `config` (which holds defaults or a file's values). Returns the
// exit code to stop with (0 after --help / --version), or nullopt to run.
struct FlagResult {
  bool exit = false;
  int exit_code = 0;
};
absl::StatusOr<FlagResult> ParseFlags(int argc, char** argv, AgentConfig* config);

// Finds --config in argv (or the default file if it exists) and loads it into
// `config`. A missing default file is fine; a missing --config file is an error.
absl::Status LoadConfigFromArgs(int argc, char** argv, AgentConfig* config);

// Reads one YAML config file into `config`.
absl::Status LoadConfigFile(const std::string& path, AgentConfig* config);
// Same, from text (for tests); `name` is used in error messages.
absl::Status LoadConfigText(const std::string& text, const std::string& name,
                            AgentConfig* config);

std::string UsageText();

}  // namespace zlayer::agentd
