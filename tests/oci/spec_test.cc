// What a container sees: its command, env, user, workdir, resources, mounts, and
// the hardening applied by default.
#include <catch2/catch.hpp>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "base/unique_fd.h"
#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

// Runs `script` in a fresh container built from `spec` and returns its stdout.
std::string RunToCompletion(OciEnv& env, const std::string& name, pb::ServiceSpec spec) {
  static int n = 0;
  const auto id = env.Create(name, ++n, std::move(spec));
  env.Start(id);
  auto outcome = env.WaitOutcome(id);
  std::string out;
  for (const auto& e : env.Logs(id)) out += e.message() + "\n";
  INFO(out);
  CHECK(outcome.exit_code() == 0);
  return out;
}

std::string StatusField(const std::string& status, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::StartsWith(line, key + ":")) {
      return std::string(absl::StripAsciiWhitespace(line.substr(key.size() + 1)));
    }
  }
  return "";
}

}  // namespace

TEST_CASE("command, env, user and workdir follow Docker's rules", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  SECTION("the image's CMD runs when the spec gives no command") {
    // The test image's CMD is /bin/sh with stdin at /dev/null: exits 0 at once.
    pb::ServiceSpec spec;
    spec.mutable_image()->set_name(env.image());
    const auto id = env.Create("cmd", 1, spec);
    env.Start(id);
    CHECK(env.WaitOutcome(id).exit_code() == 0);
  }
  SECTION("args alone replace CMD") {
    pb::ServiceSpec spec;
    spec.mutable_image()->set_name(env.image());
    spec.mutable_command()->add_args("/bin/echo");
    spec.mutable_command()->add_args("from args");
    CHECK(RunToCompletion(env, "args", spec) == "from args\n");
  }
  SECTION("env merges image, then spec; user by name; workdir; hostname") {
    auto spec = env.Shell("echo $IMAGE_VAR $SPEC_VAR $HOME; id -u; id -g; id -G; pwd; hostname");
    (*spec.mutable_env())["SPEC_VAR"] = "from-spec";
    spec.set_user("app");
    spec.mutable_command()->set_workdir("/tmp");
    spec.set_hostname("custom-host");
    CHECK(RunToCompletion(env, "env", spec) ==
          "from-image from-spec /home/app\n1000\n1000\n1000 50\n/tmp\ncustom-host\n");
  }
  SECTION("spec env overrides the image's") {
    auto spec = env.Shell("echo $IMAGE_VAR");
    (*spec.mutable_env())["IMAGE_VAR"] = "overridden";
    CHECK(RunToCompletion(env, "override", spec) == "overridden\n");
  }
  SECTION("user:group by name and numbers") {
    auto spec = env.Shell("id -u; id -g");
    spec.set_user("1234:staff");
    CHECK(RunToCompletion(env, "numeric", spec) == "1234\n50\n");
  }
}

TEST_CASE("resources are applied to the container's cgroup", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  auto spec = env.Shell(
      "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
      "cat /sys/fs/cgroup/cpu.max 2>/dev/null || "
      "echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); "
      "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max");
  spec.mutable_resources()->set_memory_bytes(64ull << 20);
  spec.mutable_resources()->set_cpu(0.5);
  spec.mutable_resources()->set_pids_limit(42);
  CHECK(RunToCompletion(env, "res", spec) == "67108864\n50000 100000\n42\n");
}

