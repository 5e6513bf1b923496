#include "oci_env.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/process.h"
#include "cgroups/layout.h"
#include "oci_builder.h"
#include "support/test_support.h"

namespace zlayer::testing {

using images::testing::TarEntry;

namespace {

std::string ReadBinary(const std::string& path) {
  auto data = base::ReadFile(path);
  if (!data.ok()) throw std::runtime_error("cannot read " + path);
  return *data;
}

// busybox with a relative link per applet (absolute links would point at the
// host's merged /usr), a passwd with a non-root user, and the cgroup test hog.
images::testing::BuiltImage BusyboxImage() {
  std::vector<TarEntry> entries = {
      TarEntry::Dir("bin"), TarEntry::Dir("etc"), TarEntry::Dir("tmp", 01777),
      TarEntry::Dir("root", 0700), TarEntry::Dir("home"), TarEntry::Dir("srv"),
      TarEntry::Dir("var"), TarEntry::Dir("var/log"),
      TarEntry::File("bin/busybox", ReadBinary("/bin/busybox"), 0755),
      TarEntry::File("bin/hog", ReadBinary(ZLAYER_CGROUP_HOG), 0755),
      TarEntry::File("etc/passwd",
                     "root:x:0:0:root:/root:/bin/sh\n"
                     "app:x:1000:1000:app user:/home/app:/bin/sh\n"
                     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
      TarEntry::File("etc/group", "root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n"),
  };
  TarEntry home = TarEntry::Dir("home/app");
  home.uid = 1000;
  home.gid = 1000;
  entries.push_back(home);
  base::RunOptions list;
  list.argv = {"/bin/busybox", "--list"};
  auto applets = base::RunCommand(list);
  if (!applets.ok() || !applets->ok()) throw std::runtime_error("busybox --list failed");
  for (absl::string_view a : absl::StrSplit(applets->out, '\n', absl::SkipEmpty())) {
    if (a == "busybox") continue;
    entries.push_back(TarEntry::Symlink(absl::StrCat("bin/", a), "busybox"));
  }
  images::testing::ImageSpec spec;
  spec.cmd = {"/bin/sh"};
  spec.env = {"PATH=/bin", "IMAGE_VAR=from-image"};
  return images::testing::ImageBuilder(spec).Layer(entries).Build();
}

// Built once per test process: it holds the whole of busybox.
const images::testing::BuiltImage& TestImage() {
  static const images::testing::BuiltImage* image = new auto(BusyboxImage());
  return *image;
}

}  // namespace

bool CanRunContainers() {
  return IsRoot() && base::FindExecutable("runc").ok();
}

OciEnv::OciEnv(std::vector<std::string> agent_args, std::string netns)
    : root_(MakeTempDir("zt-oci-")),
      agent_args_(std::move(agent_args)),
      netns_(std::move(netns)),
      cgroup_parent_(absl::StrCat("/zlayer-test-", ::getpid())) {
  registry_ = std::make_unique<images::testing::TestRegistry>();
  const images::testing::BuiltImage* image = &TestImage();
  auto pushed = images::testing::PushImage(registry_->pusher(), "test/busybox", "latest", *image);
  if (!pushed.ok()) throw std::runtime_error(std::string(pushed.message()));
  image_ = absl::StrCat(registry_->host(), "/test/busybox:latest");
  StartAgent();
  if (!netns_.empty()) ImportTestImage();
}

void OciEnv::ImportTestImage() {
  const images::testing::BuiltImage* image = &TestImage();
  const std::string archive = images::testing::OciLayoutTar({{image, "latest"}});
  image_ = "local/test-busybox:latest";
  auto ctx = Ctx(absl::Seconds(120));
  pb::ImportImageResponse response;
  auto writer = stub_->ImportImage(ctx.get(), &response);
  for (size_t offset = 0; offset < archive.size(); offset += 256 << 10) {
    pb::ImportImageRequest chunk;
    if (offset == 0) chunk.set_reference(image_);
    chunk.set_chunk(archive.substr(offset, 256 << 10));
    if (!writer->Write(chunk)) break;
  }
  writer->WritesDone();
  auto status = writer->Finish();
  if (!status.ok()) throw std::runtime_error("import of the test image: " + status.error_message());
}

void OciEnv::StartAgent() {
  AgentOptions options;
  options.backend = "oci";
  options.root = root_.path();
  // Containers of different test processes must not share a cgroup parent.
  options.extra_args = {"--cgroup-parent", cgroup_parent_};
  bool network_named = false;
  for (const auto& a : agent_args_) {
    options.extra_args.push_back(a);
    network_named = network_named || a == "--network";
  }
  if (!network_named) options.extra_args.insert(options.extra_args.end(), {"--network", "none"});
  options.netns = netns_;
  options.ready_timeout = absl::Seconds(60);
  agent_ = std::make_unique<AgentProcess>(options);
  stub_ = agent_->Stub();
}

void OciEnv::RestartAgent(bool crash) {
  if (crash) {
    agent_->Kill();
  } else {
    agent_->Stop();
  }
  stub_.reset();
  agent_.reset();
  StartAgent();
}

OciEnv::~OciEnv() {
  if (agent_ && stub_) {
    pb::ListContainersRequest req;
    pb::ListContainersResponse resp;
    if (stub_->ListContainers(Ctx().get(), req, &resp).ok()) {
      for (const auto& c : resp.containers()) {
        pb::RemoveContainerRequest r;
        *r.mutable_id() = c.id();
        r.set_force(true);
        pb::RemoveContainerResponse out;
        (void)stub_->RemoveContainer(Ctx(absl::Seconds(30)).get(), r, &out);
      }
    }
    agent_->Stop();
  }
  RemoveCgroups();
}

void OciEnv::RemoveCgroups() {
  // The agent leaves its (empty) cgroup parent behind, as it should; a test must not.
  auto layout = cgroups::HostLayout::Detect();
  if (!layout.ok()) return;
  for (const auto& m : layout->mounts()) {
    const std::string parent = m.mount_point + cgroup_parent_;
    ::rmdir((parent + "/monitors").c_str());
    ::rmdir(parent.c_str());
  }
}

pb::ServiceSpec OciEnv::Hog(const std::vector<std::string>& args) const {
  pb::ServiceSpec spec;
  spec.mutable_image()->set_name(image_);
  spec.mutable_command()->add_entrypoint("/bin/hog");
  for (const auto& a : args) spec.mutable_command()->add_args(a);
  return spec;
}

void OciEnv::AwaitReady(const pb::ContainerId& id) {
  const std::string ready = absl::StrCat(agent_->root(), "/data/containers/", id.service(), "-rep-",
                                         id.replica(), "/rootfs/ready");
  REQUIRE(WaitFor([&] { return ::access(ready.c_str(), F_OK) == 0; }, absl::Seconds(30)));
}

pb::ServiceSpec OciEnv::Shell(const std::string& script) const {
  pb::ServiceSpec spec;
  spec.mutable_image()->set_name(image_);
  spec.mutable_command()->add_entrypoint("/bin/sh");
  spec.mutable_command()->add_args("-c");
  spec.mutable_command()->add_args(script);
  return spec;
}

pb::ContainerId OciEnv::Create(const std::string& service, uint32_t replica, pb::ServiceSpec spec) {
  pb::CreateContainerRequest req;
  req.mutable_id()->set_service(service);
  req.mutable_id()->set_replica(replica);
  *req.mutable_spec() = std::move(spec);
  req.set_deployment("tests");
  pb::CreateContainerResponse resp;
  auto s = stub_->CreateContainer(Ctx(absl::Seconds(60)).get(), req, &resp);
  INFO(s.error_message() << "\n" << agent_->Log());
  REQUIRE(s.ok());
  return req.id();
}

void OciEnv::Start(const pb::ContainerId& id) {
  pb::StartContainerRequest req;
  *req.mutable_id() = id;
  pb::StartContainerResponse resp;
  auto s = stub_->StartContainer(Ctx(absl::Seconds(60)).get(), req, &resp);
  INFO(s.error_message() << "\n" << agent_->Log());
  REQUIRE(s.ok());
}

pb::ContainerState OciEnv::State(const pb::ContainerId& id) {
  pb::GetContainerStateRequest req;
  *req.mutable_id() = id;
  pb::GetContainerStateResponse resp;
  auto s = stub_->GetContainerState(Ctx().get(), req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp.state();
}

pb::ContainerInfo OciEnv::Inspect(const pb::ContainerId& id) {
  pb::InspectContainerRequest req;
  *req.mutable_id() = id;
  pb::ContainerInfo info;
  auto s = stub_->InspectContainer(Ctx().get(), req, &info);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return info;
}

pb::WaitOutcome OciEnv::WaitOutcome(const pb::ContainerId& id, absl::Duration timeout) {
  pb::WaitRequest req;
  *req.mutable_id() = id;
  auto ctx = Ctx(timeout);
  auto reader = stub_->Wait(ctx.get(), req);
  pb::WaitEvent ev;
  pb::WaitOutcome outcome;
  bool got = false;
  while (reader->Read(&ev)) {
    if (ev.has_outcome()) {
      outcome = ev.outcome();
      got = true;
    }
  }
  auto s = reader->Finish();
  INFO(s.error_message() << "\n" << agent_->Log());
  REQUIRE(s.ok());
  REQUIRE(got);
  return outcome;
}

pb::ExecResponse OciEnv::Exec(const pb::ContainerId& id, const std::vector<std::string>& cmd) {
  pb::ExecRequest req;
  *req.mutable_id() = id;
  for (const auto& c : cmd) req.add_command(c);
  pb::ExecResponse resp;
  auto s = stub_->Exec(Ctx(absl::Seconds(30)).get(), req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp;
}

std::vector<pb::LogEntry> OciEnv::Logs(const pb::ContainerId& id, uint32_t tail) {
  pb::ContainerLogsRequest req;
  *req.mutable_id() = id;
  req.set_tail(tail);
  auto ctx = Ctx(absl::Seconds(30));
  auto reader = stub_->ContainerLogs(ctx.get(), req);
  std::vector<pb::LogEntry> out;
  pb::LogEntry e;
  while (reader->Read(&e)) out.push_back(e);
  auto s = reader->Finish();
  INFO(s.error_message());
  REQUIRE(s.ok());
  return out;
}

void OciEnv::Remove(const pb::ContainerId& id, bool force) {
  pb::RemoveContainerRequest req;
  *req.mutable_id() = id;
  req.set_force(force);
  pb::RemoveContainerResponse resp;
  auto s = stub_->RemoveContainer(Ctx(absl::Seconds(30)).get(), req, &resp);
  INFO(s.error_message() << "\n" << agent_->Log());
  REQUIRE(s.ok());
}

}  // namespace zlayer::testing
