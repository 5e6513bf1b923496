// libFuzzer target: deploy::ParseDeployment on arbitrary bytes.
//
// Beyond "does not crash" (ASan, UBSan), it checks the parser's promises: every
// failure comes with at least one located error, and a success is a valid spec.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "deploy/parser.h"
#include "deploy/values.h"

namespace {

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace zlayer::deploy;
  const absl::string_view yaml(reinterpret_cast<const char*>(data), size);
  std::vector<SpecError> errors;
  const DeploymentSpec spec = ParseDeployment(yaml, "fuzz.yaml", &errors);
  if (errors.empty()) {
    Require(spec.version == "v1");
    Require(ValidateDeploymentName(spec.deployment).ok());
    Require(!spec.services.empty());
    for (const auto& [name, service] : spec.services) {
      Require(ValidateServiceName(name).ok());
      Require(!service.image.name.empty());
    }
  } else {
    for (const auto& e : errors) {
      Require(e.file == "fuzz.yaml");
      Require(e.line >= 0 && e.column >= 0);
      Require(!e.message.empty());
      Require(!e.ToString().empty());
    }
    Require(!ErrorsToStatus(errors).ok());
  }
  return 0;
}
