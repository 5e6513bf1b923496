#include "agentd/config.h"

#include <unistd.h>

#include <cstdio>
#include <functional>

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

constexpr char kDefaultConfigFile[] = "/etc/zlayer/agentd.yaml";

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
      if (!absl::SimpleAtoi(text, &n)) return false;
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
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      const std::string child = path.empty() ? key : absl::StrCat(path, ".", key);
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
                           {{"socket", String(&c.socket_path)},
                            {"socket_mode", Mode(&c.socket_mode)},
                            {"socket_group", String(&c.socket_group)},
                            {"tcp", String(&c.tcp_address)}});
                 }},
                {"data_dir", AbsolutePath(&b.data_dir)},
                {"run_dir", AbsolutePath(&b.run_dir)},
                {"backend", OneOf(&c.backend, {"oci", "mock"})},
                {"log_level", LogLevel(&c.log_level)},
                {"oci",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"runtime", String(&b.oci_runtime)},
                            {"cgroup_parent", AbsolutePath(&b.cgroup_parent)},
                            {"monitor", AbsolutePath(&b.monitor_path)}});
                 }},
                {"registries",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"insecure", StringList(&b.registries.insecure)},
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
                            {"log_max_size", Bytes(&b.log_max_bytes)},
                            {"log_max_files", Int(&b.log_max_files, 1, 100)},
                            {"exec_max_output", Bytes(&b.exec_max_output)}});
                 }},
            });
  }

  Handler String(std::string* out) {
    return [this, out](const YAML::Node& n, const std::string& p) {
      if (!n.IsScalar()) return Error(n, p, "expected a string");
      *out = n.as<std::string>();
    };
  }
  Handler AbsolutePath(std::string* out) {
    return [this, out](const YAML::Node& n, const std::string& p) {
      if (!n.IsScalar() || n.as<std::string>().empty() || n.as<std::string>()[0] != '/') {
        return Error(n, p, "expected an absolute path");
      }
      *out = n.as<std::string>();
    };
  }
  Handler StringList(std::vector<std::string>* out) {
    return [this, out](const YAML::Node& n, const std::string& p) {
      if (!n.IsSequence()) return Error(n, p, "expected a list of strings");
      out->clear();
      for (const auto& item : n) {
        if (!item.IsScalar()) return Error(item, p, "expected a string");
        out->push_back(item.as<std::string>());
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

const std::vector<Flag>& Flags() {
  static const auto* flags = new std::vector<Flag>{
      {"config", "FILE", "YAML config file; flags override it (default /etc/zlayer/agentd.yaml "
                         "if present)",
       [](const std::string&, AgentConfig*) { return absl::OkStatus(); }},
      {"socket", "PATH", "unix socket to serve (default /run/zlayer/agentd.sock)",
       [](const std::string& v, AgentConfig* c) {
         c->socket_path = v;
         return absl::OkStatus();
       }},
      {"socket-mode", "MODE", "socket permissions, octal (default 0660)",
       [](const std::string& v, AgentConfig* c) {
         return ParseMode(v, &c->socket_mode)
                    ? absl::OkStatus()
                    : base::InvalidSpec("--socket-mode: expected an octal mode such as 0660");
       }},
      {"socket-group", "GROUP", "group owning the socket (default root)",
       [](const std::string& v, AgentConfig* c) {
         c->socket_group = v;
         return absl::OkStatus();
       }},
      {"tcp", "HOST:PORT", "also serve plain TCP on this address (off by default)",
       [](const std::string& v, AgentConfig* c) {
         c->tcp_address = v;
         return absl::OkStatus();
       }},
      {"backend", "NAME", "backend: oci or mock (default oci)",
       [](const std::string& v, AgentConfig* c) {
         if (v != "oci" && v != "mock") return base::InvalidSpec("--backend: expected oci or mock");
         c->backend = v;
         return absl::OkStatus();
       }},
      {"runtime", "NAME|PATH", "OCI runtime: auto, youki, crun, runc or a path (default auto: "
                               "youki, then crun, then runc)",
       [](const std::string& v, AgentConfig* c) {
         c->backend_config.oci_runtime = v;
         return absl::OkStatus();
       }},
      {"data-dir", "DIR", "persistent state (default /var/lib/zlayer)",
       [](const std::string& v, AgentConfig* c) {
         c->backend_config.data_dir = v;
         return absl::OkStatus();
       }},
      {"run-dir", "DIR", "runtime state (default /run/zlayer)",
       [](const std::string& v, AgentConfig* c) {
         c->backend_config.run_dir = v;
         return absl::OkStatus();
       }},
      {"cgroup-parent", "PATH", "cgroup that holds containers and monitors (default /zlayer)",
       [](const std::string& v, AgentConfig* c) {
         c->backend_config.cgroup_parent = v;
         return absl::OkStatus();
       }},
      {"insecure-registry", "HOST[:PORT]",
       "registry reached over plain HTTP; repeatable (loopback is always allowed)",
       [](const std::string& v, AgentConfig* c) {
         c->backend_config.registries.insecure.push_back(v);
         return absl::OkStatus();
       }},
      {"registry-ca", "FILE", "extra CA bundle (PEM) for registries",
       [](const std::string& v, AgentConfig* c) {
         c->backend_config.registries.ca_file = v;
         return absl::OkStatus();
       }},
      {"registry-auth", "FILE", "Docker-format config.json with registry credentials",
       [](const std::string& v, AgentConfig* c) {
         c->backend_config.registries.credentials_file = v;
         return absl::OkStatus();
       }},
      {"monitor", "PATH", "per-container monitor binary (default: beside zlayer-agentd)",
       [](const std::string& v, AgentConfig* c) {
         c->backend_config.monitor_path = v;
         return absl::OkStatus();
       }},
      {"work-threads", "N", "threads for blocking work (default 8)",
       [](const std::string& v, AgentConfig* c) {
         if (!absl::SimpleAtoi(v, &c->work_threads) || c->work_threads < 1) {
           return base::InvalidSpec("--work-threads: expected a positive number");
         }
         return absl::OkStatus();
       }},
      {"log-level", "LEVEL", "trace, debug, info, warn, error or off (default info)",
       [](const std::string& v, AgentConfig* c) {
         spdlog::level::level_enum level;
         if (!base::ParseLogLevel(v, &level)) {
           return base::InvalidSpec("--log-level: expected trace, debug, info, warn, error or off");
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
                  "  --help                           show this help\n"
                  "  --version                        print the version\n\n"
                  "Signals: SIGTERM/SIGINT stop gracefully (containers keep running);\n"
                  "SIGHUP reloads the log level and registry settings from the config file.\n");
  return out;
}

absl::StatusOr<FlagResult> ParseFlags(int argc, char** argv, AgentConfig* config) {
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
  return FlagResult{};
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

}  // namespace zlayer::agentd
