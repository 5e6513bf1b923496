// The image RPCs of the OCI agent against a real loopback registry: pull with
// progress, policies, list, tag, remove, prune, import.
#include <catch2/catch.hpp>

#include <random>

#include "oci_builder.h"
#include "oci_env.h"
#include "support/test_support.h"

using namespace zlayer::testing;
using zlayer::images::testing::TarEntry;
namespace pb = zlayer::agent::v1;

namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

// Three layers of incompressible data, so progress has something to count.
zlayer::images::testing::BuiltImage MultiLayer() {
  zlayer::images::testing::ImageBuilder b;
  for (uint32_t i = 0; i < 3; ++i) {
    b.Layer({TarEntry::Dir("data"),
             TarEntry::File("data/blob" + std::to_string(i), RandomBytes(2 << 20, i + 1))});
  }
  return b.Build();
}

struct Pulled {
  std::vector<pb::PullImageEvent> events;
  grpc::Status status;
};

Pulled Pull(OciEnv& env, const std::string& image, pb::PullPolicy policy) {
  pb::PullImageRequest req;
  req.set_image(image);
  req.set_policy(policy);
  auto ctx = Ctx(absl::Seconds(120));
  auto reader = env.stub().PullImage(ctx.get(), req);
  Pulled p;
  pb::PullImageEvent ev;
  while (reader->Read(&ev)) p.events.push_back(ev);
  p.status = reader->Finish();
  return p;
}

std::vector<pb::ImageInfo> List(OciEnv& env) {
  pb::ListImagesRequest req;
  pb::ListImagesResponse resp;
  REQUIRE(env.stub().ListImages(Ctx().get(), req, &resp).ok());
  return {resp.images().begin(), resp.images().end()};
}

}  // namespace

