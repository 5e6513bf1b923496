#include "runtimes/backend_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace zlayer::runtimes {

void BackendRegistry::Register(const std::string& name, BackendFactory factory) {
  for (auto& [known, existing] : factories_) {
    if (known == name) {
      existing = std::move(factory);
      return;
    }
  }
  factories_.emplace_back(name, std::move(factory));
}

absl::StatusOr<Backend> BackendRegistry::Create(const std::string& name,
                                                const BackendConfig& config) const {
  for (const auto& [known, factory] : factories_) {
    if (known == name) return factory(config);
  }
  return absl::NotFoundError(absl::StrCat("unknown backend '", name,
                                          "'; available: ", absl::StrJoin(Names(), ", ")));
}

std::vector<std::string> BackendRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [known, factory] : factories_) names.push_back(known);
  return names;
}

}  // namespace zlayer::runtimes
