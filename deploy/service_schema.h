// The ServiceSpec part of the schema (internal to deploy/).
#pragma once

#include "core/service_spec.h"
#include "deploy/yaml_reader.h"

namespace zlayer::deploy::internal {

// Reads one service; errors go to `reader`. The result is complete only when the
// reader has no errors.
core::ServiceSpec ReadService(Reader& reader, const Value& value);

}  // namespace zlayer::deploy::internal
