#include "agentd/config.h"

#include <unistd.h>

#include <cstdio>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agentd/config_values.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "core/errors.h"
#include "core/types.h"

namespace zlayer::agentd {
namespace {

absl::Status FlagError(absl::string_view flag, absl::string_view what) {
  return core::InvalidSpec(absl::StrCat("--", flag, ": ", what));
}

struct Flag {
  const char* name;
  const char* arg;  // nullptr for switches
  const char* help;
  std::function<absl::Status(const std::string&, AgentConfig*)> apply;
};

// Flags that set a string after a check.
std::function<absl::Status(const std::string&, AgentConfig*)> SetChecked(
    const char* flag, std::string AgentConfig::*field,
    std::function<std::string(absl::string_view)> check) {
  return [flag, field, check](const std::string& v, AgentConfig* c) {
    if (auto e = check(v); !e.empty()) return FlagError(flag, e);
    c->*field = v;
    return absl::OkStatus();
  };
}
std::function<absl::Status(const std::string&, AgentConfig*)> SetBackendPath(
    const char* flag, std::string runtimes::BackendConfig::*field) {
  return [flag, field](const std::string& v, AgentConfig* c) {
    if (auto e = CheckAbsolutePath(v); !e.empty()) return FlagError(flag, e);
    c->backend_config.*field = v;
    return absl::OkStatus();
  };
}
std::function<absl::Status(const std::string&, AgentConfig*)> SetRegistryPath(
    const char* flag, std::string images::RegistryConfig::*field) {
  return [flag, field](const std::string& v, AgentConfig* c) {
    if (auto e = CheckAbsolutePath(v); !e.empty()) return FlagError(flag, e);
    c->backend_config.registries.*field = v;
    return absl::OkStatus();
  };
}

const std::vector<Flag>& Flags() {
  static const auto* flags = new std::vector<Flag>{
      {"config", "FILE",
       "YAML config file; flags override it (default /etc/zlayer/agentd.yaml "
       "if present)",
       [](const std::string&, AgentConfig*) { return absl::OkStatus(); }},
      {"socket", "PATH",
       "unix socket to serve (default /run/zlayer/agentd.sock; ignored under "
       "socket activation)",
       SetChecked("socket", &AgentConfig::socket_path, CheckSocketPath)},
      {"socket-mode", "MODE", "socket permissions, octal (default 0660)",
       [](const std::string& v, AgentConfig* c) {
         return ParseMode(v, &c->socket_mode)
                    ? absl::OkStatus()
                    : FlagError("socket-mode", "expected an octal mode such as 0660");
       }},
      {"socket-group", "GROUP", "group owning the socket, name or gid (default root)",
       SetChecked("socket-group", &AgentConfig::socket_group, CheckGroup)},
      {"tcp", "HOST:PORT", "also serve plain TCP on this address (off by default)",
       SetChecked("tcp", &AgentConfig::tcp_address,
                  [](absl::string_view v) { return CheckHostPort(v, true); })},
      {"metrics-address", "HOST:PORT",
       "serve Prometheus metrics at http://HOST:PORT/metrics (off by default; "
       "e.g. 127.0.0.1:9323)",
       SetChecked("metrics-address", &AgentConfig::metrics_address,
                  [](absl::string_view v) { return CheckHostPort(v, true); })},
      {"backend", "NAME", "backend: oci or mock (default oci)",
       [](const std::string& v, AgentConfig* c) {
         if (v != "oci" && v != "mock") return FlagError("backend", "expected oci or mock");
         c->backend = v;
         return absl::OkStatus();
       }},
      {"runtime", "NAME|PATH",
       "OCI runtime: auto, youki, crun, runc or a path (default auto: "
       "youki, then crun, then runc)",
       [](const std::string& v, AgentConfig* c) {
         if (auto e = CheckRuntime(v); !e.empty()) return FlagError("runtime", e);
         c->backend_config.oci_runtime = v;
         return absl::OkStatus();
       }},
      {"data-dir", "DIR", "persistent state (default /var/lib/zlayer)",
       SetBackendPath("data-dir", &runtimes::BackendConfig::data_dir)},
      {"run-dir", "DIR", "runtime state (default /run/zlayer)",
       SetBackendPath("run-dir", &runtimes::BackendConfig::run_dir)},
      {"network", "NAME",
       "network of containers whose spec names none: bridge (default), none, host, or a "
       "configured CNI network",
       [](const std::string& v, AgentConfig* c) {
         if (!core::ValidateNetworkName(v).ok()) {
           return FlagError("network", "expected bridge, none, host or a network's name");
         }
         c->backend_config.network.default_network = v;
         return absl::OkStatus();
       }},
      {"cgroup-parent", "PATH", "cgroup that holds containers and monitors (default /zlayer)",
       SetBackendPath("cgroup-parent", &runtimes::BackendConfig::cgroup_parent)},
      {"insecure-registry", "HOST[:PORT]",
       "registry reached over plain HTTP; repeatable, adds to the config file's list "
       "(loopback is always allowed)",
       [](const std::string& v, AgentConfig* c) {
         if (auto e = CheckHostPort(v, false); !e.empty()) {
           return FlagError("insecure-registry", e);
         }
         c->backend_config.registries.insecure.push_back(v);
         return absl::OkStatus();
       }},
      {"registry-ca", "FILE", "extra CA bundle (PEM) for registries",
       SetRegistryPath("registry-ca", &images::RegistryConfig::ca_file)},
      {"registry-auth", "FILE", "Docker-format config.json with registry credentials",
       SetRegistryPath("registry-auth", &images::RegistryConfig::credentials_file)},
      {"monitor", "PATH",
       "per-container monitor binary (default: beside zlayer-agentd, or "
       "../libexec/zlayer/zlayer-monitor)",
       SetBackendPath("monitor", &runtimes::BackendConfig::monitor_path)},
      {"init-process", nullptr,
       "run an init (tini) as PID 1 of containers whose spec does not say, like "
       "docker run --init; --init-process=false turns a config file's default off",
       [](const std::string& v, AgentConfig* c) {
         if (v == "true") {
           c->backend_config.init_process = true;
         } else if (v == "false") {
           c->backend_config.init_process = false;
         } else {
           return FlagError("init-process", "expected true or false (or no value)");
         }
         return absl::OkStatus();
       }},
      {"init-path", "PATH",
       "static init binary for --init-process (default: probe /usr/bin/tini-static, "
       "then catatonit)",
       SetBackendPath("init-path", &runtimes::BackendConfig::init_path)},
      {"work-threads", "N", "threads for blocking work, 1-256 (default 8)",
       [](const std::string& v, AgentConfig* c) {
         int n;
         if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 256) {
           return FlagError("work-threads", "expected a whole number from 1 to 256");
         }
         c->work_threads = n;
         return absl::OkStatus();
       }},
      {"log-level", "LEVEL", "trace, debug, info, warn, error or off (default info)",
       [](const std::string& v, AgentConfig* c) {
         spdlog::level::level_enum level;
         if (!base::ParseLogLevel(v, &level)) {
           return FlagError("log-level", "expected trace, debug, info, warn, error or off");
         }
         c->log_level = v;
         return absl::OkStatus();
       }},
  };
  return *flags;
}

}  // namespace

