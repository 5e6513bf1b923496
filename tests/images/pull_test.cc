// Pulls from a real docker-registry on loopback: plain HTTP, policies, indexes,
// parallel and concurrent pulls, a registry dying mid-pull.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "base/fs_util.h"
#include "store_helpers.h"

namespace zlayer::images {
namespace {

using namespace zlayer::images::testing;  // NOLINT
using core::PullPolicy;
using core::PullProgress;
using LayerState = core::PullProgress::LayerState;

BuiltImage MultiLayer(const std::string& marker = "v1") {
  return ImageBuilder()
      .Layer({TarEntry::Dir("etc"), TarEntry::File("etc/base", "base"),
              TarEntry::Dir("a"), TarEntry::File("a/file1", "1"), TarEntry::File("a/file2", "2"),
              TarEntry::Dir("dir"), TarEntry::File("dir/x", "x"), TarEntry::File("dir/y", "y")},
             Compression::kGzip)
      .Layer({TarEntry::File("a/.wh.file1", ""), TarEntry::Dir("dir"),
              TarEntry::File("dir/.wh..wh..opq", ""), TarEntry::File("dir/z", "z")},
             Compression::kZstd)
      .Layer({TarEntry::File("marker", marker)}, Compression::kNone)
      .Build();
}

int CountBlobGets(const TestRegistry& reg, const std::string& digest) {
  auto log = base::ReadFile(reg.dir() + "/registry.log");
  int n = 0;
  for (absl::string_view line : absl::StrSplit(*log, '\n')) {
    if (absl::StrContains(line, "\"GET /v2/") && absl::StrContains(line, "/blobs/" + digest)) ++n;
  }
  return n;
}

TEST_CASE("a multi-layer image pulls over plain HTTP with throttled progress", "[integration]") {
  TestRegistry reg;
  const BuiltImage img = MultiLayer();
  REQUIRE(PushImage(reg.pusher(), "test/multi", "v1", img).ok());
  auto dir = zlayer::testing::MakeTempDir();
  auto store = OpenStore(dir.path());
  const std::string ref = reg.host() + "/test/multi:v1";

  ProgressLog log;
  auto r = store->PullImage(Req(ref), log.fn);
  REQUIRE(r.ok());
  CHECK(r->reference == ref);
  CHECK(r->digest == img.manifest.digest);
  CHECK_FALSE(r->already_present);
  CHECK(r->size_bytes > 0);

  const auto events = log.Snapshot();
  for (const auto& l : img.layers) {
    std::vector<LayerState> states;
    uint64_t last_done = 0;
    for (const auto& e : events) {
      if (e.kind != PullProgress::Kind::kLayer || e.digest != l.digest) continue;
      if (states.empty() || states.back() != e.layer_state) states.push_back(e.layer_state);
      CHECK(e.bytes_total == l.data.size());
      CHECK(e.bytes_done >= (e.layer_state == LayerState::kDownloading ? 0 : last_done));
      last_done = e.bytes_done;
    }
    INFO("layer " << l.digest);
    REQUIRE_FALSE(states.empty());
    CHECK(states.front() == LayerState::kWaiting);
    CHECK(states.back() == LayerState::kDone);
    CHECK(std::find(states.begin(), states.end(), LayerState::kExtracting) != states.end());
    CHECK(last_done == l.data.size());
  }
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().kind == PullProgress::Kind::kStatus);
  bool saw_digest = false;
  for (const auto& e : events) saw_digest |= e.status == "Digest: " + img.manifest.digest;
  CHECK(saw_digest);

  auto resolved = store->Resolve(ref);
  REQUIRE(resolved.ok());
  CHECK(resolved->manifest_digest == img.manifest.digest);
  CHECK(resolved->config_digest == img.config.digest);
  CHECK(resolved->config.cmd == std::vector<std::string>{"/bin/sh"});
  CHECK(resolved->config.exposed_ports == std::vector<std::string>{"80/tcp"});
  REQUIRE(resolved->layer_dirs.size() == 3);
  CHECK(*base::ReadFile(resolved->layer_dirs[0] + "/a/file1") == "1");
  CHECK(*base::ReadFile(resolved->layer_dirs[2] + "/marker") == "v1");
  CHECK(ListDir(dir.path() + "/ingest").empty());
  CHECK(ListDir(dir.path() + "/tmp").empty());

