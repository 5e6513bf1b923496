#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "base/fs_util.h"
#include "network/cni_config.h"
#include "network/cni_plugin.h"
#include "network/dns_files.h"
#include "network/network.h"
#include "support/test_support.h"

using namespace zlayer;
using network::CniConfigSet;

namespace {

network::NetworkConfig ConfigIn(const std::string& dir) {
  network::NetworkConfig config;
  config.cni_config_dir = dir;
  config.run_dir = "/run/zt-unused";
  return config;
}

void Write(const std::string& path, const std::string& text) {
  REQUIRE(base::WriteFileAtomic(path, text, 0644).ok());
}

}  // namespace

TEST_CASE("without config files the embedded default network is used", "[network]") {
  auto dir = testing::MakeTempDir();
  auto set = CniConfigSet::Load(ConfigIn(dir.path()));
  auto list = set.Find("bridge");
  REQUIRE(list.ok());
  CHECK(list->source == "the embedded default network");
  const auto& plugins = list->list["plugins"];
  REQUIRE(plugins.size() == 2);
  CHECK(plugins[0]["type"] == "bridge");
  CHECK(plugins[0]["bridge"] == "zlayer0");
  CHECK(plugins[0]["ipam"]["type"] == "host-local");
  CHECK(plugins[0]["ipam"]["ranges"][0][0]["subnet"] == "10.89.0.0/24");
  // Leases live under the run dir, so a reboot frees them with the namespaces.
  CHECK(plugins[0]["ipam"]["dataDir"] == "/run/zt-unused/cni/networks");
  CHECK(plugins[1]["type"] == "portmap");
  CHECK(plugins[1]["capabilities"]["portMappings"] == true);
}

TEST_CASE("config lists are read from the directory; the first is the default", "[network]") {
  auto dir = testing::MakeTempDir();
  Write(dir.path() + "/10-front.conflist",
        R"({"cniVersion":"1.0.0","name":"front","plugins":[{"type":"bridge"}]})");
  Write(dir.path() + "/20-back.conf", R"({"cniVersion":"0.4.0","name":"back","type":"ptp"})");
  Write(dir.path() + "/README", "not a config");
  auto set = CniConfigSet::Load(ConfigIn(dir.path()));
  auto front = set.Find("bridge");
  REQUIRE(front.ok());
  CHECK(front->name == "front");
  auto back = set.Find("back");
  REQUIRE(back.ok());
  CHECK(back->list["plugins"][0]["type"] == "ptp");
  CHECK(back->list["cniVersion"] == "0.4.0");
  auto unknown = set.Find("nowhere");
  CHECK(unknown.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(unknown.status().message(), "nowhere"));
  CHECK(absl::StrContains(unknown.status().message(), "front"));
}

TEST_CASE("a broken config file is named by the lookups it could have answered", "[network]") {
  auto dir = testing::MakeTempDir();
  Write(dir.path() + "/05-broken.conflist", R"({"name": "half)");
  Write(dir.path() + "/10-ok.conflist",
        R"({"cniVersion":"1.0.0","name":"ok","plugins":[{"type":"bridge"}]})");
  Write(dir.path() + "/20-noplugins.conflist",
        R"({"cniVersion":"1.0.0","name":"empty","plugins":[]})");
  auto set = CniConfigSet::Load(ConfigIn(dir.path()));
  // The broken file sorts first: it was meant to be the default.
  auto fallback = set.Find("bridge");
  CHECK(fallback.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(fallback.status().message(), "05-broken.conflist"));
  auto empty = set.Find("empty");
  CHECK(absl::StrContains(empty.status().message(), "20-noplugins.conflist"));
  CHECK(set.Find("ok").ok());
}

TEST_CASE("plugin types are file names inside the plugin directories", "[network]") {
  auto escaped = network::FindPlugin("../../bin/sh", {"/usr/lib/cni"}, "test.conflist");
  CHECK(escaped.status().code() == absl::StatusCode::kInvalidArgument);
  auto missing = network::FindPlugin("no-such-plugin", {"/nonexistent"}, "test.conflist");
  CHECK(missing.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(missing.status().message(), "no-such-plugin"));
  CHECK(absl::StrContains(missing.status().message(), "test.conflist"));
}

