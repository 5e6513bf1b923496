#include "agentd/config.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"

using zlayer::agentd::AgentConfig;
using zlayer::agentd::LoadConfigText;
using zlayer::agentd::ParseFlags;

TEST_CASE("a full config file is read", "[unit]") {
  AgentConfig c;
  const char* text = R"(listen:
  socket: /run/z/a.sock
  socket_mode: "0600"
  socket_group: root
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
  queue_stall_timeout: 90s
  shutdown_grace: 3s
  log_max_size: 5Mi
  log_max_files: 2
  exec_max_output: 1Mi
metrics:
  address: 127.0.0.1:9323
)";
  REQUIRE(LoadConfigText(text, "agentd.yaml", &c).ok());
  CHECK(c.socket_path == "/run/z/a.sock");
  CHECK(c.socket_mode == 0600);
  CHECK(c.socket_group == "root");
  CHECK(c.tcp_address == "127.0.0.1:7000");
  CHECK(c.backend == "mock");
  CHECK(c.log_level == "debug");
  CHECK(c.work_threads == 4);
  CHECK(c.queue_stall_timeout == absl::Seconds(90));
  CHECK(c.shutdown_grace == absl::Seconds(3));
  CHECK(c.backend_config.run_dir == "/run/z");
  CHECK(c.backend_config.registries.ca_file == "/etc/z/ca.pem");
  CHECK(c.backend_config.registries.credentials_file == "/etc/z/auth.json");
  CHECK(c.backend_config.registries.max_parallel_downloads == 4);
  CHECK(c.backend_config.log_max_files == 2);
  CHECK(c.backend_config.exec_max_output == 1ull << 20);
  CHECK(c.backend_config.data_dir == "/srv/z");
  CHECK(c.backend_config.oci_runtime == "runc");
  CHECK(c.backend_config.cgroup_parent == "/zl");
  CHECK(c.backend_config.registries.insecure == std::vector<std::string>{"reg.local:5000"});
  CHECK(c.backend_config.registries.max_layer_bytes == 2ull << 30);
  CHECK(c.backend_config.log_max_bytes == 5ull << 20);
  CHECK(c.metrics_address == "127.0.0.1:9323");
}

TEST_CASE("metrics.address: off by default, HOST:PORT checked in file and flag", "[unit]") {
  AgentConfig c;
  CHECK(c.metrics_address.empty());
  auto bad = LoadConfigText("metrics:\n  address: 9323\n", "agentd.yaml", &c);
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(bad.message(), "agentd.yaml:2:12"));
  CHECK(absl::StrContains(bad.message(), "HOST:PORT"));
  std::vector<std::string> args = {"zlayer-agentd", "--metrics-address", "[::1]:9323"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  REQUIRE(ParseFlags(static_cast<int>(argv.size()), argv.data(), &c).ok());
  CHECK(c.metrics_address == "[::1]:9323");
  AgentConfig after = c;
  after.metrics_address = "127.0.0.1:1";
  CHECK(RestartRequiredChanges(c, after) == std::vector<std::string>{"metrics.address"});
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

TEST_CASE("config values are checked, with the position of each bad one", "[unit]") {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"listen:\n  socket: relative.sock\n", "f.yaml:2:11: listen.socket: expected an absolute path"},
      {"listen:\n  socket_group: no-such-group-zl\n",
       "f.yaml:2:17: listen.socket_group: group 'no-such-group-zl' does not exist"},
      {"listen:\n  tcp: \"host:99999\"\n", "f.yaml:2:8: listen.tcp: expected HOST:PORT"},
      {"listen:\n  tcp: \"[::1\"\n", "f.yaml:2:8: listen.tcp: expected HOST:PORT"},
      {"oci:\n  runtime: bin/runc\n", "f.yaml:2:12: oci.runtime: a runtime path must be absolute"},
      {"registries:\n  insecure: [\"a/b\"]\n", "f.yaml:2:14: registries.insecure: expected HOST"},
      {"registries:\n  insecure: reg.local\n", "f.yaml:2:13: registries.insecure: expected a list"},
      {"limits:\n  queue_stall_timeout: 1ms\n",
       "f.yaml:2:24: limits.queue_stall_timeout: expected a duration such as 30s or 5m, at least 1s"},
      {"limits:\n  shutdown_grace: -1s\n", "f.yaml:2:19: limits.shutdown_grace: expected a duration"},
      {"limits:\n  log_max_size: 0\n", "f.yaml:2:17: limits.log_max_size: expected a size"},
      {"limits:\n  log_max_size: 99999999Ti\n", "f.yaml:2:17: limits.log_max_size: expected a size"},
      {"log_level: loud\n", "f.yaml:1:12: log_level: expected trace, debug"},
      {"listen:\n  tcp: a:1\n  tcp: b:2\n", "f.yaml:3:3: listen.tcp: duplicate key"},
      {"- a\n- b\n", "f.yaml:1:1: the top level must be a mapping"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    AgentConfig config;
    auto s = LoadConfigText(c.text, "f.yaml", &config);
    REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()).find(c.error) != std::string::npos);
  }
}

