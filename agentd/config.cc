#include "agentd/config.h"

#include <grp.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/errors.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "yaml-cpp/yaml.h"

namespace zlayer::agentd {
namespace {

// "512Mi", "1Gi", "10M", "4096" -> bytes.
bool ParseByteSize(absl::string_view text, uint64_t* out) {
  struct Unit {
    const char* suffix;
    uint64_t factor;
  };
  static const Unit kUnits[] = {{"Ki", 1ull << 10}, {"Mi", 1ull << 20}, {"Gi", 1ull << 30},
                                {"Ti", 1ull << 40}, {"K", 1000},        {"M", 1000000},
                                {"G", 1000000000},  {"T", 1000000000000}};
  for (const auto& u : kUnits) {
    if (absl::ConsumeSuffix(&text, u.suffix)) {
      uint64_t n;
      if (!absl::SimpleAtoi(text, &n) || n > UINT64_MAX / u.factor) return false;
      *out = n * u.factor;
      return true;
    }
  }
  return absl::SimpleAtoi(text, out);
}

bool ParseMode(absl::string_view text, unsigned* out) {
  if (text.empty() || text.size() > 4) return false;
  unsigned mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return false;
    mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  *out = mode;
  return true;
}

// Value checks shared by the config file and the flags. Each returns what is
// wrong, or "" when the value is fine.

std::string CheckAbsolutePath(absl::string_view v) {
  if (v.empty() || v[0] != '/') return "expected an absolute path";
  return {};
}

std::string CheckSocketPath(absl::string_view v) {
  if (auto e = CheckAbsolutePath(v); !e.empty()) return e;
  // sun_path holds 108 bytes including the terminating NUL.
  if (v.size() > 107) return absl::StrCat("socket path is ", v.size(), " bytes; at most 107 fit");
  return {};
}

std::string CheckGroup(absl::string_view v) {
  if (v.empty()) return {};
  unsigned gid;
  if (absl::SimpleAtoi(v, &gid)) return {};
  if (::getgrnam(std::string(v).c_str()) == nullptr) {
    return absl::StrCat("group '", v, "' does not exist; create it (groupadd) or use a gid");
  }
  return {};
}

std::string CheckHostPort(absl::string_view v, bool port_required) {
  const char* expected = port_required ? "expected HOST:PORT, e.g. 127.0.0.1:7443 or [::1]:7443"
                                       : "expected HOST or HOST:PORT, without a scheme or path";
  if (v.empty() || absl::StrContains(v, "/") || absl::StrContains(v, " ")) return expected;
  absl::string_view host = v, port;
  if (v[0] == '[') {
    const auto close = v.find(']');
    if (close == absl::string_view::npos || close == 1) return expected;
    host = v.substr(0, close + 1);
    if (close + 1 < v.size()) {
      if (v[close + 1] != ':') return expected;
      port = v.substr(close + 2);
      if (port.empty()) return expected;
    }
  } else if (const auto colon = v.rfind(':'); colon != absl::string_view::npos) {
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    if (absl::StrContains(host, ":") || port.empty()) return expected;
  }
  if (host.empty() || (port_required && port.empty())) return expected;
  if (!port.empty()) {
    unsigned n;
    if (!absl::SimpleAtoi(port, &n) || n > 65535) return expected;
  }
  return {};
}

std::string CheckRuntime(absl::string_view v) {
  if (v.empty()) return "expected auto, youki, crun, runc, another name in PATH, or a path";
  if (absl::StrContains(v, "/") && v[0] != '/') return "a runtime path must be absolute";
  return {};
}

absl::Status FlagError(absl::string_view flag, absl::string_view what) {
  return base::InvalidSpec(absl::StrCat("--", flag, ": ", what));
}

// Walks a YAML document against a fixed schema, collecting every error with its
// position instead of stopping at the first.
class ConfigReader {
 public:
  ConfigReader(std::string name, AgentConfig* config) : name_(std::move(name)), config_(config) {}

