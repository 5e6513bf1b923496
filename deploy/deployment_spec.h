// A deployment: named services, each a ServiceSpec, as written in a YAML spec.
//
// Header-only on purpose: proto/convert/deployment.* turns it into wire messages
// without linking the YAML parser, and deploy/ stays free of protobuf and gRPC.
#pragma once

#include <map>
#include <string>

#include "core/service_spec.h"

namespace zlayer::deploy {

// The only schema version this parser knows.
inline constexpr char kSchemaVersionV1[] = "v1";

struct DeploymentSpec {
  std::string version;     // "v1"
  std::string deployment;  // 3-63 characters: letters, digits and '-'
  // Service name -> spec. Every spec has `replicas` set (1 when the YAML omits scale).
  // Sorted by name, which is also the order `zlayerctl apply` works in.
  std::map<std::string, core::ServiceSpec> services;
};

}  // namespace zlayer::deploy
