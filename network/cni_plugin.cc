#include "network/cni_plugin.h"

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/process.h"

namespace zlayer::network {

absl::StatusOr<std::string> FindPlugin(const std::string& type,
                                       const std::vector<std::string>& dirs,
                                       const std::string& source) {
  // A type is a file name: anything with a path in it would escape the plugin dirs.
  if (type.empty() || type.find('/') != std::string::npos || type == "." || type == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("CNI plugin type '", type, "' in ", source, " is not a plugin name"));
  }
  for (const auto& dir : dirs) {
    const std::string path = absl::StrCat(dir, "/", type);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "CNI plugin '", type, "' named in ", source, " is not in ", absl::StrJoin(dirs, ":"),
      ": install it (Debian: containernetworking-plugins) or set network.cni_plugin_dirs"));
}

absl::StatusOr<nlohmann::json> ExecPlugin(const PluginCall& call, const nlohmann::json& netconf) {
  const std::string type = netconf.value("type", "");
  auto path = FindPlugin(type, call.plugin_dirs, call.source);
  if (!path.ok()) return path.status();

  base::RunOptions options;
  options.argv = {*path};
  options.env = {
      "CNI_COMMAND=" + call.command,
      "CNI_CONTAINERID=" + call.container_id,
      "CNI_NETNS=" + call.netns,
      "CNI_IFNAME=" + call.ifname,
      "CNI_PATH=" + absl::StrJoin(call.plugin_dirs, ":"),
      // portmap and bridge run iptables and ip through PATH.
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
  };
  if (!call.args.empty()) options.env.push_back("CNI_ARGS=" + call.args);
  options.stdin_data = netconf.dump();
  options.timeout = call.timeout;
  const std::string what =
      absl::StrCat("CNI plugin ", type, " (", call.command, " of container ", call.container_id,
                   " on network ", call.network, " from ", call.source, ")");
  auto run = base::RunCommand(options);
  if (!run.ok()) return absl::InternalError(absl::StrCat(what, ": ", run.status().message()));

  if (!run->ok()) {
    // The spec's error object: {"code", "msg", "details"}; older plugins may print
    // only to stderr.
    std::string message;
    auto error = nlohmann::json::parse(run->out, nullptr, false);
    if (error.is_object() && error.contains("msg")) {
      message = absl::StrCat("error ", error.value("code", 0), ": ", error.value("msg", ""));
      const std::string details = error.value("details", "");
      if (!details.empty()) absl::StrAppend(&message, " (", details, ")");
    } else {
      message = absl::StrCat("exit code ", run->status.code, ": ", run->err, run->out);
    }
    message = absl::StrCat(what, " failed: ", message);
    if (absl::StrContains(message, "no IP addresses available")) {
      return absl::ResourceExhaustedError(
          absl::StrCat(message, "; remove containers on this network or widen its subnet"));
    }
    return absl::InternalError(message);
  }
  if (call.command != "ADD") return nlohmann::json::object();
  auto result = nlohmann::json::parse(run->out, nullptr, false);
  if (!result.is_object()) {
    return absl::InternalError(absl::StrCat(
        what, " printed a result that is not a JSON object: ", run->out.substr(0, 200)));
  }
  return result;
}

}  // namespace zlayer::network
