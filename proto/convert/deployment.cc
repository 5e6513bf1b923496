#include "proto/convert/deployment.h"

#include "proto/convert/convert.h"

namespace zlayer::proto {

pb::CreateContainerRequest ToCreateRequest(const std::string& deployment,
                                           const std::string& service, uint32_t replica,
                                           const core::ServiceSpec& spec) {
  pb::CreateContainerRequest request;
  *request.mutable_id() = ToProto(core::ContainerId{service, replica});
  *request.mutable_spec() = ToProto(spec);
  request.set_deployment(deployment);
  return request;
}

std::vector<pb::CreateContainerRequest> ToCreateRequests(const deploy::DeploymentSpec& spec) {
  std::vector<pb::CreateContainerRequest> out;
  for (const auto& [name, service] : spec.services) {
    for (uint32_t replica = 1; replica <= service.replicas; ++replica) {
      out.push_back(ToCreateRequest(spec.deployment, name, replica, service));
    }
  }
  return out;
}

pb::ServiceSpec WithoutCredentials(pb::ServiceSpec spec) {
  if (spec.has_image()) spec.mutable_image()->clear_auth();
  return spec;
}

}  // namespace zlayer::proto
