// The config file: a fixed schema walked with yaml-cpp, every error collected with
// file:line:column; and the effective configuration printed back in that format.
#include <functional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agentd/config.h"
#include "agentd/config_values.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "core/errors.h"
#include "core/types.h"
#include "yaml-cpp/yaml.h"

namespace zlayer::agentd {
namespace {

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
    return core::InvalidSpec(
        absl::StrCat("invalid config ", name_, ":\n  ", absl::StrJoin(errors_, "\n  ")));
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
    AgentConfig& config = *config_;
    auto& backend = config.backend_config;
    ReadMap(root, "",
            {
                {"listen",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"socket", Checked(&config.socket_path, CheckSocketPath)},
                            {"socket_mode", Mode(&config.socket_mode)},
                            {"socket_group", Checked(&config.socket_group, CheckGroup)},
                            {"tcp", Checked(&config.tcp_address, [](absl::string_view v) {
                               return v.empty() ? std::string() : CheckHostPort(v, true);
                             })}});
                 }},
                {"data_dir", AbsolutePath(&backend.data_dir)},
                {"run_dir", AbsolutePath(&backend.run_dir)},
                {"backend", OneOf(&config.backend, {"oci", "mock"})},
                {"log_level", LogLevel(&config.log_level)},
                {"oci",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"runtime", Checked(&backend.oci_runtime, CheckRuntime)},
                            {"cgroup_parent", AbsolutePath(&backend.cgroup_parent)},
                            {"monitor", AbsolutePath(&backend.monitor_path)},
                            {"init_process", Bool(&backend.init_process)},
                            {"init_path", AbsolutePath(&backend.init_path)}});
                 }},
                {"registries",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"insecure", StringList(&backend.registries.insecure,
                                                   [](absl::string_view v) {
                                                     return CheckHostPort(v, false);
                                                   })},
                            {"ca_file", AbsolutePath(&backend.registries.ca_file)},
                            {"credentials_file", AbsolutePath(&backend.registries.credentials_file)},
                            {"max_parallel_downloads",
                             Int(&backend.registries.max_parallel_downloads, 1, 32)},
                            {"max_layer_size", Bytes(&backend.registries.max_layer_bytes)}});
                 }},
                {"limits",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"work_threads", Int(&config.work_threads, 1, 256)},
                            {"queue_stall_timeout",
                             DurationValue(&config.queue_stall_timeout, absl::Seconds(1))},
                            {"shutdown_grace", DurationValue(&config.shutdown_grace, absl::Seconds(0))},
                            {"log_max_size", Bytes(&backend.log_max_bytes)},
                            {"log_max_files", Int(&backend.log_max_files, 1, 100)},
                            {"exec_max_output", Bytes(&backend.exec_max_output)}});
                 }},
                {"network",
                 [&](const YAML::Node& n, const std::string& p) {
                   auto& net = backend.network;
                   ReadMap(
                       n, p,
                       {{"default",
                         Checked(
                             &net.default_network,
                             [](absl::string_view v) {
                               return core::ValidateNetworkName(v).ok()
                                          ? std::string()
                                          : std::string(
                                                "expected bridge, none, host or a network's name");
                             })},
                        {"cni_config_dir", AbsolutePath(&net.cni_config_dir)},
                        {"cni_plugin_dirs", StringList(&net.cni_plugin_dirs, CheckAbsolutePath)},
                        {"bridge", Checked(&net.default_bridge, CheckInterfaceName)},
                        {"subnet", Checked(&net.default_subnet, CheckIpv4Subnet)},
                        {"masquerade", Bool(&net.default_masquerade)}});
                 }},
                {"events",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"max_events", Int(&config.events.max_events, 10, 10'000'000)},
                            {"max_age", DurationValue(&config.events.max_age, absl::Minutes(1))}});
                 }},
                {"metrics",
                 [&](const YAML::Node& n, const std::string& p) {
                   ReadMap(n, p,
                           {{"address", Checked(&config.metrics_address, [](absl::string_view v) {
                               return v.empty() ? std::string() : CheckHostPort(v, true);
                             })}});
                 }},
                {"container_auth",
                 [&](const YAML::Node& n, const std::string& p) { ReadContainerAuth(n, p); }},
            });
  }

  // Present = enabled; the URL and the secret file are then required.
  void ReadContainerAuth(const YAML::Node& n, const std::string& p) {
    auto& auth = config_->backend_config.container_auth;
    auth = {};
    ReadMap(n, p,
            {{"api_url", Checked(&auth.api_url, CheckHttpUrl)},
             {"jwt_secret_file", AbsolutePath(&auth.jwt_secret_file)},
             {"socket_path", Checked(&auth.socket_path, CheckSocketPath)},
             {"token_ttl", DurationValue(&auth.token_ttl, absl::Minutes(1))}});
    if (!n.IsMap()) return;
    for (const char* required : {"api_url", "jwt_secret_file"}) {
      if (!n[required]) {
        Error(n, p, absl::StrCat("missing ", required, " (container_auth needs api_url and "
                                 "jwt_secret_file; remove the section to turn it off)"));
      }
    }
    auth.enabled = true;
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
  Handler Bool(bool* out) {
    return [this, out](const YAML::Node& n, const std::string& p) {
      bool v;
      if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
        return Error(n, p, "expected true or false");
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

}  // namespace

absl::Status LoadConfigFile(const std::string& path, AgentConfig* config) {
  auto text = base::ReadFile(path);
  if (!text.ok()) return core::Annotate(text.status(), "config file");
  config->config_file = path;
  return LoadConfigText(*text, path, config);
}

absl::Status LoadConfigText(const std::string& text, const std::string& name,
                            AgentConfig* config) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return core::InvalidSpec(absl::StrCat("invalid config ", name, ":", e.mark.line + 1, ":",
                                          e.mark.column + 1, ": ", e.msg));
  }
  // A copy: a file with errors changes nothing.
  AgentConfig updated = *config;
  ConfigReader reader(name, &updated);
  absl::Status status;
  try {
    status = reader.Read(root);
  } catch (const YAML::Exception& e) {
    status = core::InvalidSpec(absl::StrCat("invalid config ", name, ":", e.mark.line + 1, ":",
                                            e.mark.column + 1, ": ", e.msg));
  }
  if (!status.ok()) return status;
  *config = std::move(updated);
  return absl::OkStatus();
}

