// Credentials a container gets for calling back into the orchestrator's API on its
// host without holding the signing secret: a signed token naming the container (and
// nothing else), the API's URL, and the API's unix socket bind-mounted inside. The
// token is minted when the container is created, as the contract's runtimes do, and
// lives token_ttl (a year by default, as there: containers run for long and are
// not re-created to renew it; shorten it where the orchestrator renews tokens).
// Which backends honour it: the OCI backend; the mock has no containers to inject into.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/types.h"

namespace zlayer::auth {

// How the agent is configured (agentd.yaml `container_auth:`). The signing secret
// stays in a file of its own so that the config can be world-readable and printed.
struct ContainerAuthConfig {
  bool enabled = false;
  std::string api_url;          // e.g. http://127.0.0.1:3669
  std::string jwt_secret_file;  // HS256 key; owner-only permissions
  std::string socket_path;      // the API's unix socket on the host; empty = none
  absl::Duration token_ttl = absl::Hours(24 * 365);
};

// The loaded form: what a backend needs at container create time.
struct ContainerAuthContext {
  std::string api_url;
  std::string jwt_secret;
  std::string socket_path;
  absl::Duration token_ttl;
};

// Reads the secret. FAILED_PRECONDITION when the file is missing, empty, owned by
// another user, or readable by group or others (anyone who can read it can forge
// tokens), naming the fix.
absl::StatusOr<ContainerAuthContext> LoadContainerAuth(const ContainerAuthConfig& config);

// A compact JWS (HS256) with sub "container:<service>:<service-rep-N>", iss "zlayer",
// roles ["container"], iat = now and exp = now + ttl.
absl::StatusOr<std::string> MintContainerToken(const ContainerAuthContext& auth,
                                               const core::ContainerId& id, absl::Time now);

// The variables a container sees; ZLAYER_SOCKET only when a socket is configured.
inline constexpr char kApiUrlEnv[] = "ZLAYER_API_URL";
inline constexpr char kTokenEnv[] = "ZLAYER_TOKEN";
inline constexpr char kSocketEnv[] = "ZLAYER_SOCKET";

}  // namespace zlayer::auth