TEST_CASE("good values of each checked kind are accepted", "[unit]") {
  AgentConfig c;
  const char* text = R"(listen:
  socket: /run/zlayer/agentd.sock
  socket_group: "0"
  tcp: "[::1]:7443"
oci:
  runtime: crun
registries:
  insecure: [reg.local, "reg.local:5000", "[fd00::1]:5000"]
limits:
  queue_stall_timeout: 1h30m
  shutdown_grace: 0s
)";
  auto s = LoadConfigText(text, "f.yaml", &c);
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(c.socket_group == "0");
  CHECK(c.tcp_address == "[::1]:7443");
  CHECK(c.backend_config.oci_runtime == "crun");
  CHECK(c.backend_config.registries.insecure.size() == 3);
  CHECK(c.queue_stall_timeout == absl::Minutes(90));
  CHECK(c.shutdown_grace == absl::ZeroDuration());
}

TEST_CASE("the effective config prints as YAML that reads back identically", "[unit]") {
  AgentConfig c;
  REQUIRE(LoadConfigText("listen:\n  socket_mode: \"0600\"\n  tcp: 127.0.0.1:0\n"
                         "registries:\n  insecure: [a.local]\n  ca_file: /etc/ca.pem\n"
                         "limits:\n  queue_stall_timeout: 2m\n",
                         "f.yaml", &c)
              .ok());
  const std::string yaml = zlayer::agentd::ConfigToYaml(c);
  CHECK(yaml.find("socket_mode: \"0600\"") != std::string::npos);
  AgentConfig back;
  auto s = LoadConfigText(yaml, "printed", &back);
  INFO(yaml << s.message());
  REQUIRE(s.ok());
  CHECK(zlayer::agentd::ConfigToYaml(back) == yaml);
  CHECK(zlayer::agentd::RestartRequiredChanges(c, back).empty());
}

TEST_CASE("a reload names the settings that need a restart", "[unit]") {
  AgentConfig before, after;
  after.log_level = "debug";  // live
  CHECK(zlayer::agentd::RestartRequiredChanges(before, after).empty());
  after.work_threads = 2;
  after.backend_config.registries.insecure = {"r:5000"};
  after.socket_mode = 0600;
  CHECK(zlayer::agentd::RestartRequiredChanges(before, after) ==
        std::vector<std::string>{"listen.socket_mode", "registries.insecure",
                                 "limits.work_threads"});
}