  SECTION("the store reopens with the image in it") {
    store.reset();
    store = OpenStore(dir.path());
    auto again = store->Resolve(ref);
    REQUIRE(again.ok());
    CHECK(again->layer_dirs == resolved->layer_dirs);
  }
  SECTION("by digest, with a shared store entry") {
    auto d = store->PullImage(Req(reg.host() + "/test/multi@" + img.manifest.digest), nullptr);
    REQUIRE(d.ok());
    CHECK(d->already_present);  // a digest needs no network once here
  }
}

TEST_CASE("pull policies keep their meaning", "[integration]") {
  TestRegistry reg;
  const BuiltImage v1 = MultiLayer("v1");
  REQUIRE(PushImage(reg.pusher(), "test/policy", "latest", v1).ok());
  auto dir = zlayer::testing::MakeTempDir();
  auto store = OpenStore(dir.path());
  const std::string ref = reg.host() + "/test/policy";  // tag defaults to latest

  auto never = store->PullImage(Req(ref, PullPolicy::kNever), nullptr);
  REQUIRE_FALSE(never.ok());
  CHECK(never.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(never.status().message()), Catch::Contains("policy is Never"));

  REQUIRE(store->PullImage(Req(ref), nullptr).ok());
  CHECK(store->PullImage(Req(ref, PullPolicy::kNever), nullptr)->already_present);

  // The tag moves on in the registry.
  const BuiltImage v2 = MultiLayer("v2");
  REQUIRE(PushImage(reg.pusher(), "test/policy", "latest", v2).ok());

  SECTION("IfNotPresent touches no network when the image is here") {
    reg.Kill();
    auto r = store->PullImage(Req(ref, PullPolicy::kIfNotPresent), nullptr);
    REQUIRE(r.ok());
    CHECK(r->already_present);
    CHECK(r->digest == v1.manifest.digest);
  }
  SECTION("Always re-resolves the tag; Prune then removes the old image") {
    ProgressLog log;
    auto r = store->PullImage(Req(ref, PullPolicy::kAlways), log.fn);
    REQUIRE(r.ok());
    CHECK_FALSE(r->already_present);
    CHECK(r->digest == v2.manifest.digest);
    // Only the changed top layer was fetched; the others were already here.
    int existing = 0;
    for (const auto& e : log.Snapshot()) existing += e.layer_state == LayerState::kAlreadyExists;
    CHECK(existing == 2);
    CHECK(CountBlobGets(reg, v2.layers[0].digest) == 1);  // from the first pull only
    auto resolved = store->Resolve(ref);
    REQUIRE(resolved.ok());
    CHECK(*base::ReadFile(resolved->layer_dirs[2] + "/marker") == "v2");

    auto again = store->PullImage(Req(ref, PullPolicy::kAlways), nullptr);
    REQUIRE(again.ok());
    CHECK(again->already_present);  // resolved again, nothing new

    auto pruned = store->PruneImages();
    REQUIRE(pruned.ok());
    CHECK(pruned->deleted ==
          std::vector<std::string>{reg.host() + "/test/policy@" + v1.manifest.digest});
    CHECK(pruned->space_reclaimed > 0);
    CHECK_FALSE(base::ReadFile(dir.path() + "/blobs/sha256/" + v1.layers[2].digest.substr(7)).ok());
    CHECK(store->Resolve(ref).ok());
    auto nothing = store->PruneImages();
    REQUIRE(nothing.ok());
    CHECK(nothing->deleted.empty());
    CHECK(nothing->space_reclaimed == 0);
  }
}

TEST_CASE("multi-arch indexes resolve to the host platform", "[integration]") {
  TestRegistry reg;
  ImageSpec amd;
  amd.architecture = "amd64";
  ImageSpec arm;
  arm.architecture = "arm64";
  arm.variant = "v8";
  const BuiltImage a = ImageBuilder(amd).Layer({TarEntry::File("arch", "amd64")}).Build();
  const BuiltImage b = ImageBuilder(arm).Layer({TarEntry::File("arch", "arm64")}).Build();
  const bool docker = GENERATE(false, true);
  const Blob index = BuildIndex({{&a, amd}, {&b, arm}}, docker);
  for (const auto* img : {&a, &b}) {
    for (const auto& l : img->layers) REQUIRE(PushBlob(reg.pusher(), "test/multiarch", l).ok());
    REQUIRE(PushBlob(reg.pusher(), "test/multiarch", img->config).ok());
    REQUIRE(PushManifest(reg.pusher(), "test/multiarch", img->manifest.digest, img->manifest).ok());
  }
  REQUIRE(PushManifest(reg.pusher(), "test/multiarch", "1.0", index).ok());
  auto dir = zlayer::testing::MakeTempDir();
  const std::string ref = reg.host() + "/test/multiarch:1.0";

  SECTION("the host's") {
    auto store = OpenStore(dir.path());
    auto r = store->PullImage(Req(ref), nullptr);
    REQUIRE(r.ok());
    CHECK(r->digest == index.digest);  // the reference resolved to the index
    auto resolved = store->Resolve(ref);
    REQUIRE(resolved.ok());
    const Platform host = Platform::Host();
    CHECK(*base::ReadFile(resolved->layer_dirs[0] + "/arch") == host.architecture);
    CHECK(resolved->manifest_digest ==
          (host.architecture == "arm64" ? b.manifest.digest : a.manifest.digest));
    auto listed = store->ListImages();
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 1);
    CHECK((*listed)[0].digest == index.digest);
  }
  SECTION("an override, and a clear error when nothing matches") {
    StoreOptions o;
    o.root = dir.path();
    o.platform = Platform{"linux", "arm64", ""};
    auto store = *ImageStore::Open(o);
    REQUIRE(store->PullImage(Req(ref), nullptr).ok());
    CHECK(*base::ReadFile(store->Resolve(ref)->layer_dirs[0] + "/arch") == "arm64");
    store.reset();
    o.platform = Platform{"linux", "s390x", ""};
    store = *ImageStore::Open(o);
    auto none =
        store->PullImage(Req(reg.host() + "/test/multiarch:1.0", PullPolicy::kAlways), nullptr);
    REQUIRE_FALSE(none.ok());
    CHECK(none.status().code() == absl::StatusCode::kNotFound);
    CHECK_THAT(std::string(none.status().message()),
               Catch::Contains("linux/s390x") && Catch::Contains("linux/amd64") &&
                   Catch::Contains("linux/arm64/v8"));
  }
}

