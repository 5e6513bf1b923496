// The node's CNI network config lists: the files of network.cni_config_dir, or,
// when it holds none, an embedded default (bridge + host-local + portmap).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "network/network_config.h"
#include "nlohmann/json.hpp"

namespace zlayer::network {

// The network every ServiceSpec gets unless it names another: the embedded default,
// or the first config list of the directory (as containerd's CRI plugin picks it).
inline constexpr absl::string_view kDefaultNetworkName = "bridge";

struct ConfigList {
  std::string name;
  std::string source;   // the file, or "the embedded default network"
  nlohmann::json list;  // {"cniVersion", "name", "plugins": [...]}
};

class CniConfigSet {
 public:
  // Reads the directory. A file that cannot be read or parsed does not fail the
  // load: it is remembered, and a lookup that could have meant it names it.
  static CniConfigSet Load(const NetworkConfig& config);

  // `name` is "bridge" (the default) or a list's name; INVALID_ARGUMENT naming the
  // directory's files (and any broken ones) when there is no such network.
  absl::StatusOr<ConfigList> Find(absl::string_view name) const;
  std::vector<std::string> Names() const;

 private:
  std::vector<ConfigList> lists_;
  std::vector<std::string> broken_;  // "<file>: <why>"
  bool embedded_ = false;
};

// The embedded default's config list; exposed for docs and tests.
nlohmann::json EmbeddedDefaultList(const NetworkConfig& config);

}  // namespace zlayer::network
