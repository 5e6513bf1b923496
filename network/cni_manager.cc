#include "network/cni_manager.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "core/errors.h"
#include "network/cni_config.h"
#include "network/cni_plugin.h"

namespace zlayer::network {

using nlohmann::json;

namespace {

// portmap with nothing to publish: its ADD hands the previous result back and adds
// no rule, so neither it nor its DEL and CHECK are run (one plugin process less
// per start and per remove for the many containers that publish nothing).
bool Skippable(const json& plugin, const json& port_mappings) {
  return plugin.value("type", "") == "portmap" &&
         (!port_mappings.is_array() || port_mappings.empty());
}

// Whether a process of this host (in the agent's namespace) has the port: portmap's
// DNAT would quietly steal its traffic.
bool HostPortFree(const std::string& protocol, uint32_t port) {
  const int fd =
      ::socket(AF_INET, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

// A port the kernel would hand out now (its ephemeral range), for an endpoint
// whose wanted port is taken.
uint32_t EphemeralPort(const std::string& protocol) {
  const int fd =
      ::socket(AF_INET, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  uint32_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

json PortMappingsJson(const std::vector<core::PortMapping>& ports) {
  json out = json::array();
  for (const auto& p : ports) {
    json item = {
        {"hostPort", p.host_port}, {"containerPort", p.container_port}, {"protocol", p.protocol}};
    if (!p.host_ip.empty()) item["hostIP"] = p.host_ip;
    out.push_back(std::move(item));
  }
  return out;
}

// One plugin's stdin: its own config plus the list's name and version, the previous
// plugin's result, and the runtime values for the capabilities it declares.
json PluginConfig(const json& list, const json& plugin, const json& prev_result,
                  const json& port_mappings) {
  json conf = plugin;
  conf["cniVersion"] = list.value("cniVersion", "1.0.0");
  conf["name"] = list.value("name", "");
  if (!prev_result.is_null()) conf["prevResult"] = prev_result;
  if (plugin.contains("capabilities") && plugin["capabilities"].value("portMappings", false)) {
    conf["runtimeConfig"]["portMappings"] = port_mappings;
  }
  return conf;
}

PluginCall CallFor(const std::string& command, const AttachRequest& request,
                   const std::string& ifname, const std::string& network, const std::string& source,
                   const std::vector<std::string>& dirs) {
  PluginCall call;
  call.command = command;
  call.container_id = request.container_id;
  call.netns = request.netns_path;
  call.ifname = ifname;
  call.plugin_dirs = dirs;
  call.network = network;
  call.source = source;
  std::string args = "IgnoreUnknown=1";
  for (const auto& [key, value] : request.args) absl::StrAppend(&args, ";", key, "=", value);
  call.args = args;
  return call;
}

void ReadResult(const json& result, Attachment* attachment) {
  for (const auto& ip : result.value("ips", json::array())) {
    const std::string address = ip.value("address", "");
    if (address.find('.') == std::string::npos) continue;  // IPv4 only for now
    attachment->ipv4 = address.substr(0, address.find('/'));
    if (ip.contains("gateway")) attachment->gateway = ip["gateway"].get<std::string>();
    break;
  }
  if (result.contains("dns") && result["dns"].is_object()) {
    for (const auto& server : result["dns"].value("nameservers", json::array())) {
      attachment->dns_nameservers.push_back(server.get<std::string>());
    }
    for (const auto& domain : result["dns"].value("search", json::array())) {
      attachment->dns_search.push_back(domain.get<std::string>());
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<CniNetworkManager>> CniNetworkManager::Create(
    const NetworkConfig& config) {
  for (const auto& dir : {config.run_dir + "/netns", config.run_dir + "/cni/attachments",
                          config.run_dir + "/cni/networks"}) {
    if (auto status = base::MakeDirs(dir, 0700); !status.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("network state directory ", dir, ": ", status.message()));
    }
  }
  return std::unique_ptr<CniNetworkManager>(new CniNetworkManager(config));
}

std::string CniNetworkManager::JournalPath(const std::string& container_id) const {
  return absl::StrCat(config_.run_dir, "/cni/attachments/", container_id, ".json");
}

absl::Status CniNetworkManager::Validate(absl::string_view name) {
  return CniConfigSet::Load(config_).Find(name).status();
}

absl::StatusOr<std::vector<core::PortMapping>> CniNetworkManager::ReservePorts(
    const AttachRequest& request) {
  absl::MutexLock lock(&mu_);
  std::vector<core::PortMapping> chosen;
  std::vector<PortKey> taken;
  auto undo = [&] {
    for (const auto& key : taken) ports_.erase(key);
  };
  for (const auto& wanted : request.ports) {
    PortKey key{wanted.protocol, wanted.host_port};
    bool pick = wanted.host_port == 0;
    if (!pick) {
      if (auto it = ports_.find(key); it != ports_.end()) {
        const PortHolder& holder = it->second;
        if (holder.service == request.service && holder.deployment == request.deployment) {
          pick = true;  // another replica: this one gets a port of its own
        } else {
          undo();
          return absl::FailedPreconditionError(absl::StrCat(
              "host port ", wanted.host_port, "/", wanted.protocol, " wanted by container ",
              request.container_id, " is published by container ", holder.container_id,
              " (service ", holder.service, ", deployment ", holder.deployment,
              "): change the endpoint's port or remove ", holder.container_id));
        }
      } else if (!HostPortFree(wanted.protocol, wanted.host_port)) {
        pick = true;  // a host process has it
      }
    }
    if (pick) {
      key.port = 0;
      for (int attempt = 0; attempt < 64 && key.port == 0; ++attempt) {
        const uint32_t port = EphemeralPort(wanted.protocol);
        if (port != 0 && !ports_.contains({wanted.protocol, port})) key.port = port;
      }
      if (key.port == 0) {
        undo();
        return absl::ResourceExhaustedError(
            absl::StrCat("no free host port for ", wanted.container_port, "/", wanted.protocol,
                         " of container ", request.container_id));
      }
    }
    ports_[key] = {request.container_id, request.service, request.deployment};
    taken.push_back(key);
    chosen.push_back({wanted.container_port, key.port, wanted.protocol, wanted.host_ip});
  }
  return chosen;
}

void CniNetworkManager::ReleasePorts(const std::string& container_id) {
  absl::MutexLock lock(&mu_);
  std::erase_if(ports_, [&](const auto& item) { return item.second.container_id == container_id; });
}

absl::Status CniNetworkManager::DeleteAll(const AttachRequest& request, const json& list,
                                          const std::string& source, const json& result,
                                          const json& ports) {
  absl::Status first;
  const json& plugins = list["plugins"];
  const std::string network = list.value("name", "");
  for (auto it = plugins.rbegin(); it != plugins.rend(); ++it) {
    if (Skippable(*it, ports)) continue;
    auto call = CallFor("DEL", request, request.ifname, network, source, config_.cni_plugin_dirs);
    auto done = ExecPlugin(call, PluginConfig(list, *it, result, ports));
    if (!done.ok() && first.ok()) first = done.status();
  }
  return first;
}

absl::StatusOr<Attachment> CniNetworkManager::Attach(const AttachRequest& request) {
  auto list = CniConfigSet::Load(config_).Find(request.network);
  if (!list.ok()) return list.status();
  auto ports = ReservePorts(request);
  if (!ports.ok()) return ports.status();
  const json port_mappings = PortMappingsJson(*ports);

  // The journal first: whatever happens next, a later agent can undo it. Not
  // fsynced: what it describes (namespaces, veths, the run dir's leases) does not
  // outlive a reboot either, and a killed agent's writes are in the page cache.
  json journal = {{"request", json::parse(AttachmentToJson(request, {}))},
                  {"list", list->list},
                  {"source", list->source},
                  {"ports", port_mappings}};
  if (auto status = base::WriteFileAtomic(JournalPath(request.container_id), journal.dump(), 0600,
                                          /*durable=*/false);
      !status.ok()) {
    ReleasePorts(request.container_id);
    return status;
  }
  {
    absl::MutexLock lock(&mu_);
    live_.insert(request.container_id);
  }
  auto rollback = [&](const absl::Status& why, const json& result) {
    (void)DeleteAll(request, list->list, list->source, result, port_mappings);
    ReleasePorts(request.container_id);
    ::unlink(JournalPath(request.container_id).c_str());
    absl::MutexLock lock(&mu_);
    live_.erase(request.container_id);
    return why;
  };

  json result = nullptr;
  for (const auto& plugin : list->list["plugins"]) {
    if (Skippable(plugin, port_mappings)) continue;
    auto call =
        CallFor("ADD", request, request.ifname, list->name, list->source, config_.cni_plugin_dirs);
    auto added = ExecPlugin(call, PluginConfig(list->list, plugin, result, port_mappings));
    if (!added.ok()) return rollback(added.status(), result);
    result = std::move(*added);
  }

  Attachment attachment;
  attachment.network = request.network;
  attachment.ifname = request.ifname;
  attachment.ports = *ports;
  ReadResult(result, &attachment);
  attachment.state = json{
      {"list", list->list},
      {"source", list->source},
      {"result", result},
      {"ports",
       port_mappings}}.dump();
  journal["state"] = json::parse(attachment.state);
  (void)base::WriteFileAtomic(JournalPath(request.container_id), journal.dump(), 0600,
                              /*durable=*/false);
  return attachment;
}

absl::Status CniNetworkManager::Check(const AttachRequest& request, const Attachment& attachment) {
  auto state = json::parse(attachment.state, nullptr, false);
  if (!state.is_object()) {
    return absl::DataLossError(
        absl::StrCat("network state of container ", request.container_id, " is damaged"));
  }
  const json& list = state["list"];
  for (const auto& plugin : list["plugins"]) {
    if (Skippable(plugin, state["ports"])) continue;
    auto call = CallFor("CHECK", request, request.ifname, list.value("name", ""),
                        state.value("source", ""), config_.cni_plugin_dirs);
    auto checked = ExecPlugin(call, PluginConfig(list, plugin, state["result"], state["ports"]));
    if (!checked.ok()) return checked.status();
  }
  return absl::OkStatus();
}

absl::Status CniNetworkManager::Detach(const AttachRequest& request, const Attachment& attachment) {
  absl::Status status;
  auto state = json::parse(attachment.state, nullptr, false);
  if (state.is_object()) {
    status = DeleteAll(request, state["list"], state.value("source", ""), state["result"],
                       state["ports"]);
  }
  ReleasePorts(request.container_id);
  if (status.ok()) ::unlink(JournalPath(request.container_id).c_str());
  absl::MutexLock lock(&mu_);
  live_.erase(request.container_id);
  return status;
}

absl::Status CniNetworkManager::Adopt(const AttachRequest& request, const Attachment& attachment) {
  {
    absl::MutexLock lock(&mu_);
    live_.insert(request.container_id);
    for (const auto& port : attachment.ports) {
      ports_[{port.protocol, port.host_port}] = {request.container_id, request.service,
                                                 request.deployment};
    }
  }
  return Check(request, attachment);
}

absl::StatusOr<int> CniNetworkManager::CollectLeftovers() {
  int released = 0;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(config_.run_dir + "/cni/attachments", ec)) {
    const std::string path = entry.path().string();
    if (!absl::EndsWith(path, ".json")) continue;
    const std::string container_id = entry.path().stem().string();
    {
      absl::MutexLock lock(&mu_);
      if (live_.contains(container_id)) continue;
    }
    auto text = base::ReadFile(path);
    auto journal = json::parse(text.value_or(""), nullptr, false);
    AttachRequest request;
    Attachment ignored;
    if (journal.is_object() &&
        AttachmentFromJson(journal["request"].dump(), &request, &ignored).ok()) {
      const json result = journal.contains("state") ? journal["state"]["result"] : json();
      auto status = DeleteAll(request, journal["list"], journal.value("source", ""), result,
                              journal["ports"]);
      if (!status.ok()) {
        base::Logger("network")->warn("leftover attachment not released container_id={} error={}",
                                      container_id, status.message());
        continue;  // kept: the next start tries again
      }
    }
    ::unlink(path.c_str());
    ++released;
  }
  return released;
}

}  // namespace zlayer::network