TEST_CASE("missing images and bad references fail clearly", "[integration]") {
  TestRegistry reg;
  auto dir = zlayer::testing::MakeTempDir();
  auto store = OpenStore(dir.path());
  auto missing = store->PullImage(Req(reg.host() + "/no/such:tag"), nullptr);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("MANIFEST_UNKNOWN") ||
                                                          Catch::Contains("NAME_UNKNOWN"));
  auto bad = store->PullImage(Req("Bad/Name"), nullptr);
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  // Nothing listening: a transport error is UNAVAILABLE.
  auto down = store->PullImage(Req(absl::StrCat("127.0.0.1:", FreePort(), "/x:y")), nullptr);
  CHECK(down.status().code() == absl::StatusCode::kUnavailable);
  CHECK(store->ListImages()->empty());
}

TEST_CASE("layers download in parallel, bounded", "[integration]") {
  TestRegistry reg;
  ImageBuilder b;
  for (uint32_t i = 0; i < 4; ++i) {
    b.Layer({TarEntry::File(absl::StrCat("f", i), RandomBytes(256 << 10, i))}, Compression::kGzip);
  }
  const BuiltImage img = b.Build();
  REQUIRE(PushImage(reg.pusher(), "test/par", "v1", img).ok());
  const int limit = GENERATE(1, 3);
  auto dir = zlayer::testing::MakeTempDir();
  images::RegistryConfig rc;
  rc.max_parallel_downloads = limit;
  // 1 MiB/s per download: each layer takes ~250 ms, long enough to overlap.
  auto store = OpenStore(dir.path(), rc, 1 << 20);
  // Each download's span, from its first byte requested to its digest verified.
  absl::Mutex mu;
  std::map<std::string, std::pair<absl::Time, absl::Time>> spans;
  ProgressFn fn = [&](const PullProgress& p) {
    if (p.kind != PullProgress::Kind::kLayer) return;
    absl::MutexLock l(&mu);
    if (p.layer_state == LayerState::kDownloading && !spans.count(p.digest)) {
      spans[p.digest] = {absl::Now(), absl::InfiniteFuture()};
    } else if (p.layer_state == LayerState::kVerified) {
      spans[p.digest].second = absl::Now();
    }
  };
  REQUIRE(store->PullImage(Req(reg.host() + "/test/par:v1"), fn).ok());
  absl::MutexLock l(&mu);
  REQUIRE(spans.size() == 4);
  size_t max_overlap = 0;
  for (const auto& [d, s] : spans) {
    size_t overlap = 0;  // spans running at the moment this one started
    for (const auto& [d2, s2] : spans) overlap += s2.first <= s.first && s.first < s2.second;
    max_overlap = std::max(max_overlap, overlap);
  }
  if (limit == 1) {
    CHECK(max_overlap == 1);
  } else {
    CHECK(max_overlap >= 2);
    CHECK(max_overlap <= 3);
  }
}

