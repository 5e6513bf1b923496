// The supervision part of the service schema (internal to deploy/): `restart`,
// `init` and `init_process` (docs/deploy.md, docs/supervision.md).
#pragma once

#include <vector>

#include "core/service_spec.h"
#include "deploy/yaml_reader.h"

namespace zlayer::deploy::internal {

// `restart: on-failure:3`, or `restart: {policy: ..., max_retries: ..., backoff: {...}}`.
void ReadRestart(Reader& reader, const Value& value, core::RestartPolicy* out);

// `init:` a list of steps, each a mapping with one of wait_tcp, wait_http or run.
void ReadInit(Reader& reader, const Value& value, std::vector<core::InitAction>* out);

}  // namespace zlayer::deploy::internal