  absl::Status Read(const YAML::Node& root) {
    if (!root || root.IsNull()) return absl::OkStatus();  // an empty file
    if (!root.IsMap()) {
      Error(root, "", "the top level must be a mapping of settings");
    } else {
      ReadTop(root);
    }
    if (errors_.empty()) return absl::OkStatus();
    return base::InvalidSpec(absl::StrCat("invalid config ", name_, ":\n  ",
                                          absl::StrJoin(errors_, "\n  ")));
  }

 private:
  using Handler = std::function<void(const YAML::Node&, const std::string&)>;

  void ReadMap(const YAML::Node& map, const std::string& path,
               const std::vector<std::pair<std::string, Handler>>& keys) {
    if (!map.IsMap()) {
      Error(map, path, "expected a mapping");
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      const std::string child = path.empty() ? key : absl::StrCat(path, ".", key);
      if (!seen.insert(key).second) {
        Error(kv.first, child, "duplicate key");
        continue;
      }
      bool known = false;
      for (const auto& [name, handler] : keys) {
        if (name == key) {
          handler(kv.second, child);
          known = true;
          break;
        }
      }
      if (!known) {
        std::vector<std::string> names;
        for (const auto& [name, h] : keys) names.push_back(name);
        Error(kv.first, child, absl::StrCat("unknown key; expected one of: ",
                                            absl::StrJoin(names, ", ")));
      }
    }
  }

