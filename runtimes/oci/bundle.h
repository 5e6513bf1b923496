// Builds an OCI runtime config (config.json) from an image's config and a
// ServiceSpec. Every field of the spec is either honoured here or rejected by
// ValidateSpec; nothing is silently ignored.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/container_auth.h"
#include "core/service_spec.h"
#include "images/manifest.h"
#include "nlohmann/json.hpp"
#include "runtimes/oci/user_lookup.h"

namespace zlayer::oci {

// containerd's default capability set.
const std::vector<std::string>& DefaultCapabilities();

// INVALID_ARGUMENT, naming the field, for anything this backend cannot honour.
absl::Status ValidateSpec(const core::ServiceSpec& spec);

// Docker's rules: a spec entrypoint replaces the image's and drops its Cmd unless
// args are given; args alone replace the image's Cmd. INVALID_ARGUMENT when the
// result is empty.
absl::StatusOr<std::vector<std::string>> ResolveArgs(const images::ImageConfig& image,
                                                     const core::CommandSpec& command);

// Image env, then the spec's (which wins per key), then `extra`; PATH and HOME are
// added when missing. Order is stable: image order, then new keys sorted.
std::vector<std::string> MergeEnv(const std::vector<std::string>& image_env,
                                  const std::map<std::string, std::string>& spec_env,
                                  const std::vector<std::string>& extra, const std::string& home);

struct BundleInputs {
  std::string runtime_id;     // the id the runtime knows, also the default hostname
  std::string rootfs;         // mounted rootfs (absolute)
  std::string cgroups_path;   // linux.cgroupsPath
  std::string volumes_dir;    // named volumes live in <volumes_dir>/<name>
  std::vector<std::string> extra_env;
  // Extra bind mounts the agent adds (its socket): {source, destination, readonly}.
  struct Bind {
    std::string source, destination;
    bool readonly = false;
  };
  std::vector<Bind> extra_binds;
  // kPrivate: a namespace of its own with loopback only (network: none); kJoin: the
  // namespace at netns_path, already attached to a network; kHost: the host's.
  enum class Network { kPrivate, kJoin, kHost };
  Network network = Network::kPrivate;
  std::string netns_path;
};

// Adds the container's call-back credentials: the API URL and a freshly minted
// token as environment variables, and the API socket bind-mounted at the same path
// when it exists (a missing socket is logged and skipped: the orchestrator may not
// be up yet, and the URL still works).
absl::Status AddContainerAuth(const auth::ContainerAuthContext& auth, const core::ContainerId& id,
                              BundleInputs* inputs);

// The config, with the user resolved through the rootfs. Named volume directories
// are created on the way.
absl::StatusOr<nlohmann::json> BuildConfig(const images::ImageConfig& image,
                                           const core::ServiceSpec& spec,
                                           const BundleInputs& inputs);

// The process part alone, for exec: args, env, cwd and user resolved the same way,
// with the container's capabilities.
absl::StatusOr<nlohmann::json> BuildExecProcess(const nlohmann::json& container_config,
                                                const std::string& rootfs,
                                                const std::vector<std::string>& args,
                                                const std::map<std::string, std::string>& env,
                                                const std::string& cwd, const std::string& user);

// Canonical "CAP_NET_ADMIN" from "net_admin" / "CAP_NET_ADMIN"; INVALID_ARGUMENT
// when the kernel has no such capability.
absl::StatusOr<std::string> CanonicalCapability(const std::string& name);

}  // namespace zlayer::oci