TEST_CASE("flags: --check-config is a switch; values are checked as in the file", "[unit]") {
  std::vector<std::string> args = {"zlayer-agentd", "--check-config", "--tcp", "[::]:7443",
                                   "--socket-group", "root", "--work-threads", "3"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  AgentConfig c;
  auto r = ParseFlags(static_cast<int>(argv.size()), argv.data(), &c);
  REQUIRE(r.ok());
  CHECK(r->check_config);
  CHECK_FALSE(r->exit);
  CHECK(c.work_threads == 3);
  for (std::vector<std::string> bad :
       {std::vector<std::string>{"zlayer-agentd", "--tcp", "7443"},
        {"zlayer-agentd", "--socket", "rel.sock"},
        {"zlayer-agentd", "--socket-group", "no-such-group-zl"},
        {"zlayer-agentd", "--insecure-registry", "https://r"},
        {"zlayer-agentd", "--runtime", "./runc"},
        {"zlayer-agentd", "--work-threads", "0"},
        {"zlayer-agentd", "--run-dir", "run"}}) {
    std::vector<char*> v;
    for (auto& a : bad) v.push_back(a.data());
    AgentConfig fresh;
    INFO(bad[1]);
    CHECK(ParseFlags(static_cast<int>(v.size()), v.data(), &fresh).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("container_auth: present turns it on; URL and secret file are required", "[unit]") {
  AgentConfig c;
  REQUIRE(LoadConfigText("container_auth:\n  api_url: http://127.0.0.1:3669\n"
                         "  jwt_secret_file: /etc/zlayer/jwt\n  socket_path: /run/zl/api.sock\n"
                         "  token_ttl: 2h\n",
                         "a.yaml", &c)
              .ok());
  const auto& a = c.backend_config.container_auth;
  CHECK(a.enabled);
  CHECK(a.api_url == "http://127.0.0.1:3669");
  CHECK(a.jwt_secret_file == "/etc/zlayer/jwt");
  CHECK(a.socket_path == "/run/zl/api.sock");
  CHECK(a.token_ttl == absl::Hours(2));
  // Printed with the secret's path only, and read back the same.
  const std::string yaml = zlayer::agentd::ConfigToYaml(c);
  CHECK(yaml.find("jwt_secret_file: /etc/zlayer/jwt") != std::string::npos);
  AgentConfig back;
  REQUIRE(LoadConfigText(yaml, "printed", &back).ok());
  CHECK(zlayer::agentd::RestartRequiredChanges(c, back).empty());
  CHECK(zlayer::agentd::RestartRequiredChanges(AgentConfig{}, c) ==
        std::vector<std::string>{"container_auth"});

  AgentConfig off;
  CHECK_FALSE(off.backend_config.container_auth.enabled);

  AgentConfig bad;
  auto s = LoadConfigText("container_auth:\n  api_url: 127.0.0.1:3669\n  token_ttl: 5s\n",
                          "b.yaml", &bad);
  INFO(s.message());
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message().find("b.yaml:2:12: container_auth.api_url: expected an http:// or https:// "
                         "URL") != std::string::npos);
  CHECK(s.message().find("b.yaml:3:14: container_auth.token_ttl:") != std::string::npos);
  CHECK(s.message().find("b.yaml:2:3: container_auth: missing jwt_secret_file") !=
        std::string::npos);
  CHECK_FALSE(bad.backend_config.container_auth.enabled);
}

TEST_CASE("oci.init_process and init_path: off by default, from the file and flags", "[unit]") {
  AgentConfig c;
  CHECK_FALSE(c.backend_config.init_process);
  CHECK(c.backend_config.init_path.empty());
  REQUIRE(LoadConfigText("oci:\n  init_process: true\n  init_path: /opt/tini-static\n", "i.yaml",
                         &c)
              .ok());
  CHECK(c.backend_config.init_process);
  CHECK(c.backend_config.init_path == "/opt/tini-static");
  // Printed, read back the same; a change needs a restart.
  const std::string yaml = zlayer::agentd::ConfigToYaml(c);
  CHECK(yaml.find("init_process: true") != std::string::npos);
  AgentConfig back;
  REQUIRE(LoadConfigText(yaml, "printed", &back).ok());
  CHECK(back.backend_config.init_path == "/opt/tini-static");
  CHECK(zlayer::agentd::RestartRequiredChanges(c, back).empty());
  CHECK(zlayer::agentd::RestartRequiredChanges(AgentConfig{}, c) ==
        std::vector<std::string>{"oci.init_process", "oci.init_path"});

  auto bad = LoadConfigText("oci:\n  init_process: maybe\n  init_path: tini\n", "b.yaml", &c);
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(bad.message(), "b.yaml:2:17: oci.init_process: expected true or false"));
  CHECK(absl::StrContains(bad.message(), "b.yaml:3:14: oci.init_path: expected an absolute path"));

  // --init-process is a switch (its value only after '='), so the next argument
  // stays an argument of its own.
  std::vector<std::string> args = {"zlayer-agentd", "--init-process", "--init-path",
                                   "/usr/bin/tini-static"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  AgentConfig f;
  REQUIRE(ParseFlags(static_cast<int>(argv.size()), argv.data(), &f).ok());
  CHECK(f.backend_config.init_process);
  CHECK(f.backend_config.init_path == "/usr/bin/tini-static");
  std::vector<std::string> off_args = {"zlayer-agentd", "--init-process=false"};
  std::vector<char*> off_argv;
  for (auto& a : off_args) off_argv.push_back(a.data());
  REQUIRE(ParseFlags(static_cast<int>(off_argv.size()), off_argv.data(), &f).ok());
  CHECK_FALSE(f.backend_config.init_process);
  for (std::vector<std::string> bad_flags :
       {std::vector<std::string>{"zlayer-agentd", "--init-process=yes"},
        {"zlayer-agentd", "--init-process="},
        {"zlayer-agentd", "--init-path", "tini"},
        {"zlayer-agentd", "--init-path"}}) {
    std::vector<char*> v;
    for (auto& a : bad_flags) v.push_back(a.data());
    AgentConfig fresh;
    INFO(bad_flags[1]);
    CHECK(ParseFlags(static_cast<int>(v.size()), v.data(), &fresh).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
  const std::string usage = zlayer::agentd::UsageText();
  CHECK(usage.find("--init-process ") != std::string::npos);
  CHECK(usage.find("--init-path PATH") != std::string::npos);
}
