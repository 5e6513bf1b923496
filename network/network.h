// The network interface: how a container's network namespace is joined to a node
// network before the runtime creates the container, and released after it ends.
//
// The OCI backend calls it; CNI (network/cni_*) implements it. Nothing here knows
// of bundles or runtimes: a backend hands over a namespace path and gets back what
// to report (addresses, published ports) and an opaque state to keep with the
// container's record, so that after an agent restart the same attachment can be
// checked (re-adopted) or released.
//
// Threading: every method may block (plugins are processes) and is called from
// the backend's work queue. Calls for different containers may run concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/types.h"

namespace zlayer::network {

// What a ServiceSpec's `network:` asks for.
struct NetworkMode {
  enum class Kind { kNone, kHost, kNetwork };
  Kind kind = Kind::kNetwork;
  std::string name;  // kNetwork: "bridge" (the default network) or a configured name
};

// "none", "host", "bridge", or a configured network's name; empty = `fallback`.
// INVALID_ARGUMENT for a name that cannot be a network's (the set of configured
// names is checked by NetworkManager::Validate).
absl::StatusOr<NetworkMode> ParseNetworkMode(absl::string_view text,
                                             absl::string_view fallback = "bridge");

// A port to publish on the host.
struct PortRequest {
  uint32_t container_port = 0;
  uint32_t host_port = 0;        // 0: the agent picks a free one
  std::string protocol = "tcp";  // "tcp" or "udp"
  std::string host_ip;           // empty: every address of the host
};

struct AttachRequest {
  std::string container_id;  // "<service>-rep-<N>": CNI_CONTAINERID
  // Replicas of one service in one deployment may share a wanted host port: the
  // first gets it and the others a free one. Anyone else asking is refused.
  std::string service;
  std::string deployment;
  std::string network;     // a kNetwork name
  std::string netns_path;  // the namespace to attach, already created
  std::string ifname = "eth0";
  std::vector<PortRequest> ports;
  // Extra CNI_ARGS ("K=V;..."), e.g. IgnoreUnknown=1.
  std::map<std::string, std::string> args;
};

struct Attachment {
  std::string network;
  std::string ifname;
  std::optional<std::string> ipv4;       // "10.89.0.5" (no prefix)
  std::optional<std::string> gateway;    // "10.89.0.1"
  std::vector<core::PortMapping> ports;  // as published
  std::vector<std::string> dns_nameservers;
  std::vector<std::string> dns_search;
  // Everything Check and Detach need later, even in another agent process: kept
  // verbatim with the container's record. Callers never interpret it.
  std::string state;
};

class NetworkManager {
 public:
  virtual ~NetworkManager() = default;

  // OK when `name` is a network of this node; INVALID_ARGUMENT naming it and the
  // known networks otherwise.
  virtual absl::Status Validate(absl::string_view name) = 0;
  // Joins the namespace to the network and publishes the ports. On failure nothing
  // stays allocated (a partial attach is rolled back). FAILED_PRECONDITION when a
  // host port is taken (naming its holder), INVALID_ARGUMENT for a broken network
  // config (naming the file), INTERNAL for a plugin failure (naming the plugin).
  virtual absl::StatusOr<Attachment> Attach(const AttachRequest& request) = 0;
  // Verifies that an earlier attachment still holds (after an agent restart).
  virtual absl::Status Check(const AttachRequest& request, const Attachment& attachment) = 0;
  // Releases the address, interfaces and port rules. Idempotent, and works after
  // the namespace is gone.
  virtual absl::Status Detach(const AttachRequest& request, const Attachment& attachment) = 0;
  // After an agent restart: takes back an attachment made by an earlier process
  // (its host ports count as held again) and checks it. The attachment stays
  // adopted even when the check fails; the status says what is wrong.
  virtual absl::Status Adopt(const AttachRequest& request, const Attachment& attachment) = 0;
  // Releases every attachment an earlier process started or made that is neither
  // adopted nor attached since (a crash between ADD and the container's record).
  // Returns how many were released.
  virtual absl::StatusOr<int> CollectLeftovers() = 0;
};

// The attachment and the request it answered, as kept with a container's record.
std::string AttachmentToJson(const AttachRequest& request, const Attachment& attachment);
absl::Status AttachmentFromJson(absl::string_view text, AttachRequest* request,
                                Attachment* attachment);

}  // namespace zlayer::network
