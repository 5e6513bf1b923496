#include "support/test_netns.h"

#include <filesystem>
#include <stdexcept>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/process.h"
#include "network/netns.h"
#include "support/test_support.h"

namespace zlayer::testing {

TestNetns::TestNetns() : dir_(MakeTempDir("zt-netns-")), path_(dir_.path() + "/ns") {
  if (auto status = network::CreateNetns(path_); !status.ok()) {
    throw std::runtime_error(std::string(status.message()));
  }
  Run({"/usr/sbin/ip", "link", "set", "lo", "up"});
}

TestNetns::~TestNetns() { (void)network::RemoveNetns(path_); }

int TestNetns::Try(const std::vector<std::string>& argv, std::string* out,
                   int timeout_seconds) const {
  base::RunOptions options;
  options.argv = {"/usr/bin/nsenter", "--net=" + path_, "--"};
  options.argv.insert(options.argv.end(), argv.begin(), argv.end());
  options.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  options.timeout = absl::Seconds(timeout_seconds);
  auto run = base::RunCommand(options);
  if (!run.ok()) {
    *out = std::string(run.status().message());
    return -1;
  }
  *out = run->out + run->err;
  return run->status.code;
}

std::string TestNetns::Run(const std::vector<std::string>& argv, int timeout_seconds) const {
  std::string out;
  if (Try(argv, &out, timeout_seconds) != 0) {
    throw std::runtime_error(absl::StrCat(argv[0], " failed in the test namespace: ", out));
  }
  return out;
}

std::string TestNetns::Get(const std::string& host, uint32_t port) const {
  base::RunOptions options;
  options.argv = {
      "/usr/bin/nsenter",  "--net=" + path_, "--", "/bin/busybox", "nc", "-w", "3", host,
      std::to_string(port)};
  options.stdin_data = "GET / HTTP/1.0\r\n\r\n";
  options.timeout = absl::Seconds(10);
  auto run = base::RunCommand(options);
  if (!run.ok() || !run->ok()) return "";
  return run->out;
}

int TestNetns::CountVeths() const {
  std::string out = Run({"/usr/sbin/ip", "-o", "link", "show", "type", "veth"});
  int count = 0;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    if (!line.empty()) ++count;
  }
  return count;
}

int TestNetns::CountVethsSettled(int expected) const {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int count = CountVeths();
  while (count != expected && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    count = CountVeths();
  }
  return count;
}

int TestNetns::CountContainerRules() const {
  // Every rule CNI adds for one container carries its id in a comment
  // (`id: "<container>"`); the chains left behind on purpose do not.
  std::string out;
  int count = 0;
  for (const char* table : {"nat", "filter"}) {
    if (Try({"/usr/sbin/iptables-save", "-t", table}, &out) != 0) {
      throw std::runtime_error("iptables-save failed: " + out);
    }
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      // A rule naming a container, or a per-container chain (portmap's CNI-DN-*).
      if ((absl::StartsWith(line, "-A") && absl::StrContains(line, "id: \\\"")) ||
          absl::StartsWith(line, ":CNI-DN-")) {
        ++count;
      }
    }
  }
  return count;
}

std::string NetworkAgentConfig(const std::string& dir, const std::string& subnet,
                               const std::string& cni_dir) {
  const std::string config_dir = cni_dir.empty() ? dir + "/no-cni-configs" : cni_dir;
  std::filesystem::create_directories(config_dir);
  const std::string path = dir + "/agentd.yaml";
  const std::string text =
      absl::StrCat("network:\n  default: bridge\n  cni_config_dir: ", config_dir,
                   "\n  bridge: zt0\n  subnet: ", subnet, "\n  masquerade: false\n");
  if (!base::WriteFileAtomic(path, text, 0644).ok()) throw std::runtime_error("write " + path);
  return path;
}

int CountFiles(const std::string& dir) {
  std::error_code ec;
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    (void)entry;
    ++count;
  }
  return count;
}

int CountLeases(const std::string& dir) {
  std::error_code ec;
  int count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name != "lock" && !absl::StartsWith(name, "last_reserved_ip")) {
      ++count;
    }
  }
  return count;
}

}  // namespace zlayer::testing
