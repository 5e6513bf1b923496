#include "runtimes/backend_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace zlayer::runtimes {

void BackendRegistry::Register(const std::string& name, BackendFactory factory) {
  for (auto& [n, f] : factories_) {
    if (n == name) {
      f = std::move(factory);
      return;
    }
  }
  factories_.emplace_back(name, std::move(factory));
}

absl::StatusOr<std::unique_ptr<Runtime>> BackendRegistry::Create(
    const std::string& name, const BackendConfig& config) const {
  for (const auto& [n, f] : factories_) {
    if (n == name) return f(config);
  }
  return absl::NotFoundError(absl::StrCat("unknown backend '", name,
                                          "'; available: ", absl::StrJoin(Names(), ", ")));
}

std::vector<std::string> BackendRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [n, f] : factories_) names.push_back(n);
  return names;
}

}  // namespace zlayer::runtimes