TEST_CASE("hardening is visible inside the container", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  SECTION("default: 14 capabilities, no_new_privs, masked and read-only paths, few devices") {
    auto out = RunToCompletion(
        env, "hard",
        env.Shell("cat /proc/self/status; echo ---; stat -c %t:%T /proc/keys 2>&1; "
                  "(echo x > /proc/sys/kernel/domainname) 2>/dev/null && echo writable || echo ro; "
                  "ls /dev | tr '\\n' ' '; echo; "
                  "(touch /sys/x) 2>/dev/null && echo sys-writable || echo sys-ro"));
    const std::string status = out.substr(0, out.find("---"));
    CHECK(StatusField(status, "CapEff") == "00000000a80425fb");
    CHECK(StatusField(status, "CapBnd") == "00000000a80425fb");
    CHECK(StatusField(status, "NoNewPrivs") == "1");
    const std::string rest = out.substr(out.find("---") + 4);
    std::vector<std::string> lines = absl::StrSplit(rest, '\n');
    REQUIRE(lines.size() >= 4);
    CHECK(lines[0] == "1:3");  // /proc/keys masked: it is /dev/null (char 1:3)
    CHECK(lines[1] == "ro");  // /proc/sys read-only
    for (const char* dev : {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm"}) {
      CHECK(lines[2].find(dev) != std::string::npos);
    }
    CHECK(lines[2].find("sda") == std::string::npos);
    CHECK(lines[2].find("vda") == std::string::npos);
    CHECK(lines[3] == "sys-ro");
  }
  SECTION("cap add and drop") {
    auto spec = env.Shell("grep CapEff /proc/self/status");
    spec.add_capabilities("net_admin");
    spec.add_cap_drop("CAP_NET_RAW");
    // NET_ADMIN is bit 12, NET_RAW bit 13.
    CHECK(RunToCompletion(env, "caps", spec) == "CapEff:\t00000000a80415fb\n");
  }
  SECTION("a read-only root filesystem") {
    auto spec = env.Shell("touch /x 2>/dev/null && echo rw || echo ro; touch /tmp/x && echo tmp-ok");
    spec.set_read_only_root_fs(true);
    auto* tmp = spec.add_storage();
    tmp->set_type(pb::STORAGE_TYPE_TMPFS);
    tmp->set_target("/tmp");
    tmp->set_size_bytes(1 << 20);
    CHECK(RunToCompletion(env, "rofs", spec) == "ro\ntmp-ok\n");
  }
  SECTION("named volumes persist across containers; bind mounts can be read-only") {
    auto dir = MakeTempDir();
    REQUIRE(zlayer::base::WriteFileAtomic(dir.path() + "/hello", "from host\n").ok());
    auto spec = env.Shell("cat /host/hello; echo data > /vol/file; touch /host/x 2>/dev/null || echo host-ro");
    auto* vol = spec.add_storage();
    vol->set_type(pb::STORAGE_TYPE_NAMED);
    vol->set_source("testvol");
    vol->set_target("/vol");
    auto* bind = spec.add_storage();
    bind->set_type(pb::STORAGE_TYPE_BIND);
    bind->set_source(dir.path());
    bind->set_target("/host");
    bind->set_readonly(true);
    CHECK(RunToCompletion(env, "vols", spec) == "from host\nhost-ro\n");
    auto again = env.Shell("cat /vol/file");
    auto* vol2 = again.add_storage();
    vol2->set_type(pb::STORAGE_TYPE_NAMED);
    vol2->set_source("testvol");
    vol2->set_target("/vol");
    CHECK(RunToCompletion(env, "vols", again) == "data\n");
  }
}

TEST_CASE("container_auth: each container gets the API URL, a signed token and the socket",
          "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  auto dir = zlayer::base::TempDir::Create();
  REQUIRE(dir.ok());
  const std::string secret_file = dir->path() + "/jwt", socket_path = dir->path() + "/api.sock",
                    config_file = dir->path() + "/agentd.yaml";
  REQUIRE(zlayer::base::WriteFileAtomic(secret_file, "e2e-secret\n", 0600).ok());
  // Stands in for the orchestrator's API socket: only its presence matters here.
  zlayer::base::UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener.get(), 4) == 0);
  REQUIRE(zlayer::base::WriteFileAtomic(
              config_file,
              absl::StrCat("container_auth:\n  api_url: http://127.0.0.1:3669\n"
                           "  jwt_secret_file: ", secret_file, "\n  socket_path: ", socket_path,
                           "\n  token_ttl: 1h\n"),
              0644)
              .ok());
  OciEnv env({"--config", config_file});
  const auto out = RunToCompletion(
      env, "auth",
      env.Shell("echo \"url=$ZLAYER_API_URL\"; echo \"token=$ZLAYER_TOKEN\"; "
                "echo \"sock=$ZLAYER_SOCKET\"; test -S \"$ZLAYER_SOCKET\" && echo sock-ok"));
  CHECK(out.find("url=http://127.0.0.1:3669\n") != std::string::npos);
  CHECK(out.find(absl::StrCat("sock=", socket_path, "\n")) != std::string::npos);
  CHECK(out.find("sock-ok") != std::string::npos);
  const auto at = out.find("token=");
  REQUIRE(at != std::string::npos);
  const std::string token = out.substr(at + 6, out.find('\n', at) - at - 6);
  // Checked by an independent implementation: Python's hmac over the signing input.
  zlayer::base::RunOptions verify;
  verify.argv = {"/usr/bin/python3", "-c",
                 "import sys,hmac,hashlib,base64,json\n"
                 "h,c,s=sys.argv[1].split('.')\n"
                 "d=lambda x: base64.urlsafe_b64decode(x+'='*(-len(x)%4))\n"
                 "ok=hmac.compare_digest(d(s),hmac.new(b'e2e-secret',(h+'.'+c).encode(),"
                 "hashlib.sha256).digest())\n"
                 "cl=json.loads(d(c))\n"
                 "print(ok, json.loads(d(h))['alg'], cl['sub'], cl['iss'], cl['exp']-cl['iat'])\n",
                 token};
  auto verified = zlayer::base::RunCommand(verify);
  REQUIRE(verified.ok());
  INFO(verified->err);
  INFO(verified->out);
  CHECK(absl::StartsWith(verified->out, "True HS256 container:auth:auth-rep-"));
  CHECK(absl::EndsWith(verified->out, " zlayer 3600\n"));
}

TEST_CASE("containers do not inherit the agent's OOM protection", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  // As under the shipped unit (OOMScoreAdjust=-500); monitors started from now on
  // inherit it.
  const std::string adj = absl::StrCat("/proc/", env.agent().pid(), "/oom_score_adj");
  {
    FILE* f = std::fopen(adj.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("-500", f);
    if (std::fclose(f) != 0) {
      // Lowering it takes CAP_SYS_RESOURCE, which some sandboxes withhold even from
      // root; tests/host/guest/suite.sh checks the same under systemd.
      WARN("skipped: cannot lower the agent's oom_score_adj here (no CAP_SYS_RESOURCE)");
      return;
    }
  }
  const auto out = RunToCompletion(env, "oomadj", env.Shell("cat /proc/self/oom_score_adj"));
  CHECK(out == "0\n");
}
