#include "agentd/backends.h"

#include "runtimes/mock/mock_runtime.h"
#include "runtimes/oci/oci_backend.h"

namespace zlayer::agentd {

void RegisterBuiltinBackends(runtimes::BackendRegistry* registry) {
  registry->Register("mock", [](const runtimes::BackendConfig&)
                                 -> absl::StatusOr<std::unique_ptr<runtimes::Runtime>> {
    return std::unique_ptr<runtimes::Runtime>(std::make_unique<runtimes::MockRuntime>());
  });
  oci::RegisterOciBackend(registry);
}

}  // namespace zlayer::agentd
