// NetworkManager over CNI plugins: config lists from cni_config, plugins run by
// cni_plugin, host ports allocated here, and a journal of attachments under
// <run_dir>/cni/attachments so that a crash between a plugin's ADD and the
// container's record leaks nothing (CollectLeftovers).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "network/network.h"
#include "network/network_config.h"
#include "nlohmann/json.hpp"

namespace zlayer::network {

class CniNetworkManager final : public NetworkManager {
 public:
  // Makes the state directories; FAILED_PRECONDITION when they cannot be made.
  static absl::StatusOr<std::unique_ptr<CniNetworkManager>> Create(const NetworkConfig& config);

  absl::Status Validate(absl::string_view name) override;
  absl::StatusOr<Attachment> Attach(const AttachRequest& request) override;
  absl::Status Check(const AttachRequest& request, const Attachment& attachment) override;
  absl::Status Detach(const AttachRequest& request, const Attachment& attachment) override;
  absl::Status Adopt(const AttachRequest& request, const Attachment& attachment) override;
  absl::StatusOr<int> CollectLeftovers() override;

 private:
  struct PortKey {
    std::string protocol;
    uint32_t port;
    auto operator<=>(const PortKey&) const = default;
  };
  struct PortHolder {
    std::string container_id;
    std::string service;
    std::string deployment;
  };

  explicit CniNetworkManager(NetworkConfig config) : config_(std::move(config)) {}
  std::string JournalPath(const std::string& container_id) const;
  // Picks the host port of each request and holds it for the container.
  absl::StatusOr<std::vector<core::PortMapping>> ReservePorts(const AttachRequest& request);
  void ReleasePorts(const std::string& container_id);
  // DEL of every plugin of `list`, last first; the first failure is returned.
  absl::Status DeleteAll(const AttachRequest& request, const nlohmann::json& list,
                         const std::string& source, const nlohmann::json& result,
                         const nlohmann::json& ports);

  const NetworkConfig config_;
  absl::Mutex mu_;
  std::map<PortKey, PortHolder> ports_ ABSL_GUARDED_BY(mu_);
  // Containers attached or adopted by this process: their journal entries are live.
  std::set<std::string> live_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zlayer::network