std::string ConfigToYaml(const AgentConfig& config) {
  const auto& backend = config.backend_config;
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "socket" << YAML::Value << config.socket_path;
  out << YAML::Key << "socket_mode" << YAML::Value << YAML::DoubleQuoted << Octal(config.socket_mode);
  out << YAML::Key << "socket_group" << YAML::Value << config.socket_group;
  out << YAML::Key << "tcp" << YAML::Value << config.tcp_address;
  out << YAML::EndMap;
  out << YAML::Key << "data_dir" << YAML::Value << backend.data_dir;
  out << YAML::Key << "run_dir" << YAML::Value << backend.run_dir;
  out << YAML::Key << "backend" << YAML::Value << config.backend;
  out << YAML::Key << "log_level" << YAML::Value << config.log_level;
  out << YAML::Key << "oci" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "runtime" << YAML::Value << backend.oci_runtime;
  out << YAML::Key << "cgroup_parent" << YAML::Value << backend.cgroup_parent;
  if (!backend.monitor_path.empty()) out << YAML::Key << "monitor" << YAML::Value << backend.monitor_path;
  out << YAML::Key << "init_process" << YAML::Value << backend.init_process;
  if (!backend.init_path.empty()) out << YAML::Key << "init_path" << YAML::Value << backend.init_path;
  out << YAML::EndMap;
  out << YAML::Key << "registries" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "insecure" << YAML::Value << YAML::Flow << backend.registries.insecure;
  if (!backend.registries.ca_file.empty()) {
    out << YAML::Key << "ca_file" << YAML::Value << backend.registries.ca_file;
  }
  if (!backend.registries.credentials_file.empty()) {
    out << YAML::Key << "credentials_file" << YAML::Value << backend.registries.credentials_file;
  }
  out << YAML::Key << "max_parallel_downloads" << YAML::Value
      << backend.registries.max_parallel_downloads;
  out << YAML::Key << "max_layer_size" << YAML::Value << ByteSize(backend.registries.max_layer_bytes);
  out << YAML::EndMap;
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "work_threads" << YAML::Value << config.work_threads;
  out << YAML::Key << "queue_stall_timeout" << YAML::Value
      << absl::FormatDuration(config.queue_stall_timeout);
  out << YAML::Key << "shutdown_grace" << YAML::Value << absl::FormatDuration(config.shutdown_grace);
  out << YAML::Key << "log_max_size" << YAML::Value << ByteSize(backend.log_max_bytes);
  out << YAML::Key << "log_max_files" << YAML::Value << backend.log_max_files;
  out << YAML::Key << "exec_max_output" << YAML::Value << ByteSize(backend.exec_max_output);
  out << YAML::EndMap;
  out << YAML::Key << "network" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "default" << YAML::Value << backend.network.default_network;
  out << YAML::Key << "cni_config_dir" << YAML::Value << backend.network.cni_config_dir;
  out << YAML::Key << "cni_plugin_dirs" << YAML::Value << YAML::Flow
      << backend.network.cni_plugin_dirs;
  out << YAML::Key << "bridge" << YAML::Value << backend.network.default_bridge;
  out << YAML::Key << "subnet" << YAML::Value << backend.network.default_subnet;
  out << YAML::Key << "masquerade" << YAML::Value << backend.network.default_masquerade;
  out << YAML::EndMap;
  out << YAML::Key << "events" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_events" << YAML::Value << config.events.max_events;
  out << YAML::Key << "max_age" << YAML::Value << absl::FormatDuration(config.events.max_age);
  out << YAML::EndMap;
  out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "address" << YAML::Value << config.metrics_address;
  out << YAML::EndMap;
  if (backend.container_auth.enabled) {
    // The secret's path only, never the secret.
    const auto& auth = backend.container_auth;
    out << YAML::Key << "container_auth" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "api_url" << YAML::Value << auth.api_url;
    out << YAML::Key << "jwt_secret_file" << YAML::Value << auth.jwt_secret_file;
    if (!auth.socket_path.empty()) out << YAML::Key << "socket_path" << YAML::Value << auth.socket_path;
    out << YAML::Key << "token_ttl" << YAML::Value << absl::FormatDuration(auth.token_ttl);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace zlayer::agentd