std::string UsageText() {
  std::string out =
      "Usage: zlayer-agentd [FLAGS]\n\n"
      "Container node agent: serves zlayer.agent.v1.RuntimeService over gRPC.\n\n"
      "Flags (each also accepts --flag=value):\n";
  for (const auto& f : Flags()) {
    std::string left = absl::StrCat("  --", f.name, f.arg ? absl::StrCat(" ", f.arg) : "");
    if (left.size() < 32) left.resize(32, ' ');
    absl::StrAppend(&out, left, " ", f.help, "\n");
  }
  absl::StrAppend(&out,
                  "  --check-config                   validate the config file and flags, print\n"
                  "                                   the effective settings, and exit\n"
                  "  --help                           show this help\n"
                  "  --version                        print the version\n\n"
                  "Exit codes: 0 after a clean stop, 1 when start-up fails, 2 for a bad config\n"
                  "file or flag.\n"
                  "Signals: SIGTERM/SIGINT stop gracefully (containers keep running);\n"
                  "SIGHUP re-reads the config file and applies log_level; other changed\n"
                  "settings are reported and take effect at the next restart.\n");
  return out;
}

absl::StatusOr<FlagResult> ParseFlags(int argc, char** argv, AgentConfig* config) {
  FlagResult result;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(UsageText().c_str(), stdout);
      return FlagResult{true, 0};
    }
    if (arg == "--version") {
      std::printf("zlayer-agentd %s\n", ZLAYER_VERSION);
      return FlagResult{true, 0};
    }
    if (arg == "--check-config") {
      result.check_config = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return core::InvalidSpec(absl::StrCat("unexpected argument '", arg, "'; see --help"));
    }
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Flag* flag = nullptr;
    for (const auto& f : Flags()) {
      if (name == f.name) flag = &f;
    }
    if (flag == nullptr) {
      return core::InvalidSpec(absl::StrCat("unknown flag --", name, "; see --help"));
    }
    if (!has_value && flag->arg == nullptr) {
      value = "true";  // a switch: any other value comes only as --flag=value
    } else if (!has_value) {
      if (i + 1 >= argc) {
        return core::InvalidSpec(absl::StrCat("--", name, " needs a value (", flag->arg, ")"));
      }
      value = argv[++i];
    }
    if (auto s = flag->apply(value, config); !s.ok()) return s;
  }
  return result;
}