TEST_CASE("concurrent pulls of one image share one download", "[integration]") {
  TestRegistry reg;
  const BuiltImage img = ImageBuilder()
                             .Layer({TarEntry::File("big", RandomBytes(512 << 10, 7))})
                             .Layer({TarEntry::File("small", "s")})
                             .Build();
  REQUIRE(PushImage(reg.pusher(), "test/shared", "v1", img).ok());
  auto dir = zlayer::testing::MakeTempDir();
  auto store = OpenStore(dir.path(), {}, 2 << 20);  // ~250 ms for the big layer
  const std::string ref = reg.host() + "/test/shared:v1";
  constexpr int kPullers = 4;
  std::vector<absl::StatusOr<core::PullResult>> results(kPullers, absl::UnknownError("not run"));
  std::vector<ProgressLog> logs(kPullers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPullers; ++i) {
    threads.emplace_back([&, i] { results[i] = store->PullImage(Req(ref), logs[i].fn); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kPullers; ++i) {
    INFO("puller " << i);
    REQUIRE(results[i].ok());
    CHECK(results[i]->digest == img.manifest.digest);
    CHECK_FALSE(logs[i].Snapshot().empty());  // each saw progress
  }
  for (const auto& l : img.layers) CHECK(CountBlobGets(reg, l.digest) == 1);
}

TEST_CASE("a registry dying mid-pull fails cleanly and stores nothing", "[integration]") {
  TestRegistry reg;
  const BuiltImage img = ImageBuilder()
                             .Layer({TarEntry::File("a", "a")})
                             .Layer({TarEntry::File("big", RandomBytes(32 << 20, 3))})
                             .Build();
  REQUIRE(PushImage(reg.pusher(), "test/dies", "v1", img).ok());
  auto dir = zlayer::testing::MakeTempDir();
  // 16 MiB/s: 2 s for the big layer, far more than the socket buffers can hold
  // once the registry is gone.
  auto store = OpenStore(dir.path(), {}, 16 << 20);
  absl::Notification halfway;
  ProgressFn fn = [&](const PullProgress& p) {
    if (p.digest == img.layers[1].digest && p.bytes_done > (512 << 10) &&
        !halfway.HasBeenNotified()) {
      halfway.Notify();
    }
  };
  absl::StatusOr<core::PullResult> result = absl::UnknownError("not run");
  std::thread puller([&] { result = store->PullImage(Req(reg.host() + "/test/dies:v1"), fn); });
  REQUIRE(halfway.WaitForNotificationWithTimeout(absl::Seconds(20)));
  reg.Kill();
  puller.join();
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kUnavailable);
  CHECK(store->ListImages()->empty());
  CHECK(ListDir(dir.path() + "/blobs/sha256").empty());
  CHECK(ListDir(dir.path() + "/snapshots").empty());
  CHECK(ListDir(dir.path() + "/ingest").empty());
  CHECK(ListDir(dir.path() + "/tmp").empty());
  CHECK(store->Resolve(reg.host() + "/test/dies:v1").status().code() ==
        absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace zlayer::images

namespace zlayer::images {
namespace {

TEST_CASE("a download cut short resumes where it stopped", "[integration]") {
  TestRegistry reg;
  const BuiltImage img =
      ImageBuilder().Layer({TarEntry::File("big", RandomBytes(32 << 20, 5))}).Build();
  REQUIRE(PushImage(reg.pusher(), "test/resume", "v1", img).ok());
  auto dir = zlayer::testing::MakeTempDir();
  StoreOptions o;
  o.root = dir.path();
  o.max_download_bytes_per_sec = 16 << 20;
  o.blob_attempts = 6;  // backoff 0.2 + 0.4 + 0.8 + 1.6 + 3.2 s: time to restart
  auto store = *ImageStore::Open(o);
  absl::Notification halfway;
  ProgressFn fn = [&](const PullProgress& p) {
    if (p.bytes_done > (8 << 20) && !halfway.HasBeenNotified()) halfway.Notify();
  };
  absl::StatusOr<core::PullResult> result = absl::UnknownError("not run");
  std::thread puller([&] { result = store->PullImage(Req(reg.host() + "/test/resume:v1"), fn); });
  REQUIRE(halfway.WaitForNotificationWithTimeout(absl::Seconds(20)));
  reg.Restart();
  puller.join();
  REQUIRE(result.ok());
  CHECK(result->digest == img.manifest.digest);
  auto log = base::ReadFile(reg.dir() + "/registry.log");
  CHECK_THAT(*log, Catch::Contains("/blobs/" + img.layers[0].digest + " HTTP/1.1\" 206"));
  CHECK(*base::ReadFile(store->Resolve(reg.host() + "/test/resume:v1")->layer_dirs[0] + "/big") ==
        RandomBytes(32 << 20, 5));
}

}  // namespace
}  // namespace zlayer::images
