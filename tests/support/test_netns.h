// A network namespace made by a test, for the agent (and its bridge, veths and port
// rules) to live in, so that nothing a networking test does reaches the host's own
// namespace; and a few probes run inside it.
#pragma once

#include <string>
#include <vector>

#include "base/fs_util.h"

namespace zlayer::testing {

class TestNetns {
 public:
  TestNetns();  // throws when the namespace cannot be made
  ~TestNetns();
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  const std::string& path() const { return path_; }
  // Runs argv inside the namespace (through nsenter); returns stdout, or throws
  // with stderr when it fails.
  std::string Run(const std::vector<std::string>& argv, int timeout_seconds = 20) const;
  // Like Run, but returns the exit code and leaves output in *out.
  int Try(const std::vector<std::string>& argv, std::string* out, int timeout_seconds = 20) const;
  // An HTTP GET of / from inside the namespace (busybox nc); empty on failure.
  std::string Get(const std::string& host, uint32_t port) const;

  // What the leak test counts: veths, per-container iptables rules.
  int CountVeths() const;
  // The kernel takes a removed container's veth down with its namespace, a little
  // after the remove returns: polls (at most 10 s) until the count is `expected`,
  // and returns the last count.
  int CountVethsSettled(int expected = 0) const;
  int CountContainerRules() const;

 private:
  base::TempDir dir_;
  std::string path_;
};

// An agent config (YAML) for a network test: the embedded default network on
// `subnet`, no masquerade, and `cni_dir` for config lists (empty: none, so the
// embedded default is used).
std::string NetworkAgentConfig(const std::string& dir, const std::string& subnet,
                               const std::string& cni_dir = "");

// Files in <dir> other than host-local's bookkeeping: one per leased address.
int CountLeases(const std::string& dir);
int CountFiles(const std::string& dir);

}  // namespace zlayer::testing
