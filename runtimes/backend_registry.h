// Backends are chosen by name at start ("mock", "oci"). agentd registers the
// built-in ones; adding a backend means one RegisterBackend call.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtimes/backend_config.h"
#include "runtimes/runtime.h"

namespace zlayer::runtimes {

using BackendFactory =
    std::function<absl::StatusOr<std::unique_ptr<Runtime>>(const BackendConfig&)>;

class BackendRegistry {
 public:
  // Replaces an earlier factory of the same name.
  void Register(const std::string& name, BackendFactory factory);
  // NOT_FOUND, listing the known names, when `name` is not registered.
  absl::StatusOr<std::unique_ptr<Runtime>> Create(const std::string& name,
                                                  const BackendConfig& config) const;
  std::vector<std::string> Names() const;

 private:
  std::vector<std::pair<std::string, BackendFactory>> factories_;
};

}  // namespace zlayer::runtimes
