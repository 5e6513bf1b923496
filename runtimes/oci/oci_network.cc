// A container's network: its namespace, made and attached before the runtime's
// `create` sees config.json, released on stop and remove; its name files; and the
// answers (IP, ports, port override) the contract asks for.
#include <unistd.h>

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/logging.h"
#include "core/errors.h"
#include "network/netns.h"
#include "runtimes/oci/oci_container.h"

namespace zlayer::oci {

using core::ContainerId;
using Kind = network::NetworkMode::Kind;

namespace {

std::vector<network::PortRequest> PortRequests(const core::ServiceSpec& spec) {
  std::vector<network::PortRequest> ports;
  for (const auto& endpoint : spec.endpoints) {
    if (endpoint.port == 0) continue;
    network::PortRequest port;
    port.container_port = endpoint.target_port ? endpoint.target_port : endpoint.port;
    port.host_port = endpoint.port;
    port.protocol = endpoint.protocol == core::EndpointProtocol::kUdp ? "udp" : "tcp";
    ports.push_back(port);
  }
  return ports;
}

}  // namespace

std::string OciBackend::NetnsPath(const std::string& name) const {
  return absl::StrCat(config_.run_dir, "/netns/", name);
}

absl::StatusOr<network::NetworkMode> OciBackend::ResolveNetwork(const core::ServiceSpec& spec) {
  auto mode = network::ParseNetworkMode(spec.network, config_.network.default_network);
  if (!mode.ok()) return core::Annotate(mode.status(), "spec.network");
  if (mode->kind == Kind::kNetwork) {
    if (auto status = network_->Validate(mode->name); !status.ok()) return status;
  }
  return mode;
}

absl::Status OciBackend::PrepareNetwork(Container& container, BundleInputs* inputs) {
  if (auto status = base::MakeDirs(container.EtcDir(), 0755); !status.ok()) return status;
  const std::string hostname =
      container.record.spec.hostname.empty() ? container.name : container.record.spec.hostname;
  const std::string etc = container.EtcDir();
  std::string hosts = network::HostsTable{}.Render(
      {hostname, container.id.service, container.record.deployment, "", std::nullopt, ""});
  if (container.network_mode.kind == Kind::kHost) {
    hosts = base::ReadFile("/etc/hosts").value_or(hosts);
  }
  for (const auto& [file, text] :
       std::vector<std::pair<std::string, std::string>>{{"hosts", hosts},
                                                        {"resolv.conf", network::HostResolvConf()},
                                                        {"hostname", hostname + "\n"}}) {
    if (auto status = base::WriteFileAtomic(absl::StrCat(etc, "/", file), text, 0644);
        !status.ok()) {
      return status;
    }
    inputs->extra_binds.push_back({absl::StrCat(etc, "/", file), "/etc/" + file, false});
  }
  switch (container.network_mode.kind) {
    case Kind::kNone:
      inputs->network = BundleInputs::Network::kPrivate;
      break;
    case Kind::kHost:
      inputs->network = BundleInputs::Network::kHost;
      break;
    case Kind::kNetwork:
      inputs->network = BundleInputs::Network::kJoin;
      inputs->netns_path = NetnsPath(container.name);
      break;
  }
  return absl::OkStatus();
}

absl::Status OciBackend::AttachNetwork(Container& container) {
  network::AttachRequest request;
  {
    absl::MutexLock lock(&mu_);
    if (container.network_mode.kind != Kind::kNetwork || container.attachment) {
      return absl::OkStatus();
    }
    request.container_id = container.name;
    request.service = container.id.service;
    request.deployment = container.record.deployment;
    request.network = container.network_mode.name;
    request.netns_path = NetnsPath(container.name);
    request.ports = PortRequests(container.record.spec);
  }
  auto log = base::Logger("oci");
  if (!network::IsNetns(request.netns_path)) {
    if (auto status = network::CreateNetns(request.netns_path); !status.ok()) {
      return core::Annotate(status,
                            absl::StrCat("network namespace of container ", container.name));
    }
  }
  auto attachment = network_->Attach(request);
  if (!attachment.ok()) {
    (void)network::RemoveNetns(request.netns_path);
    return attachment.status();
  }
  const std::string hosts_path = container.EtcDir() + "/hosts";
  {
    absl::MutexLock lock(&mu_);
    container.attach_request = request;
    container.attachment = *attachment;
    container.record.network_attachment = network::AttachmentToJson(request, *attachment);
  }
  const std::string hostname =
      container.record.spec.hostname.empty() ? container.name : container.record.spec.hostname;
  (void)hosts_.Set({hostname, container.id.service, request.deployment, request.network,
                    attachment->ipv4, hosts_path});
  log->info("container attached container_id={} network={} ipv4={} ports={}", container.name,
            request.network, attachment->ipv4.value_or("-"), attachment->ports.size());
  return absl::OkStatus();
}

void OciBackend::DetachNetwork(Container& container, bool removing) {
  std::optional<network::AttachRequest> request;
  std::optional<network::Attachment> attachment;
  ContainerRecordFile record;
  {
    absl::MutexLock lock(&mu_);
    request = std::exchange(container.attach_request, std::nullopt);
    attachment = std::exchange(container.attachment, std::nullopt);
    container.record.network_attachment.clear();
    record = container.record;
  }
  if (!request || !attachment) return;
  const std::string hostname = record.spec.hostname.empty() ? container.name : record.spec.hostname;
  hosts_.Remove(hostname);
  // The container's processes are gone, so unbinding its namespace ends it, and
  // the kernel takes the veth down with it, off this path; DEL then runs without
  // a namespace (as the CNI spec allows for a namespace that is gone) and releases
  // the address and the port rules. The plugins' own veth delete would cost this
  // call more than every other step of the detach together.
  network::AttachRequest del = *request;
  if (network::RemoveNetns(request->netns_path).ok()) del.netns_path.clear();
  if (auto status = network_->Detach(del, *attachment); !status.ok()) {
    // The journal keeps it; the next recovery tries again.
    base::Logger("oci")->warn("network detach failed container_id={} error={}", container.name,
                              status.message());
  }
  if (!removing && !container.removed && ::access(container.RecordPath().c_str(), F_OK) == 0) {
    (void)WriteRecord(container.RecordPath(), record);
  }
}

void OciBackend::AdoptNetwork(Container& container) {
  auto mode =
      network::ParseNetworkMode(container.record.spec.network, config_.network.default_network);
  if (mode.ok()) container.network_mode = *mode;
  if (container.record.network_attachment.empty()) return;
  network::AttachRequest request;
  network::Attachment attachment;
  auto log = base::Logger("oci");
  if (auto status =
          network::AttachmentFromJson(container.record.network_attachment, &request, &attachment);
      !status.ok()) {
    log->warn("network record unreadable container_id={} error={}", container.name,
              status.message());
    return;
  }
  if (!network::IsNetns(request.netns_path)) {
    // After a reboot: the namespace is gone, and with it the veth; the lease and
    // port rules (in <run_dir>, gone too) need no release.
    (void)network_->Detach(request, attachment);
    container.record.network_attachment.clear();
    (void)WriteRecord(container.RecordPath(), container.record);
    return;
  }
  if (auto status = network_->Adopt(request, attachment); !status.ok()) {
    log->warn("network check failed after restart container_id={} error={}", container.name,
              status.message());
  }
  container.attach_request = request;
  container.attachment = attachment;
  const std::string hostname =
      container.record.spec.hostname.empty() ? container.name : container.record.spec.hostname;
  (void)hosts_.Set({hostname, container.id.service, request.deployment, request.network,
                    attachment.ipv4, container.EtcDir() + "/hosts"});
}

void OciBackend::CollectNetworkLeftovers() {
  auto log = base::Logger("oci");
  auto released = network_->CollectLeftovers();
  if (!released.ok()) {
    log->warn("network leftovers not collected error={}", released.status().message());
  } else if (*released > 0) {
    log->info("released leftover network attachments count={}", *released);
  }
  std::set<std::string> held;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, container] : containers_) {
      if (container->attach_request) held.insert(container->attach_request->netns_path);
    }
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(config_.run_dir + "/netns", ec)) {
    const std::string path = entry.path().string();
    if (held.contains(path)) continue;
    log->info("removing leftover network namespace path={}", path);
    (void)network::RemoveNetns(path);
  }
}

absl::StatusOr<std::optional<std::string>> OciBackend::GetContainerIp(const ContainerId& id) {
  auto container = Find(id);
  if (!container.ok()) return container.status();
  absl::MutexLock lock(&mu_);
  if (!(*container)->attachment) return std::optional<std::string>();
  return (*container)->attachment->ipv4;
}

absl::StatusOr<std::optional<uint16_t>> OciBackend::GetContainerPortOverride(
    const ContainerId& id) {
  auto container = Find(id);
  if (!container.ok()) return container.status();
  absl::MutexLock lock(&mu_);
  if (!(*container)->attachment || !(*container)->attach_request) return std::optional<uint16_t>();
  // The first endpoint that did not get the host port its spec asked for.
  const auto& wanted = (*container)->attach_request->ports;
  const auto& got = (*container)->attachment->ports;
  for (size_t i = 0; i < wanted.size() && i < got.size(); ++i) {
    if (wanted[i].host_port != got[i].host_port) {
      return std::optional<uint16_t>(static_cast<uint16_t>(got[i].host_port));
    }
  }
  return std::optional<uint16_t>();
}

}  // namespace zlayer::oci
