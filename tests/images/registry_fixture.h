// A real docker-registry (Debian's distribution 2.8) on a free loopback port, with
// its own config in a temp dir, optionally behind TLS with a CA generated here,
// htpasswd basic auth, or token auth served by token_server.py. Stopped (SIGKILL
// and reaped) on destruction.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/fs_util.h"
#include "base/process.h"
#include "oci_builder.h"

namespace zlayer::images::testing {

struct RegistryOptions {
  bool tls = false;
  // Basic auth through htpasswd when user is set.
  std::string user;
  std::string password;
  // Token auth: a token server that grants pull to anonymous users on
  // repositories under "public/", pull to "reader", pull+push to "pusher".
  bool token_auth = false;
};

class TestRegistry {
 public:
  // Throws std::runtime_error when anything fails to start.
  explicit TestRegistry(RegistryOptions options = {});
  ~TestRegistry();

  const std::string& host() const { return host_; }  // "127.0.0.1:PORT"
  std::string base_url() const { return (options_.tls ? "https://" : "http://") + host_; }
  const std::string& ca_file() const { return ca_file_; }  // empty without TLS
  const std::string& dir() const { return dir_.path(); }
  // A push target with push rights.
  PushTarget pusher() const;
  // Where the registry keeps a blob's bytes (to corrupt it).
  std::string BlobDataPath(const std::string& digest) const;
  // SIGKILLs the registry (a registry dying mid-pull).
  void Kill();
  // Starts it again on the same port with the same storage.
  void Restart();
  // Token server details (token_auth only).
  std::string token_realm() const { return token_realm_; }
  static constexpr const char* kTokenService = "zlayer-test-registry";

 private:
  void WriteCerts();
  void StartTokenServer();
  void WaitReady();
  void Spawn();

  RegistryOptions options_;
  base::TempDir dir_;
  std::string host_;
  std::string ca_file_;
  std::string token_realm_;
  std::optional<base::ChildProcess> registry_;
  std::optional<base::ChildProcess> token_server_;
};

// Runs a command (absolute path or PATH lookup), throwing with its stderr on failure.
std::string Run(const std::vector<std::string>& argv);
// An unused loopback TCP port.
int FreePort();

}  // namespace zlayer::images::testing
