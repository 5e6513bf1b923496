// The daemon's settings: embedded defaults, then /etc/zlayer/agentd.yaml (or
// --config), then flags. Unknown keys and bad values are errors naming
// file:line:column.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "events/event_journal.h"
#include "runtimes/backend_config.h"

namespace zlayer::agentd {

struct AgentConfig {
  std::string config_file;  // the file read, if any
  // listen.*: ignored for the unix socket when systemd passes one (socket
  // activation); the .socket unit's ListenStream/SocketMode/SocketGroup apply then.
  std::string socket_path = "/run/zlayer/agentd.sock";
  unsigned socket_mode = 0660;
  std::string socket_group;  // empty = root's group
  std::string tcp_address;   // empty = no TCP listener
  std::string backend = "oci";
  std::string log_level = "info";
  // limits.*
  int work_threads = 8;
  // Waiting work with nothing finished for this long withholds the watchdog ping.
  absl::Duration queue_stall_timeout = absl::Minutes(5);
  // How long shutdown waits for in-flight calls before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
  runtimes::BackendConfig backend_config;
  // events.*: the journal's bounds (its path is <data_dir>/events.db).
  events::EventJournalConfig events;
  // metrics.address: where /metrics is served (HOST:PORT); empty = off.
  std::string metrics_address;
};

inline constexpr char kDefaultConfigFile[] = "/etc/zlayer/agentd.yaml";

// Parses argv over `config` (which holds defaults or a file's values). Returns the
// exit code to stop with (0 after --help / --version), or nullopt to run.
struct FlagResult {
  bool exit = false;
  int exit_code = 0;
  // --check-config: validate the configuration, print it, and exit.
  bool check_config = false;
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

// The whole configuration: defaults, then the config file (--config, or the
// default file if it exists), then flags. Used at start-up and again on SIGHUP.
absl::StatusOr<FlagResult> LoadConfiguration(int argc, char** argv, AgentConfig* config);

// Settings that differ between `before` and `after` and take effect only after a
// restart (everything but log_level), by their config-file names.
std::vector<std::string> RestartRequiredChanges(const AgentConfig& before,
                                                const AgentConfig& after);

// The effective configuration as YAML, in the config file's own format (for
// --check-config). Credentials are never part of it: only file paths are.
std::string ConfigToYaml(const AgentConfig& config);

std::string UsageText();

}  // namespace zlayer::agentd
