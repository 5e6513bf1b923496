// Deployments: apply and down.
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/apply_plan.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/ops.h"
#include "cli/pull_progress.h"
#include "deploy/parser.h"
#include "proto/convert/convert.h"

namespace zlayer::cli {
namespace {

// Parses the spec. A broken one is answered on stderr with one line per error
// (file:line:column: path: what is expected), and a summary status.
absl::StatusOr<deploy::DeploymentSpec> LoadSpec(const std::string& path) {
  auto spec = deploy::LoadDeploymentFile(path);
  if (spec.ok() || !absl::IsInvalidArgument(spec.status())) return spec;
  const std::vector<std::string> lines = absl::StrSplit(spec.status().message(), '\n');
  for (const auto& line : lines) Err(line + "\n");
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": ", lines.size() == 1 ? "1 error" : absl::StrCat(lines.size(), " errors"),
      " in the spec; nothing was changed"));
}

absl::StatusOr<std::string> SpecPath(const ParsedArgs& args, const char* command) {
  auto path = args.Value("file");
  if (!path) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": -f FILE is required (see 'zlayerctl ", command, " --help')"));
  }
  return *path;
}

// What the agent has that apply must consider: the deployment's containers, and any
// container holding a name the spec wants. Specs are fetched for the latter only.
absl::StatusOr<std::vector<ExistingContainer>> Existing(Client& client,
                                                        const deploy::DeploymentSpec& spec) {
  auto all = ListContainers(client, pb::ListContainersRequest());
  if (!all.ok()) return all.status();
  std::vector<ExistingContainer> out;
  for (const auto& c : *all) {
    auto wanted = spec.services.find(c.id().service());
    const bool named = wanted != spec.services.end() && c.id().replica() >= 1 &&
                       c.id().replica() <= wanted->second.replicas;
    if (c.deployment() != spec.deployment && !named) continue;
    ExistingContainer e{c.id(), c.deployment(), c.state(), std::nullopt};
    e.restart_pending = c.has_next_restart_at();
    if (named) {
      auto info = InspectContainer(client, c.id());
      if (absl::IsNotFound(info.status())) continue;  // removed meanwhile
      if (!info.ok()) return info.status();
      e.spec = info->spec();
      e.state = info->state();
      e.restart_pending = info->supervision().has_next_restart_at();
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Pulls each image that will be created, once, with its spec's policy and auth.
absl::Status PullImages(Client& client, const Plan& plan, bool quiet) {
  std::set<std::string> pulled;
  for (const auto& a : plan.actions) {
    if (!a.request) continue;
    const pb::ImageSpec& image = a.request->spec().image();
    if (image.pull_policy() == pb::PULL_POLICY_NEVER || !pulled.insert(image.name()).second) continue;
    pb::PullImageRequest request;
    request.set_image(image.name());
    request.set_policy(image.pull_policy());
    if (image.has_auth()) *request.mutable_auth() = image.auth();
    auto done = PullWithProgress(client, request, quiet ? nullptr : stderr);
    if (!done.ok()) {
      return absl::Status(done.status().code(),
                          absl::StrCat("pull ", image.name(), ": ", done.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::Status Execute(Client& client, const Action& a, std::optional<absl::Duration> timeout) {
  switch (a.kind) {
    case Action::Kind::kKeep: return absl::OkStatus();
    case Action::Kind::kStart: return StartContainer(client, a.id);
    case Action::Kind::kRemove: return StopAndRemove(client, a.id, a.phase, timeout);
    case Action::Kind::kRecreate:
      if (auto s = StopAndRemove(client, a.id, a.phase, timeout); !s.ok()) return s;
      [[fallthrough]];
    case Action::Kind::kCreate:
      if (auto s = CreateContainer(client, *a.request); !s.ok()) return s;
      return StartContainer(client, a.id);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Apply(Context& ctx) {
  auto path = SpecPath(ctx.args, "apply");
  if (!path.ok()) return path.status();
  auto timeout = StopTimeout(ctx.args);
  if (!timeout.ok()) return timeout.status();
  auto spec = LoadSpec(*path);
  if (!spec.ok()) return spec.status();
  Client& client = ctx.client();
  auto existing = Existing(client, *spec);
  if (!existing.ok()) return existing.status();
  auto plan = PlanApply(*spec, *existing, ctx.args.Has("prune"));
  if (!plan.ok()) return plan.status();
  for (const auto& w : plan->warnings) Err(absl::StrCat("zlayerctl: warning: ", w, "\n"));

  const bool dry_run = ctx.args.Has("dry-run");
  if (!dry_run) {
    if (auto s = PullImages(client, *plan, ctx.args.Has("quiet")); !s.ok()) return s;
  }
  std::map<Action::Kind, int> counts;
  for (const auto& a : plan->actions) {
    const std::string name = ContainerName(a.id);
    if (!dry_run) {
      if (auto s = Execute(client, a, *timeout); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("apply ", name, ": ", s.message()));
      }
    }
    ++counts[a.kind];
    Out(absl::StrCat(name, " ", ActionVerb(a.kind), a.reason.empty() ? "" : ": ", a.reason,
                     dry_run ? " (dry run)" : "", "\n"));
  }
  Out(absl::StrCat("deployment ", spec->deployment, ": ", counts[Action::Kind::kCreate], " created, ",
                   counts[Action::Kind::kRecreate], " recreated, ", counts[Action::Kind::kStart],
                   " started, ", counts[Action::Kind::kKeep], " unchanged, ",
                   counts[Action::Kind::kRemove], " removed", dry_run ? " (dry run)" : "", "\n"));
  return 0;
}

absl::StatusOr<int> Down(Context& ctx) {
  std::string deployment;
  if (auto name = ctx.args.Value("deployment")) {
    if (ctx.args.Has("file")) {
      return absl::InvalidArgumentError("down: give either -f FILE or --deployment NAME");
    }
    deployment = *name;
  } else {
    auto path = SpecPath(ctx.args, "down");
    if (!path.ok()) return path.status();
    auto spec = LoadSpec(*path);
    if (!spec.ok()) return spec.status();
    deployment = spec->deployment;
  }
  auto timeout = StopTimeout(ctx.args);
  if (!timeout.ok()) return timeout.status();
  pb::ListContainersRequest request;
  request.set_deployment(deployment);
  auto containers = ListContainers(ctx.client(), request);
  if (!containers.ok()) return containers.status();
  for (const auto& c : *containers) {
    const std::string name = ContainerName(c.id());
    if (auto s = StopAndRemove(ctx.client(), c.id(), c.state().phase(), *timeout); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("down ", name, ": ", s.message()));
    }
    Out(absl::StrCat(name, " removed\n"));
  }
  Out(absl::StrCat("deployment ", deployment, ": ", containers->size(), " removed\n"));
  return 0;
}

}  // namespace

void AddDeployCommands(std::vector<Command>* out) {
  Command apply{{"apply", "-f FILE [OPTIONS]", "Create or update a deployment from a YAML spec",
                 "Each service gets replicas SERVICE-rep-1..N. Missing ones are created and "
                 "started, changed ones recreated, exited services restarted, extra replicas "
                 "removed; running ones with the same spec are left alone. A broken spec is "
                 "reported line by line and nothing is changed. See docs/deploy.md.",
                 {{"file", 'f', "FILE", "the deployment spec"},
                  {"dry-run", 0, "", "validate and show what would change, change nothing"},
                  {"prune", 0, "", "also remove the deployment's containers whose service "
                                   "left the spec"},
                  {"time", 't', "SECONDS", "grace period when stopping replaced containers"},
                  {"quiet", 'q', "", "no pull progress"}},
                 0, 0},
                Apply};
  Command down{{"down", "-f FILE [OPTIONS]", "Stop and remove a deployment's containers",
                "Removes every container of the spec's deployment, including replicas and "
                "services no longer in the file.",
                {{"file", 'f', "FILE", "the deployment spec"},
                 {"deployment", 0, "NAME", "the deployment, instead of -f"},
                 {"time", 't', "SECONDS", "grace period before SIGKILL"}},
                0, 0},
               Down};
  for (Command* c : {&apply, &down}) out->push_back(std::move(*c));
}

}  // namespace zlayer::cli
