#pragma once

#include "runtimes/backend_registry.h"

namespace zlayer::agentd {

// Registers the backends built into this binary ("mock", and "oci" once built).
void RegisterBuiltinBackends(runtimes::BackendRegistry* registry);

}  // namespace zlayer::agentd
