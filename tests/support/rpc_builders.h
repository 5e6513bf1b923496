// Request messages that many suites build the same way.
#pragma once

#include <cstdint>
#include <string>

#include "zlayer/agent/v1/runtime.pb.h"

namespace zlayer::testing {

inline agent::v1::ContainerId PbContainerId(const std::string& service, uint32_t replica) {
  agent::v1::ContainerId id;
  id.set_service(service);
  id.set_replica(replica);
  return id;
}

// A create of `service`-rep-`replica` from `image` with nothing else set.
inline agent::v1::CreateContainerRequest PlainCreateRequest(const std::string& service,
                                                            uint32_t replica,
                                                            const std::string& image) {
  agent::v1::CreateContainerRequest create;
  *create.mutable_id() = PbContainerId(service, replica);
  create.mutable_spec()->mutable_image()->set_name(image);
  return create;
}

}  // namespace zlayer::testing