  void ReadTop(const YAML::Node& root) {
    auto& c = *config_;
    auto& b = c.backend_config;
    ReadMap(root, "",
            {
                {"listen",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"socket", Checked(&c.socket_path, CheckSocketPath)},
                            {"socket_mode", Mode(&c.socket_mode)},
                            {"socket_group", Checked(&c.socket_group, CheckGroup)},
                            {"tcp", Checked(&c.tcp_address, [](absl::string_view v) {
                               return v.empty() ? std::string() : CheckHostPort(v, true);
                             })}});
                 }},
                {"data_dir", AbsolutePath(&b.data_dir)},
                {"run_dir", AbsolutePath(&b.run_dir)},
                {"backend", OneOf(&c.backend, {"oci", "mock"})},
                {"log_level", LogLevel(&c.log_level)},
                {"oci",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"runtime", Checked(&b.oci_runtime, CheckRuntime)},
                            {"cgroup_parent", AbsolutePath(&b.cgroup_parent)},
                            {"monitor", AbsolutePath(&b.monitor_path)}});
                 }},
                {"registries",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"insecure", StringList(&b.registries.insecure,
                                                   [](absl::string_view v) {
                                                     return CheckHostPort(v, false);
                                                   })},
                            {"ca_file", AbsolutePath(&b.registries.ca_file)},
                            {"credentials_file", AbsolutePath(&b.registries.credentials_file)},
                            {"max_parallel_downloads",
                             Int(&b.registries.max_parallel_downloads, 1, 32)},
                            {"max_layer_size", Bytes(&b.registries.max_layer_bytes)}});
                 }},
                {"limits",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"work_threads", Int(&c.work_threads, 1, 256)},
                            {"queue_stall_timeout",
                             DurationValue(&c.queue_stall_timeout, absl::Seconds(1))},
                            {"shutdown_grace", DurationValue(&c.shutdown_grace, absl::Seconds(0))},
                            {"log_max_size", Bytes(&b.log_max_bytes)},
                            {"log_max_files", Int(&b.log_max_files, 1, 100)},
                            {"exec_max_output", Bytes(&b.exec_max_output)}});
                 }},
            });
  }

  // A string that `check` accepts.
  Handler Checked(std::string* out, std::function<std::string(absl::string_view)> check) {
    return [this, out, check](const YAML::Node& n, const std::string& p) {
      if (!n.IsScalar()) return Error(n, p, "expected a string");
      const std::string v = n.as<std::string>();
      if (auto e = check(v); !e.empty()) return Error(n, p, e);
      *out = v;
    };
  }
  Handler DurationValue(absl::Duration* out, absl::Duration min) {
    return [this, out, min](const YAML::Node& n, const std::string& p) {
      absl::Duration d;
      if (!n.IsScalar() || !absl::ParseDuration(n.as<std::string>(), &d) || d < min ||
          d == absl::InfiniteDuration()) {
        return Error(n, p, absl::StrCat("expected a duration such as 30s or 5m, at least ",
                                        absl::FormatDuration(min)));
      }
      *out = d;
    };
  }
  Handler AbsolutePath(std::string* out) { return Checked(out, CheckAbsolutePath); }
  Handler StringList(std::vector<std::string>* out,
                     std::function<std::string(absl::string_view)> check) {
    return [this, out, check](const YAML::Node& n, const std::string& p) {
      if (!n.IsSequence()) return Error(n, p, "expected a list of strings");
      out->clear();
      for (const auto& item : n) {
        if (!item.IsScalar()) {
          Error(item, p, "expected a string");
          continue;
        }
        const std::string v = item.as<std::string>();
        if (auto e = check(v); !e.empty()) {
          Error(item, p, e);
          continue;
        }
        out->push_back(v);
      }
    };
  }
  Handler Int(int* out, int lo, int hi) {
    return [this, out, lo, hi](const YAML::Node& n, const std::string& p) {
      int v;
      if (!n.IsScalar() || !absl::SimpleAtoi(n.as<std::string>(), &v) || v < lo || v > hi) {
        return Error(n, p, absl::StrCat("expected a whole number from ", lo, " to ", hi));
      }
      *out = v;
    };
  }
  Handler Bytes(uint64_t* out) {
    return [this, out](const YAML::Node& n, const std::string& p) {
      uint64_t v;
      if (!n.IsScalar() || !ParseByteSize(n.as<std::string>(), &v) || v == 0) {
        return Error(n, p, "expected a size such as 10Mi, 1Gi or 4096");
      }
      *out = v;
    };
  }
  Handler Mode(unsigned* out) {
    return [this, out](const YAML::Node& n, const std::string& p) {
      if (!n.IsScalar() || !ParseMode(n.as<std::string>(), out)) {
        return Error(n, p, "expected an octal mode such as \"0660\" (quote it)");
      }
    };
  }
  Handler OneOf(std::string* out, std::vector<std::string> allowed) {
    return [this, out, allowed](const YAML::Node& n, const std::string& p) {
      const std::string v = n.IsScalar() ? n.as<std::string>() : "";
      for (const auto& a : allowed) {
        if (v == a) {
          *out = v;
          return;
        }
      }
      Error(n, p, absl::StrCat("expected one of: ", absl::StrJoin(allowed, ", ")));
    };
  }
  Handler LogLevel(std::string* out) {
    return [this, out](const YAML::Node& n, const std::string& p) {
      spdlog::level::level_enum level;
      if (!n.IsScalar() || !base::ParseLogLevel(n.as<std::string>(), &level)) {
        return Error(n, p, "expected trace, debug, info, warn, error or off");
      }
      *out = n.as<std::string>();
    };
  }

  void Error(const YAML::Node& n, const std::string& path, const std::string& what) {
    const YAML::Mark m = n.Mark();
    errors_.push_back(absl::StrCat(name_, ":", m.line + 1, ":", m.column + 1, ": ",
                                   path.empty() ? "" : absl::StrCat(path, ": "), what));
  }

  std::string name_;
  AgentConfig* config_;
  std::vector<std::string> errors_;
};

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
    const char* flag, std::string runtimes::RegistryConfig::*field) {
  return [flag, field](const std::string& v, AgentConfig* c) {
    if (auto e = CheckAbsolutePath(v); !e.empty()) return FlagError(flag, e);
    c->backend_config.registries.*field = v;
    return absl::OkStatus();
  };
}

