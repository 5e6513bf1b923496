// Deployment specs (deploy/) as wire messages: the CreateContainer requests that
// realise a deployment. zlayerctl apply sends exactly these, and an orchestrator
// that sends them too creates the same containers.
#pragma once

#include <string>
#include <vector>

#include "core/service_spec.h"
#include "deploy/deployment_spec.h"
#include "zlayer/agent/v1/runtime.pb.h"
#include "zlayer/agent/v1/spec.pb.h"

namespace zlayer::proto {

namespace pb = ::zlayer::agent::v1;

// The request creating replica `replica` (1-based) of `service`: the id
// {service, replica}, ToProto(spec) and the deployment name.
pb::CreateContainerRequest ToCreateRequest(const std::string& deployment,
                                           const std::string& service, uint32_t replica,
                                           const core::ServiceSpec& spec);

// One request per replica of every service: <service>-rep-1 .. -rep-N, services in
// name order. A service scaled to 0 contributes none.
std::vector<pb::CreateContainerRequest> ToCreateRequests(const deploy::DeploymentSpec& spec);

// The spec as the agent reports it back in ContainerInfo.spec: registry credentials
// removed. Compare a desired spec in this form with what a container runs.
pb::ServiceSpec WithoutCredentials(pb::ServiceSpec spec);

}  // namespace zlayer::proto
