// How the node's container networks are configured (agentd.yaml `network:`).
// Plain data; docs/networking.md describes every field.
#pragma once

#include <string>
#include <vector>

namespace zlayer::network {

struct NetworkConfig {
  // CNI network config lists (*.conflist, and single-plugin *.conf) are read from
  // here. When it holds none, the embedded default network is used.
  std::string cni_config_dir = "/etc/zlayer/cni/net.d";
  // Where CNI plugin binaries are looked up (CNI_PATH), in order.
  std::vector<std::string> cni_plugin_dirs = {"/usr/lib/cni", "/opt/cni/bin"};
  // The embedded default network: a Linux bridge, host-local IPAM on `subnet`,
  // portmap for published endpoints, and loopback.
  std::string default_bridge = "zlayer0";
  std::string default_subnet = "10.89.0.0/24";
  // Outgoing traffic of the default network leaves through the host's address
  // (the bridge plugin's ipMasq), as with Docker. Tests turn it off.
  bool default_masquerade = true;
  // The network a ServiceSpec gets when it names none: "bridge", "none" or "host".
  std::string default_network = "bridge";
  // Where the agent keeps what must not outlive a reboot: network namespaces
  // (<run_dir>/netns), host-local leases and its attachment journal (<run_dir>/cni).
  // Set by the backend from its run_dir.
  std::string run_dir;
};

}  // namespace zlayer::network
