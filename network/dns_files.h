// The name-resolution files each container gets: /etc/resolv.conf, /etc/hosts and
// /etc/hostname, written in the container's directory and bind-mounted in.
//
// Service aliases go through /etc/hosts rather than a resolver of the agent's own:
// it needs no process, no port and no packet path, every libc and busybox reads it,
// and a replica's entry is current the moment the agent rewrites the file. The cost
// is that only names on this node resolve, which is what a node agent can answer
// anyway (docs/networking.md).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace zlayer::network {

// `host_text` (a resolv.conf) without loopback nameservers, which would point into
// the container's own namespace.
std::string ContainerResolvConf(const std::string& host_text);
// The host's resolver config as a container should see it: /etc/resolv.conf, or
// systemd-resolved's upstream list when /etc/resolv.conf names only its stub.
std::string HostResolvConf();

// Keeps the /etc/hosts files of the containers on one node current: a container
// sees itself and every container of its deployment on the same network, under the
// container's name ("web-rep-2") and its service's ("web").
class HostsTable {
 public:
  struct Entry {
    std::string name;     // "web-rep-2"; also the hostname
    std::string service;  // "web"
    std::string deployment;
    std::string network;
    std::optional<std::string> ipv4;
    std::string hosts_path;  // the container's hosts file, bind-mounted at /etc/hosts
  };

  // Adds or replaces the entry and rewrites the files of its group.
  absl::Status Set(const Entry& entry);
  // Removes it and rewrites the files of the group it was in.
  void Remove(const std::string& name);
  // The file a container with `entry` sees (exposed for tests).
  std::string Render(const Entry& entry) const;

 private:
  std::string RenderLocked(const Entry& entry) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status RewriteGroup(const std::string& deployment, const std::string& network)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// Writes `text` into `path` in place: a bind-mounted file keeps its inode, so a
// rename would leave the container reading the old one.
absl::Status RewriteInPlace(const std::string& path, const std::string& text);

}  // namespace zlayer::network
