// Running one CNI plugin (CNI spec 1.0, "Execution Protocol"): the command and the
// container in environment variables, the plugin's network config on stdin, a
// result or an error object on stdout.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace zlayer::network {

struct PluginCall {
  std::string command;  // "ADD", "CHECK", "DEL"
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::string args;  // CNI_ARGS: "K=V;K=V"
  std::vector<std::string> plugin_dirs;
  // Named in errors: the network and the file its config came from.
  std::string network;
  std::string source;
  absl::Duration timeout = absl::Seconds(60);
};

// The plugin binary `type` in the first of `dirs` that has it; INVALID_ARGUMENT
// naming the plugin, the network's file and the directories otherwise.
absl::StatusOr<std::string> FindPlugin(const std::string& type,
                                       const std::vector<std::string>& dirs,
                                       const std::string& source);

// Runs the plugin with `netconf` on stdin. ADD returns the result object; CHECK
// and DEL return an empty object. A plugin's error object becomes a status that
// names the plugin, the command, the network and its file: RESOURCE_EXHAUSTED
// when the address range is used up, INTERNAL otherwise.
absl::StatusOr<nlohmann::json> ExecPlugin(const PluginCall& call, const nlohmann::json& netconf);

}  // namespace zlayer::network
