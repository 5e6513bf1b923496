#include "network/network.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace zlayer::network {

absl::StatusOr<NetworkMode> ParseNetworkMode(absl::string_view text, absl::string_view fallback) {
  absl::string_view name = absl::StripAsciiWhitespace(text);
  if (name.empty()) name = fallback;
  if (name == "none") return NetworkMode{NetworkMode::Kind::kNone, {}};
  if (name == "host") return NetworkMode{NetworkMode::Kind::kHost, {}};
  if (auto valid = core::ValidateNetworkName(name); !valid.ok()) return valid;
  return NetworkMode{NetworkMode::Kind::kNetwork, std::string(name)};
}

namespace {

// PortRequest and core::PortMapping carry the same four fields.
template <typename Port>
nlohmann::json PortsJson(const std::vector<Port>& ports) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : ports) {
    out.push_back({{"container_port", p.container_port},
                   {"host_port", p.host_port},
                   {"protocol", p.protocol},
                   {"host_ip", p.host_ip}});
  }
  return out;
}

}  // namespace

std::string AttachmentToJson(const AttachRequest& request, const Attachment& attachment) {
  const nlohmann::json ports = PortsJson(attachment.ports);
  const nlohmann::json wanted = PortsJson(request.ports);
  nlohmann::json out = {
      {"container_id", request.container_id},
      {"service", request.service},
      {"deployment", request.deployment},
      {"network", request.network},
      {"netns", request.netns_path},
      {"ifname", request.ifname},
      {"wanted_ports", wanted},
      {"args", request.args},
      {"ports", ports},
      {"dns_nameservers", attachment.dns_nameservers},
      {"dns_search", attachment.dns_search},
      {"state", attachment.state},
  };
  if (attachment.ipv4) out["ipv4"] = *attachment.ipv4;
  if (attachment.gateway) out["gateway"] = *attachment.gateway;
  return out.dump();
}

absl::Status AttachmentFromJson(absl::string_view text, AttachRequest* request,
                                Attachment* attachment) {
  auto in = nlohmann::json::parse(text, nullptr, false);
  if (!in.is_object()) return absl::DataLossError("network attachment record is not JSON");
  try {
    *request = {};
    request->container_id = in.at("container_id").get<std::string>();
    request->service = in.value("service", "");
    request->deployment = in.value("deployment", "");
    request->network = in.value("network", "");
    request->netns_path = in.value("netns", "");
    request->ifname = in.value("ifname", "eth0");
    request->args = in.value("args", std::map<std::string, std::string>{});
    for (const auto& p : in.value("wanted_ports", nlohmann::json::array())) {
      request->ports.push_back({p.value("container_port", 0u), p.value("host_port", 0u),
                                p.value("protocol", "tcp"), p.value("host_ip", "")});
    }
    *attachment = {};
    attachment->network = request->network;
    attachment->ifname = request->ifname;
    if (in.contains("ipv4")) attachment->ipv4 = in["ipv4"].get<std::string>();
    if (in.contains("gateway")) attachment->gateway = in["gateway"].get<std::string>();
    for (const auto& p : in.value("ports", nlohmann::json::array())) {
      attachment->ports.push_back({p.value("container_port", 0u), p.value("host_port", 0u),
                                   p.value("protocol", "tcp"), p.value("host_ip", "")});
    }
    attachment->dns_nameservers = in.value("dns_nameservers", std::vector<std::string>{});
    attachment->dns_search = in.value("dns_search", std::vector<std::string>{});
    attachment->state = in.value("state", "");
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("network attachment record: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace zlayer::network