const std::vector<Flag>& Flags() {
  static const auto* flags = new std::vector<Flag>{
      {"config", "FILE", "YAML config file; flags override it (default /etc/zlayer/agentd.yaml "
                         "if present)",
       [](const std::string&, AgentConfig*) { return absl::OkStatus(); }},
      {"socket", "PATH", "unix socket to serve (default /run/zlayer/agentd.sock; ignored under "
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
      {"backend", "NAME", "backend: oci or mock (default oci)",
       [](const std::string& v, AgentConfig* c) {
         if (v != "oci" && v != "mock") return FlagError("backend", "expected oci or mock");
         c->backend = v;
         return absl::OkStatus();
       }},
      {"runtime", "NAME|PATH", "OCI runtime: auto, youki, crun, runc or a path (default auto: "
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
       SetRegistryPath("registry-ca", &runtimes::RegistryConfig::ca_file)},
      {"registry-auth", "FILE", "Docker-format config.json with registry credentials",
       SetRegistryPath("registry-auth", &runtimes::RegistryConfig::credentials_file)},
      {"monitor", "PATH", "per-container monitor binary (default: beside zlayer-agentd, or "
                          "../libexec/zlayer/zlayer-monitor)",
       SetBackendPath("monitor", &runtimes::BackendConfig::monitor_path)},
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

// The inverse of ParseByteSize, in the largest binary unit that is exact.
std::string ByteSize(uint64_t bytes) {
  for (const auto& [suffix, shift] : {std::pair<const char*, int>{"Ti", 40}, {"Gi", 30},
                                      {"Mi", 20}, {"Ki", 10}}) {
    const uint64_t unit = 1ull << shift;
    if (bytes >= unit && bytes % unit == 0) return absl::StrCat(bytes / unit, suffix);
  }
  return absl::StrCat(bytes);
}

std::string Octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
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
      return base::InvalidSpec(absl::StrCat("unexpected argument '", arg, "'; see --help"));
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
      return base::InvalidSpec(absl::StrCat("unknown flag --", name, "; see --help"));
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        return base::InvalidSpec(absl::StrCat("--", name, " needs a value (", flag->arg, ")"));
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

absl::Status LoadConfigFile(const std::string& path, AgentConfig* config) {
  auto text = base::ReadFile(path);
  if (!text.ok()) return base::Annotate(text.status(), "config file");
  config->config_file = path;
  return LoadConfigText(*text, path, config);
}

absl::Status LoadConfigText(const std::string& text, const std::string& name,
                            AgentConfig* config) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return base::InvalidSpec(absl::StrCat("invalid config ", name, ":", e.mark.line + 1, ":",
                                          e.mark.column + 1, ": ", e.msg));
  }
  // A copy: a file with errors changes nothing.
  AgentConfig updated = *config;
  ConfigReader reader(name, &updated);
  absl::Status status;
  try {
    status = reader.Read(root);
  } catch (const YAML::Exception& e) {
    status = base::InvalidSpec(absl::StrCat("invalid config ", name, ":", e.mark.line + 1, ":",
                                            e.mark.column + 1, ": ", e.msg));
  }
  if (!status.ok()) return status;
  *config = std::move(updated);
  return absl::OkStatus();
}

absl::StatusOr<FlagResult> LoadConfiguration(int argc, char** argv, AgentConfig* config) {
  AgentConfig fresh;
  if (auto s = LoadConfigFromArgs(argc, argv, &fresh); !s.ok()) return s;
  auto flags = ParseFlags(argc, argv, &fresh);
  if (!flags.ok()) return flags.status();
  *config = std::move(fresh);
  return flags;
}

std::vector<std::string> RestartRequiredChanges(const AgentConfig& a, const AgentConfig& b) {
  const auto& x = a.backend_config;
  const auto& y = b.backend_config;
  const std::pair<const char*, bool> fields[] = {
      {"listen.socket", a.socket_path != b.socket_path},
      {"listen.socket_mode", a.socket_mode != b.socket_mode},
      {"listen.socket_group", a.socket_group != b.socket_group},
      {"listen.tcp", a.tcp_address != b.tcp_address},
      {"backend", a.backend != b.backend},
      {"data_dir", x.data_dir != y.data_dir},
      {"run_dir", x.run_dir != y.run_dir},
      {"oci.runtime", x.oci_runtime != y.oci_runtime},
      {"oci.cgroup_parent", x.cgroup_parent != y.cgroup_parent},
      {"oci.monitor", x.monitor_path != y.monitor_path},
      {"registries.insecure", x.registries.insecure != y.registries.insecure},
      {"registries.ca_file", x.registries.ca_file != y.registries.ca_file},
      {"registries.credentials_file",
       x.registries.credentials_file != y.registries.credentials_file},
      {"registries.max_parallel_downloads",
       x.registries.max_parallel_downloads != y.registries.max_parallel_downloads},
      {"registries.max_layer_size", x.registries.max_layer_bytes != y.registries.max_layer_bytes},
      {"limits.work_threads", a.work_threads != b.work_threads},
      {"limits.queue_stall_timeout", a.queue_stall_timeout != b.queue_stall_timeout},
      {"limits.shutdown_grace", a.shutdown_grace != b.shutdown_grace},
      {"limits.log_max_size", x.log_max_bytes != y.log_max_bytes},
      {"limits.log_max_files", x.log_max_files != y.log_max_files},
      {"limits.exec_max_output", x.exec_max_output != y.exec_max_output},
  };
  std::vector<std::string> changed;
  for (const auto& [name, differs] : fields) {
    if (differs) changed.push_back(name);
  }
  return changed;
}

std::string ConfigToYaml(const AgentConfig& c) {
  const auto& b = c.backend_config;
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "socket" << YAML::Value << c.socket_path;
  out << YAML::Key << "socket_mode" << YAML::Value << YAML::DoubleQuoted << Octal(c.socket_mode);
  out << YAML::Key << "socket_group" << YAML::Value << c.socket_group;
  out << YAML::Key << "tcp" << YAML::Value << c.tcp_address;
  out << YAML::EndMap;
  out << YAML::Key << "data_dir" << YAML::Value << b.data_dir;
  out << YAML::Key << "run_dir" << YAML::Value << b.run_dir;
  out << YAML::Key << "backend" << YAML::Value << c.backend;
  out << YAML::Key << "log_level" << YAML::Value << c.log_level;
  out << YAML::Key << "oci" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "runtime" << YAML::Value << b.oci_runtime;
  out << YAML::Key << "cgroup_parent" << YAML::Value << b.cgroup_parent;
  if (!b.monitor_path.empty()) out << YAML::Key << "monitor" << YAML::Value << b.monitor_path;
  out << YAML::EndMap;
  out << YAML::Key << "registries" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "insecure" << YAML::Value << YAML::Flow << b.registries.insecure;
  if (!b.registries.ca_file.empty()) {
    out << YAML::Key << "ca_file" << YAML::Value << b.registries.ca_file;
  }
  if (!b.registries.credentials_file.empty()) {
    out << YAML::Key << "credentials_file" << YAML::Value << b.registries.credentials_file;
  }
  out << YAML::Key << "max_parallel_downloads" << YAML::Value
      << b.registries.max_parallel_downloads;
  out << YAML::Key << "max_layer_size" << YAML::Value << ByteSize(b.registries.max_layer_bytes);
  out << YAML::EndMap;
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "work_threads" << YAML::Value << c.work_threads;
  out << YAML::Key << "queue_stall_timeout" << YAML::Value
      << absl::FormatDuration(c.queue_stall_timeout);
  out << YAML::Key << "shutdown_grace" << YAML::Value << absl::FormatDuration(c.shutdown_grace);
  out << YAML::Key << "log_max_size" << YAML::Value << ByteSize(b.log_max_bytes);
  out << YAML::Key << "log_max_files" << YAML::Value << b.log_max_files;
  out << YAML::Key << "exec_max_output" << YAML::Value << ByteSize(b.exec_max_output);
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace zlayer::agentd
