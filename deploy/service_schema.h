// The ServiceSpec part of the schema (internal to deploy/).
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "core/service_spec.h"
#include "deploy/yaml_reader.h"

namespace zlayer::deploy::internal {

// Reads one service; errors go to `reader`. The result is complete only when the
// reader has no errors.
core::ServiceSpec ReadService(Reader& reader, const Value& value);

// A name made of letters, digits, '-', '_' and '.', starting with a letter or digit
// (endpoint, volume and init step names). Reports anything else as not `what`.
bool SimpleName(Reader& reader, const Value& value, absl::string_view what, std::string* out);

}  // namespace zlayer::deploy::internal