absl::Status LoadConfigFromArgs(int argc, char** argv, AgentConfig* config) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) path = argv[i + 1];
    if (arg.rfind("--config=", 0) == 0) path = arg.substr(9);
  }
  if (path.empty()) {
    if (::access(kDefaultConfigFile, F_OK) != 0) return absl::OkStatus();
    path = kDefaultConfigFile;
  }
  return LoadConfigFile(path, config);
}

absl::StatusOr<FlagResult> LoadConfiguration(int argc, char** argv, AgentConfig* config) {
  AgentConfig fresh;
  if (auto s = LoadConfigFromArgs(argc, argv, &fresh); !s.ok()) return s;
  auto flags = ParseFlags(argc, argv, &fresh);
  if (!flags.ok()) return flags.status();
  *config = std::move(fresh);
  return flags;
}

std::vector<std::string> RestartRequiredChanges(const AgentConfig& before, const AgentConfig& after) {
  const auto& old_backend = before.backend_config;
  const auto& new_backend = after.backend_config;
  const std::pair<const char*, bool> fields[] = {
      {"listen.socket", before.socket_path != after.socket_path},
      {"listen.socket_mode", before.socket_mode != after.socket_mode},
      {"listen.socket_group", before.socket_group != after.socket_group},
      {"listen.tcp", before.tcp_address != after.tcp_address},
      {"metrics.address", before.metrics_address != after.metrics_address},
      {"backend", before.backend != after.backend},
      {"data_dir", old_backend.data_dir != new_backend.data_dir},
      {"run_dir", old_backend.run_dir != new_backend.run_dir},
      {"oci.runtime", old_backend.oci_runtime != new_backend.oci_runtime},
      {"oci.cgroup_parent", old_backend.cgroup_parent != new_backend.cgroup_parent},
      {"oci.monitor", old_backend.monitor_path != new_backend.monitor_path},
      {"oci.init_process", old_backend.init_process != new_backend.init_process},
      {"oci.init_path", old_backend.init_path != new_backend.init_path},
      {"registries.insecure", old_backend.registries.insecure != new_backend.registries.insecure},
      {"registries.ca_file", old_backend.registries.ca_file != new_backend.registries.ca_file},
      {"registries.credentials_file",
       old_backend.registries.credentials_file != new_backend.registries.credentials_file},
      {"registries.max_parallel_downloads", old_backend.registries.max_parallel_downloads !=
                                                new_backend.registries.max_parallel_downloads},
      {"registries.max_layer_size",
       old_backend.registries.max_layer_bytes != new_backend.registries.max_layer_bytes},
      {"network.cni_config_dir",
       old_backend.network.cni_config_dir != new_backend.network.cni_config_dir},
      {"network.cni_plugin_dirs",
       old_backend.network.cni_plugin_dirs != new_backend.network.cni_plugin_dirs},
      {"network.default",
       old_backend.network.default_network != new_backend.network.default_network},
      {"network.bridge", old_backend.network.default_bridge != new_backend.network.default_bridge},
      {"network.subnet", old_backend.network.default_subnet != new_backend.network.default_subnet},
      {"network.masquerade",
       old_backend.network.default_masquerade != new_backend.network.default_masquerade},
      {"limits.work_threads", before.work_threads != after.work_threads},
      {"limits.queue_stall_timeout", before.queue_stall_timeout != after.queue_stall_timeout},
      {"limits.shutdown_grace", before.shutdown_grace != after.shutdown_grace},
      {"limits.log_max_size", old_backend.log_max_bytes != new_backend.log_max_bytes},
      {"limits.log_max_files", old_backend.log_max_files != new_backend.log_max_files},
      {"limits.exec_max_output", old_backend.exec_max_output != new_backend.exec_max_output},
      {"container_auth",
       old_backend.container_auth.enabled != new_backend.container_auth.enabled ||
           old_backend.container_auth.api_url != new_backend.container_auth.api_url ||
           old_backend.container_auth.jwt_secret_file !=
               new_backend.container_auth.jwt_secret_file ||
           old_backend.container_auth.socket_path != new_backend.container_auth.socket_path ||
           old_backend.container_auth.token_ttl != new_backend.container_auth.token_ttl},
  };
  std::vector<std::string> changed;
  for (const auto& [name, differs] : fields) {
    if (differs) changed.push_back(name);
  }
  return changed;
}

}  // namespace zlayer::agentd
