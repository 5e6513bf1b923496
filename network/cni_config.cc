#include "network/cni_config.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/fs_util.h"

namespace zlayer::network {

namespace {

constexpr absl::string_view kCniVersion = "1.0.0";

absl::StatusOr<ConfigList> ParseFile(const std::string& path) {
  auto text = base::ReadFile(path);
  if (!text.ok()) return text.status();
  auto parsed = nlohmann::json::parse(*text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  ConfigList list;
  list.source = path;
  if (absl::EndsWith(path, ".conflist")) {
    if (!parsed.contains("plugins") || !parsed["plugins"].is_array() || parsed["plugins"].empty()) {
      return absl::InvalidArgumentError("a .conflist needs a non-empty \"plugins\" array");
    }
    list.list = std::move(parsed);
  } else {
    // A single plugin's config (.conf): the list of one it stands for.
    if (!parsed.contains("type")) return absl::InvalidArgumentError("a .conf needs \"type\"");
    list.list = {{"cniVersion", parsed.value("cniVersion", std::string(kCniVersion))},
                 {"name", parsed.value("name", "")},
                 {"plugins", nlohmann::json::array({parsed})}};
  }
  list.name = list.list.value("name", "");
  if (list.name.empty()) return absl::InvalidArgumentError("it has no \"name\"");
  for (const auto& plugin : list.list["plugins"]) {
    if (!plugin.is_object() || !plugin.contains("type") || !plugin["type"].is_string()) {
      return absl::InvalidArgumentError("every plugin needs a string \"type\"");
    }
  }
  if (!list.list.contains("cniVersion")) list.list["cniVersion"] = kCniVersion;
  return list;
}

}  // namespace

nlohmann::json EmbeddedDefaultList(const NetworkConfig& config) {
  nlohmann::json bridge = {
      {"type", "bridge"},
      {"bridge", config.default_bridge},
      {"isGateway", true},
      {"ipMasq", config.default_masquerade},
      {"hairpinMode", true},
      {"ipam",
       {{"type", "host-local"},
        {"ranges", {{{{"subnet", config.default_subnet}}}}},
        {"routes", {{{"dst", "0.0.0.0/0"}}}},
        {"dataDir", config.run_dir + "/cni/networks"}}},
  };
  nlohmann::json portmap = {
      {"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}};
  return {{"cniVersion", kCniVersion},
          {"name", std::string(kDefaultNetworkName)},
          {"plugins", {bridge, portmap}}};
}

CniConfigSet CniConfigSet::Load(const NetworkConfig& config) {
  CniConfigSet set;
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(config.cni_config_dir, ec)) {
    const std::string path = entry.path().string();
    if (absl::EndsWith(path, ".conflist") || absl::EndsWith(path, ".conf") ||
        absl::EndsWith(path, ".json")) {
      files.push_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    auto list = ParseFile(path);
    if (list.ok()) {
      set.lists_.push_back(std::move(*list));
    } else {
      set.broken_.push_back(absl::StrCat(path, ": ", list.status().message()));
    }
  }
  if (files.empty()) {
    set.embedded_ = true;
    set.lists_.push_back({std::string(kDefaultNetworkName), "the embedded default network",
                          EmbeddedDefaultList(config)});
  }
  return set;
}

absl::StatusOr<ConfigList> CniConfigSet::Find(absl::string_view name) const {
  for (const auto& list : lists_) {
    if (list.name == name) return list;
  }
  if (name == kDefaultNetworkName) {
    // The directory's first file is the default; if that file is broken, say so.
    if (!broken_.empty() && (lists_.empty() || broken_.front() < lists_.front().source)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the default network's config is broken: ", broken_.front()));
    }
    if (!lists_.empty()) return lists_.front();
  }
  std::string message = absl::StrCat("network '", name, "' is not configured on this node");
  absl::StrAppend(&message, "; known: ", absl::StrJoin(Names(), ", "));
  if (!broken_.empty()) {
    absl::StrAppend(&message, "; unreadable config files: ", absl::StrJoin(broken_, "; "));
  }
  return absl::InvalidArgumentError(message);
}

std::vector<std::string> CniConfigSet::Names() const {
  std::vector<std::string> names = {"none", "host"};
  if (!embedded_) names.push_back(std::string(kDefaultNetworkName));
  for (const auto& list : lists_) names.push_back(list.name);
  return names;
}

}  // namespace zlayer::network
