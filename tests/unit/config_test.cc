#include <catch2/catch.hpp>

#include "agentd/config.h"

using zlayer::agentd::AgentConfig;
using zlayer::agentd::LoadConfigText;
using zlayer::agentd::ParseFlags;

TEST_CASE("a full config file is read", "[unit]") {
  AgentConfig c;
  const char* text = R"(listen:
  socket: /run/z/a.sock
  socket_mode: "0600"
  socket_group: zlayer
  tcp: 127.0.0.1:7000
data_dir: /srv/z
run_dir: /run/z
backend: mock
log_level: debug
oci:
  runtime: runc
  cgroup_parent: /zl
registries:
  insecure: [reg.local:5000]
  ca_file: /etc/z/ca.pem
  credentials_file: /etc/z/auth.json
  max_parallel_downloads: 4
  max_layer_size: 2Gi
limits:
  work_threads: 4
  log_max_size: 5Mi
  log_max_files: 2
  exec_max_output: 1Mi
)";
  REQUIRE(LoadConfigText(text, "agentd.yaml", &c).ok());
  CHECK(c.socket_path == "/run/z/a.sock");
  CHECK(c.socket_mode == 0600);
  CHECK(c.socket_group == "zlayer");
  CHECK(c.tcp_address == "127.0.0.1:7000");
  CHECK(c.backend == "mock");
  CHECK(c.log_level == "debug");
  CHECK(c.work_threads == 4);
  CHECK(c.backend_config.data_dir == "/srv/z");
  CHECK(c.backend_config.oci_runtime == "runc");
  CHECK(c.backend_config.cgroup_parent == "/zl");
  CHECK(c.backend_config.registries.insecure == std::vector<std::string>{"reg.local:5000"});
  CHECK(c.backend_config.registries.max_layer_bytes == 2ull << 30);
  CHECK(c.backend_config.log_max_bytes == 5ull << 20);
}

TEST_CASE("config errors name file:line:column, the key and what is expected", "[unit]") {
  AgentConfig c;
  const std::string before = c.socket_path;
  const char* text = "listen:\n  sockett: /x\nbackend: docker\nlimits:\n  work_threads: -1\n";
  auto s = LoadConfigText(text, "/etc/zlayer/agentd.yaml", &c);
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  const std::string m(s.message());
  CHECK(m.find("/etc/zlayer/agentd.yaml:2:3: listen.sockett: unknown key") != std::string::npos);
  CHECK(m.find("/etc/zlayer/agentd.yaml:3:10: backend: expected one of: oci, mock") !=
        std::string::npos);
  CHECK(m.find("/etc/zlayer/agentd.yaml:5:17: limits.work_threads: expected a whole number") !=
        std::string::npos);
  // Nothing from a bad file is applied.
  CHECK(c.socket_path == before);
  CHECK(c.backend == "oci");
}

TEST_CASE("YAML syntax errors carry their position", "[unit]") {
  AgentConfig c;
  auto s = LoadConfigText("listen: [\n", "f.yaml", &c);
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).rfind("invalid config f.yaml:", 0) == 0);
}

TEST_CASE("flags override config values and are validated", "[unit]") {
  AgentConfig c;
  std::vector<std::string> args = {"zlayer-agentd", "--backend", "mock", "--socket=/tmp/x.sock",
                                   "--insecure-registry", "a:1", "--insecure-registry", "b:2",
                                   "--log-level", "warn"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto r = ParseFlags(static_cast<int>(argv.size()), argv.data(), &c);
  REQUIRE(r.ok());
  CHECK_FALSE(r->exit);
  CHECK(c.backend == "mock");
  CHECK(c.socket_path == "/tmp/x.sock");
  CHECK(c.backend_config.registries.insecure.size() == 2);
  CHECK(c.log_level == "warn");

  for (std::vector<std::string> bad : {std::vector<std::string>{"zlayer-agentd", "--bogus"},
                                       {"zlayer-agentd", "--backend", "docker"},
                                       {"zlayer-agentd", "--socket"},
                                       {"zlayer-agentd", "--socket-mode", "999"},
                                       {"zlayer-agentd", "positional"}}) {
    std::vector<char*> v;
    for (auto& a : bad) v.push_back(a.data());
    AgentConfig fresh;
    CHECK(ParseFlags(static_cast<int>(v.size()), v.data(), &fresh).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("--help documents every flag", "[unit]") {
  const std::string usage = zlayer::agentd::UsageText();
  for (const char* flag : {"--config", "--socket", "--socket-mode", "--socket-group", "--tcp",
                           "--backend", "--runtime", "--data-dir", "--run-dir",
                           "--insecure-registry", "--log-level"}) {
    INFO(flag);
    CHECK(usage.find(flag) != std::string::npos);
  }
}