TEST_CASE("a container's resolv.conf has no loopback resolver", "[network]") {
  const std::string host =
      "# managed\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nnameserver ::1\n"
      "search example.org\noptions edns0\n";
  const std::string out = network::ContainerResolvConf(host);
  CHECK_FALSE(absl::StrContains(out, "127.0.0.53"));
  CHECK_FALSE(absl::StrContains(out, "::1"));
  CHECK(absl::StrContains(out, "nameserver 192.0.2.1\n"));
  CHECK(absl::StrContains(out, "search example.org\n"));
  CHECK(absl::StrContains(out, "options edns0\n"));
}

TEST_CASE("hosts files list the peers of one deployment on one network", "[network]") {
  auto dir = testing::MakeTempDir();
  network::HostsTable table;
  auto entry = [&](std::string name, std::string service, std::string deployment, std::string ip) {
    return network::HostsTable::Entry{name,     service, deployment,
                                      "bridge", ip,      dir.path() + "/" + name};
  };
  REQUIRE(table.Set(entry("web-rep-1", "web", "shop", "10.89.0.2")).ok());
  struct stat before;
  REQUIRE(::stat((dir.path() + "/web-rep-1").c_str(), &before) == 0);
  REQUIRE(table.Set(entry("web-rep-2", "web", "shop", "10.89.0.3")).ok());
  REQUIRE(table.Set(entry("db-rep-1", "db", "other", "10.89.0.4")).ok());

  const std::string first = *base::ReadFile(dir.path() + "/web-rep-1");
  CHECK(absl::StrContains(first, "10.89.0.2\tweb-rep-1 web\n"));
  CHECK(absl::StrContains(first, "10.89.0.3\tweb-rep-2 web\n"));
  CHECK_FALSE(absl::StrContains(first, "db-rep-1"));  // another deployment
  CHECK(absl::StrContains(first, "127.0.0.1\tlocalhost"));
  // Rewritten in place: a bind mount of the old inode sees the new text.
  struct stat after;
  REQUIRE(::stat((dir.path() + "/web-rep-1").c_str(), &after) == 0);
  CHECK(before.st_ino == after.st_ino);

  table.Remove("web-rep-2");
  CHECK_FALSE(absl::StrContains(*base::ReadFile(dir.path() + "/web-rep-1"), "web-rep-2"));
}

TEST_CASE("an attachment survives its record", "[network]") {
  network::AttachRequest request;
  request.container_id = "web-rep-1";
  request.service = "web";
  request.deployment = "shop";
  request.network = "bridge";
  request.netns_path = "/run/zlayer/netns/web-rep-1";
  request.ports = {{8080, 18080, "tcp", ""}};
  network::Attachment attachment;
  attachment.network = "bridge";
  attachment.ifname = "eth0";
  attachment.ipv4 = "10.89.0.2";
  attachment.gateway = "10.89.0.1";
  attachment.ports = {{8080, 18080, "tcp", ""}};
  attachment.state = R"({"result":{}})";
  network::AttachRequest request_back;
  network::Attachment attachment_back;
  REQUIRE(network::AttachmentFromJson(network::AttachmentToJson(request, attachment), &request_back,
                                      &attachment_back)
              .ok());
  CHECK(request_back.container_id == "web-rep-1");
  CHECK(request_back.deployment == "shop");
  CHECK(request_back.netns_path == request.netns_path);
  REQUIRE(request_back.ports.size() == 1);
  CHECK(request_back.ports[0].host_port == 18080);
  CHECK(attachment_back.ipv4 == "10.89.0.2");
  CHECK(attachment_back.gateway == "10.89.0.1");
  CHECK(attachment_back.state == attachment.state);
  CHECK(network::AttachmentFromJson("{", &request_back, &attachment_back).code() ==
        absl::StatusCode::kDataLoss);
}

TEST_CASE("network modes: none, host, or a network's name", "[network]") {
  CHECK(network::ParseNetworkMode("")->name == "bridge");
  CHECK(network::ParseNetworkMode("none")->kind == network::NetworkMode::Kind::kNone);
  CHECK(network::ParseNetworkMode("host")->kind == network::NetworkMode::Kind::kHost);
  CHECK(network::ParseNetworkMode("backend")->name == "backend");
  CHECK(network::ParseNetworkMode("../etc").status().code() == absl::StatusCode::kInvalidArgument);
}
