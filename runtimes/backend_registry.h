// Backends are chosen by name at start ("mock", "oci"). agentd registers the
// built-in ones; adding a backend means one Register call.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/container_runtime.h"
#include "core/image_service.h"
#include "runtimes/backend_config.h"

namespace zlayer::runtimes {

// What a factory builds: the container half of the contract and the image half.
// They may be one object (the mock) or two (the OCI backend over the image store);
// agentd serves each through its own interface and keeps both alive while serving.
struct Backend {
  std::shared_ptr<core::ContainerRuntime> containers;
  std::shared_ptr<core::ImageService> images;
};

using BackendFactory = std::function<absl::StatusOr<Backend>(const BackendConfig&)>;

class BackendRegistry {
 public:
  // Replaces an earlier factory of the same name.
  void Register(const std::string& name, BackendFactory factory);
  // NOT_FOUND, listing the known names, when `name` is not registered.
  absl::StatusOr<Backend> Create(const std::string& name, const BackendConfig& config) const;
  std::vector<std::string> Names() const;

 private:
  std::vector<std::pair<std::string, BackendFactory>> factories_;
};

}  // namespace zlayer::runtimes