TEST_CASE("PullImage streams per-layer progress, then the digest", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const auto image = MultiLayer();
  REQUIRE(PushImage(env.registry().pusher(), "test/multi", "1", image).ok());
  const std::string ref = env.registry().host() + "/test/multi:1";

  auto p = Pull(env, ref, pb::PULL_POLICY_ALWAYS);
  INFO(p.status.error_message());
  REQUIRE(p.status.ok());
  REQUIRE_FALSE(p.events.empty());
  REQUIRE(p.events.back().has_done());
  const auto& done = p.events.back().done();
  CHECK(done.digest() == image.manifest.digest);
  CHECK(done.reference() == ref);
  CHECK_FALSE(done.already_present());
  // Every layer was reported, with its size, and finished.
  for (const auto& layer : image.layers) {
    bool seen_total = false, finished = false;
    for (const auto& ev : p.events) {
      if (!ev.has_layer() || ev.layer().digest() != layer.digest) continue;
      if (ev.layer().bytes_total() == layer.data.size()) seen_total = true;
      if (ev.layer().bytes_done() == layer.data.size() ||
          ev.layer().status() == pb::LAYER_STATUS_DONE) {
        finished = true;
      }
    }
    CHECK(seen_total);
    CHECK(finished);
  }
  for (size_t i = 0; i + 1 < p.events.size(); ++i) CHECK_FALSE(p.events[i].has_done());

  SECTION("IF_NOT_PRESENT touches no network once the image is here") {
    env.registry().Kill();
    auto again = Pull(env, ref, pb::PULL_POLICY_IF_NOT_PRESENT);
    INFO(again.status.error_message());
    REQUIRE(again.status.ok());
    CHECK(again.events.back().done().already_present());
    CHECK(again.events.back().done().digest() == image.manifest.digest);
    SECTION("ALWAYS needs the registry") {
      auto always = Pull(env, ref, pb::PULL_POLICY_ALWAYS);
      CHECK(always.status.error_code() == grpc::StatusCode::UNAVAILABLE);
    }
  }
  SECTION("NEVER fails clearly for an absent image") {
    auto never = Pull(env, env.registry().host() + "/test/absent:1", pb::PULL_POLICY_NEVER);
    CHECK(never.status.error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK(never.status.error_message().find("absent") != std::string::npos);
  }
  SECTION("a bad reference is INVALID_ARGUMENT") {
    auto bad = Pull(env, "UPPER/case::bad", pb::PULL_POLICY_ALWAYS);
    CHECK(bad.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_CASE("list, tag, remove (refused while in use), prune", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  const std::string ref = env.image();
  REQUIRE(Pull(env, ref, pb::PULL_POLICY_IF_NOT_PRESENT).status.ok());
  auto images = List(env);
  REQUIRE(images.size() == 1);
  CHECK(images[0].reference() == ref);
  CHECK(images[0].has_digest());
  CHECK(images[0].size_bytes() > 0);

  const std::string tagged = env.registry().host() + "/test/busybox:tagged";
  {
    pb::TagImageRequest req;
    req.set_source(ref);
    req.set_target(tagged);
    pb::TagImageResponse resp;
    REQUIRE(env.stub().TagImage(Ctx().get(), req, &resp).ok());
    req.set_source(env.registry().host() + "/test/nope:1");
    CHECK(env.stub().TagImage(Ctx().get(), req, &resp).error_code() == grpc::StatusCode::NOT_FOUND);
  }
  CHECK(List(env).size() == 2);

  const auto id = env.Create("user", 1, env.Shell("sleep 600"));
  {
    pb::RemoveImageRequest req;
    req.set_image(ref);
    pb::RemoveImageResponse resp;
    auto s = env.stub().RemoveImage(Ctx().get(), req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    // The tag goes; the content stays while the container needs it.
    req.set_image(tagged);
    req.set_force(true);
    CHECK(env.stub().RemoveImage(Ctx().get(), req, &resp).ok());
  }
  env.Remove(id);
  {
    pb::RemoveImageRequest req;
    req.set_image(ref);
    pb::RemoveImageResponse resp;
    REQUIRE(env.stub().RemoveImage(Ctx().get(), req, &resp).ok());
  }
  CHECK(List(env).empty());
  pb::PruneImagesRequest req;
  pb::PruneImagesResponse resp;
  REQUIRE(env.stub().PruneImages(Ctx().get(), req, &resp).ok());
}

TEST_CASE("ImportImage takes an OCI layout archive streamed by the client", "[root][oci]") {
  SKIP_UNLESS_CONTAINERS();
  OciEnv env;
  zlayer::images::testing::ImageBuilder b;
  b.Layer({TarEntry::Dir("bin"), TarEntry::File("bin/busybox", *zlayer::base::ReadFile("/bin/busybox"), 0755),
           TarEntry::Symlink("bin/sh", "busybox"), TarEntry::Symlink("bin/echo", "busybox")});
  const auto image = b.Build();
  const std::string archive = zlayer::images::testing::OciLayoutTar({{&image, "v1"}});

  auto ctx = Ctx(absl::Seconds(60));
  pb::ImportImageResponse resp;
  auto writer = env.stub().ImportImage(ctx.get(), &resp);
  for (size_t off = 0; off < archive.size(); off += 64 << 10) {
    pb::ImportImageRequest chunk;
    if (off == 0) chunk.set_reference("local/imported:v1");
    chunk.set_chunk(archive.substr(off, 64 << 10));
    REQUIRE(writer->Write(chunk));
  }
  writer->WritesDone();
  auto s = writer->Finish();
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(resp.digest() == image.manifest.digest);

  pb::ServiceSpec spec;
  spec.mutable_image()->set_name("local/imported:v1");
  spec.mutable_image()->set_pull_policy(pb::PULL_POLICY_NEVER);
  spec.mutable_command()->add_entrypoint("/bin/echo");
  spec.mutable_command()->add_args("imported");
  const auto id = env.Create("imported", 1, spec);
  env.Start(id);
  CHECK(env.WaitOutcome(id).exit_code() == 0);
  auto logs = env.Logs(id);
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].message() == "imported");
}
