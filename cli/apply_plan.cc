#include "cli/apply_plan.h"

#include <google/protobuf/util/message_differencer.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/format.h"
#include "proto/convert/deployment.h"

namespace zlayer::cli {
namespace {

using google::protobuf::util::MessageDifferencer;

}  // namespace

std::vector<std::string> ChangedFields(const pb::ServiceSpec& a, const pb::ServiceSpec& b) {
  std::vector<std::string> out;
  const auto* desc = pb::ServiceSpec::descriptor();
  for (int i = 0; i < desc->field_count(); ++i) {
    MessageDifferencer differ;
    for (int j = 0; j < desc->field_count(); ++j) {
      if (j != i) differ.IgnoreField(desc->field(j));
    }
    if (!differ.Compare(a, b)) out.push_back(desc->field(i)->name());
  }
  return out;
}

const char* ActionVerb(Action::Kind kind) {
  switch (kind) {
    case Action::Kind::kCreate: return "created";
    case Action::Kind::kStart: return "started";
    case Action::Kind::kKeep: return "unchanged";
    case Action::Kind::kRecreate: return "recreated";
    case Action::Kind::kRemove: return "removed";
  }
  return "?";
}

absl::StatusOr<Plan> PlanApply(const deploy::DeploymentSpec& spec,
                               const std::vector<ExistingContainer>& existing, bool prune) {
  std::map<std::string, const ExistingContainer*> by_name;
  for (const auto& c : existing) by_name[ContainerName(c.id)] = &c;

  Plan plan;
  for (const auto& [service, service_spec] : spec.services) {
    for (uint32_t replica = 1; replica <= service_spec.replicas; ++replica) {
      pb::CreateContainerRequest request =
          proto::ToCreateRequest(spec.deployment, service, replica, service_spec);
      const std::string name = ContainerName(request.id());
      Action action{Action::Kind::kCreate, request.id(), "", std::nullopt};
      auto found = by_name.find(name);
      if (found == by_name.end()) {
        action.request = std::move(request);
        plan.actions.push_back(std::move(action));
        continue;
      }
      const ExistingContainer& have = *found->second;
      if (have.deployment != spec.deployment) {
        return absl::FailedPreconditionError(absl::StrCat(
            "container ", name, " belongs to ",
            have.deployment.empty() ? "no deployment"
                                    : absl::StrCat("deployment \"", have.deployment, "\""),
            ", not to \"", spec.deployment, "\"; remove it (zlayerctl rm -f ", name,
            ") or rename the service"));
      }
      action.phase = have.state.phase();
      // The agent reports specs without credentials; compare like with like.
      const pb::ServiceSpec wanted = proto::WithoutCredentials(request.spec());
      const std::vector<std::string> changed =
          have.spec ? ChangedFields(wanted, proto::WithoutCredentials(*have.spec))
                    : std::vector<std::string>{"(unknown)"};
      if (!changed.empty()) {
        action.kind = Action::Kind::kRecreate;
        action.reason = absl::StrCat("spec changed: ", absl::StrJoin(changed, ", "));
        action.request = std::move(request);
      } else if (have.state.phase() == pb::CONTAINER_PHASE_RUNNING) {
        action.kind = Action::Kind::kKeep;
      } else if (have.state.phase() == pb::CONTAINER_PHASE_PENDING ||
                 have.state.phase() == pb::CONTAINER_PHASE_INITIALIZING) {
        action.kind = Action::Kind::kStart;
      } else if (have.restart_pending) {
        // Recreating would start it at once and reset its backoff, defeating the
        // policy's delay; it starts again by itself.
        action.kind = Action::Kind::kKeep;
        action.reason = absl::StrCat(StateText(have.state), ", restart pending");
      } else if (service_spec.rtype == core::ServiceType::kJob &&
                 have.state.phase() == pb::CONTAINER_PHASE_EXITED) {
        // A job that ran is done; re-applying does not run it again.
        action.kind = Action::Kind::kKeep;
        action.reason = absl::StrCat("job finished: ", StateText(have.state));
      } else {
        action.kind = Action::Kind::kRecreate;
        action.reason = absl::StrCat("was ", StateText(have.state));
        action.request = std::move(request);
      }
      plan.actions.push_back(std::move(action));
    }
    for (const auto& c : existing) {
      if (c.deployment == spec.deployment && c.id.service() == service &&
          c.id.replica() > service_spec.replicas) {
        plan.actions.push_back(Action{Action::Kind::kRemove, c.id,
                                      absl::StrCat("scaled down to ", service_spec.replicas),
                                      std::nullopt, c.state.phase()});
      }
    }
  }
  for (const auto& c : existing) {
    if (c.deployment != spec.deployment || spec.services.count(c.id.service())) continue;
    if (prune) {
      plan.actions.push_back(Action{Action::Kind::kRemove, c.id,
                                    absl::StrCat("service ", c.id.service(), " is not in the spec"),
                                    std::nullopt, c.state.phase()});
    } else {
      plan.warnings.push_back(absl::StrCat(
          ContainerName(c.id), " belongs to deployment \"", spec.deployment, "\" but service ",
          c.id.service(), " is not in the spec; apply --prune removes it"));
    }
  }
  return plan;
}

}  // namespace zlayer::cli
