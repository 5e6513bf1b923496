#include "agentd/backends.h"

#include "runtimes/mock/mock_runtime.h"
#include "runtimes/oci/oci_backend.h"

namespace zlayer::agentd {

void RegisterBuiltinBackends(runtimes::BackendRegistry* registry) {
  registry->Register(
      "mock", [](const runtimes::BackendConfig& config) -> absl::StatusOr<runtimes::Backend> {
        auto mock = std::make_shared<runtimes::MockRuntime>(config.events);
        return runtimes::Backend{mock, mock};
      });
  oci::RegisterOciBackend(registry);
}

}  // namespace zlayer::agentd
