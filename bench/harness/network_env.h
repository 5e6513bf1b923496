// The network case's world: a network namespace the bench makes, an agent living
// in it on its default (bridge) network, and a way to run `ctr` in it with a CNI
// config of the same shape. ctr runs CNI itself, from fixed paths (/etc/cni/net.d,
// /opt/cni/bin, /var/lib/cni); it runs in a mount namespace of its own where those
// paths are overlays on this run's directories, so the host's stay untouched.
// Bridges, veths and iptables rules all live in the bench's namespace and go with
// it; nothing is masqueraded.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/process.h"
#include "bench/harness/bench_agent.h"
#include "bench/harness/env.h"

namespace zlayer::bench {

class NetworkBench {
 public:
  static absl::StatusOr<std::unique_ptr<NetworkBench>> Create(BenchEnv& env);
  ~NetworkBench();
  NetworkBench(const NetworkBench&) = delete;
  NetworkBench& operator=(const NetworkBench&) = delete;

  // The agent in the namespace; its default network is the embedded bridge.
  Stub& agent() { return agent_->stub(); }
  // The busybox image as imported into that agent (the registry is not reachable
  // from the namespace).
  const std::string& agent_image() const { return agent_image_; }

  bool has_ctr() const { return holder_.has_value(); }
  // `ctr ARGS...` against the bench's containerd, inside the namespace and with
  // the CNI paths above.
  absl::Status CtrOk(const std::vector<std::string>& args) const;

 private:
  explicit NetworkBench(BenchEnv& env) : env_(env) {}
  absl::Status Start();
  absl::Status StartAgent();
  absl::Status ImportImage();
  absl::Status StartCtrNamespace();

  BenchEnv& env_;
  std::string dir_;    // below the bench's scratch
  std::string netns_;  // below the bench's socket dir
  bool netns_made_ = false;
  std::unique_ptr<BenchAgent> agent_;
  std::string agent_image_;
  // A process holding ctr's mount namespace (inside the network namespace).
  std::optional<base::ChildProcess> holder_;
};

}  // namespace zlayer::bench
