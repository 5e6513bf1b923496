// What `zlayerctl apply` does to make the agent match a deployment spec, decided
// before anything is changed (so that --dry-run shows exactly what would happen).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deploy/deployment_spec.h"
#include "zlayer/agent/v1/runtime.pb.h"

namespace zlayer::cli {

namespace pb = ::zlayer::agent::v1;

// A container the agent has, as far as planning needs it.
struct ExistingContainer {
  pb::ContainerId id;
  std::string deployment;
  pb::ContainerState state;
  // From InspectContainer; only needed for the containers the spec names.
  std::optional<pb::ServiceSpec> spec;
  // The restart policy has a restart due: the agent brings it back by itself.
  bool restart_pending = false;
};

struct Action {
  enum class Kind {
    kCreate,    // create and start
    kStart,     // created earlier, never started: start it
    kKeep,      // running with the same spec (or a job that has finished)
    kRecreate,  // stop, remove, create and start: the spec changed, or it exited
    kRemove,    // stop and remove: scaled down, or (with prune) not in the spec
  };
  Kind kind;
  pb::ContainerId id;
  // Why, for the user: "spec changed: env, image", "scaled down to 2", ...
  std::string reason;
  // kCreate and kRecreate: what to create.
  std::optional<pb::CreateContainerRequest> request;
  // kRecreate and kRemove: the phase it is in now (whether it needs stopping).
  pb::ContainerPhase phase = pb::CONTAINER_PHASE_UNSPECIFIED;
};

struct Plan {
  std::vector<Action> actions;
  // Containers of the deployment whose service left the spec, when not pruning.
  std::vector<std::string> warnings;
};

// Replicas are <service>-rep-1..N, services in name order; each service's extra
// replicas are removed after its wanted ones are in place. FAILED_PRECONDITION when
// a wanted name is taken by a container of another deployment (or of none).
absl::StatusOr<Plan> PlanApply(const deploy::DeploymentSpec& spec,
                               const std::vector<ExistingContainer>& existing, bool prune);

// The top-level ServiceSpec fields that differ ("env", "image"), in field order.
std::vector<std::string> ChangedFields(const pb::ServiceSpec& a, const pb::ServiceSpec& b);

// "created", "started", "unchanged", "recreated", "removed".
const char* ActionVerb(Action::Kind kind);

}  // namespace zlayer::cli
