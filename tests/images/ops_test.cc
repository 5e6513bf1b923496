// list / remove / prune / tag / import / users on a store fed by a real registry.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "base/unique_fd.h"
#include "store_helpers.h"

namespace zlayer::images {
namespace {

using namespace zlayer::images::testing;  // NOLINT

base::UniqueFd MemFd(const std::string& data) {
  base::UniqueFd fd(::memfd_create("oci-layout", MFD_CLOEXEC));
  REQUIRE(fd);
  REQUIRE(::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  REQUIRE(::lseek(fd.get(), 0, SEEK_SET) == 0);
  return fd;
}

const std::vector<TarEntry> kBase = {TarEntry::Dir("etc"), TarEntry::File("etc/os", "test os")};

TEST_CASE("list, tag, remove and prune images", "[integration]") {
  TestRegistry reg;
  const BuiltImage app = ImageBuilder().Layer(kBase).Layer({TarEntry::File("app", "a")}).Build();
  const BuiltImage web = ImageBuilder().Layer(kBase).Layer({TarEntry::File("web", "w")}).Build();
  REQUIRE(PushImage(reg.pusher(), "test/app", "v1", app).ok());
  REQUIRE(PushImage(reg.pusher(), "test/web", "v1", web).ok());
  auto dir = zlayer::testing::MakeTempDir();
  auto store = OpenStore(dir.path());
  const std::string app_ref = reg.host() + "/test/app:v1";
  const std::string web_ref = reg.host() + "/test/web:v1";
  REQUIRE(store->PullImage(Req(app_ref), nullptr).ok());
  REQUIRE(store->PullImage(Req(web_ref), nullptr).ok());
  CHECK(ListDir(dir.path() + "/snapshots").size() == 3);  // the base layer is shared

  auto listed = store->ListImages();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].reference == app_ref);
  CHECK((*listed)[0].digest == app.manifest.digest);
  CHECK((*listed)[0].size_bytes == std::optional<uint64_t>(8));  // "test os" + "a"
  CHECK((*listed)[0].created_at.has_value());
  CHECK((*listed)[1].reference == web_ref);

  SECTION("tag") {
    const std::string alias = reg.host() + "/test/alias:stable";
    REQUIRE(store->TagImage(app_ref, alias).ok());
    auto r = store->Resolve(alias);
    REQUIRE(r.ok());
    CHECK(r->manifest_digest == app.manifest.digest);
    CHECK(store->TagImage(reg.host() + "/test/none:v1", alias).code() ==
          absl::StatusCode::kNotFound);
    auto no_tag = store->TagImage(app_ref, reg.host() + "/test/alias");
    CHECK(no_tag.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(no_tag.message()), Catch::Contains("full reference with a tag"));
    CHECK(store->TagImage(app_ref, "x/y@sha256:" + std::string(64, 'a')).code() ==
          absl::StatusCode::kInvalidArgument);
    // Removing one name keeps the content the other still names.
    REQUIRE(store->RemoveImage(app_ref, false).ok());
    CHECK(store->Resolve(alias).ok());
    CHECK(store->ListImages()->size() == 2);
  }
  SECTION("remove refuses while a container uses the image, unless forced") {
    REQUIRE(store->AddUser("web-rep-1", app.manifest.digest).ok());
    CHECK(store->AddUser("x", "sha256:" + std::string(64, '0')).code() ==
          absl::StatusCode::kNotFound);
    CHECK((*store->ListImages())[0].containers == 1);
    auto refused = store->RemoveImage(app_ref, false);
    CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(refused.message()), Catch::Contains("used by 1 container"));
    REQUIRE(store->RemoveImage(app_ref, true).ok());
    CHECK(store->ListImages()->size() == 1);
    // The container's layers stay until it lets go.
    auto by_digest = store->Resolve(reg.host() + "/test/app@" + app.manifest.digest);
    REQUIRE(by_digest.ok());
    for (const auto& d : by_digest->layer_dirs) CHECK(ListDir(d).size() > 0);
    auto kept = store->PruneImages();
    REQUIRE(kept.ok());
    CHECK(kept->deleted.empty());
    REQUIRE(store->RemoveUser("web-rep-1").ok());
    REQUIRE(store->RemoveUser("web-rep-1").ok());  // idempotent
    auto pruned = store->PruneImages();
    REQUIRE(pruned.ok());
    CHECK(pruned->deleted ==
          std::vector<std::string>{reg.host() + "/test/app@" + app.manifest.digest});
    CHECK(pruned->space_reclaimed > 0);
    CHECK(ListDir(dir.path() + "/snapshots").size() == 2);  // web's two layers
    CHECK(store->Resolve(web_ref).ok());
  }
  SECTION("remove deletes content nothing else needs") {
    REQUIRE(store->RemoveImage(web_ref, false).ok());
    CHECK(ListDir(dir.path() + "/snapshots").size() == 2);
    CHECK_FALSE(base::ReadFile(dir.path() + "/blobs/sha256/" + web.layers[1].digest.substr(7)).ok());
    CHECK(base::ReadFile(dir.path() + "/blobs/sha256/" + web.layers[0].digest.substr(7)).ok());
    CHECK(store->RemoveImage(web_ref, false).code() == absl::StatusCode::kNotFound);
    CHECK(store->Resolve(web_ref).status().code() == absl::StatusCode::kNotFound);
    REQUIRE(store->RemoveImage(app_ref, false).ok());
    CHECK(ListDir(dir.path() + "/snapshots").empty());
    CHECK(ListDir(dir.path() + "/blobs/sha256").empty());
  }
}

TEST_CASE("prune running during a pull never takes what the pull is using", "[integration]") {
  TestRegistry reg;
  ImageBuilder b;
  for (uint32_t i = 0; i < 4; ++i) {
    b.Layer({TarEntry::File(absl::StrCat("f", i), RandomBytes(512 << 10, 40 + i))});
  }
  const BuiltImage img = b.Build();
  REQUIRE(PushImage(reg.pusher(), "test/race", "v1", img).ok());
  auto dir = zlayer::testing::MakeTempDir();
  images::RegistryConfig rc;
  rc.max_parallel_downloads = 2;
  auto store = OpenStore(dir.path(), rc, 2 << 20);  // about a second in all
  std::atomic<bool> done{false};
  absl::StatusOr<core::PullResult> result = absl::UnknownError("not run");
  std::thread puller([&] {
    result = store->PullImage(Req(reg.host() + "/test/race:v1"), nullptr);
    done = true;
  });
  int prunes = 0;
  for (; !done && prunes < 100000; ++prunes) {
    auto p = store->PruneImages();
    REQUIRE(p.ok());
    CHECK(p->deleted.empty());
  }
  puller.join();
  REQUIRE(result.ok());
  CHECK(prunes > 10);
  auto resolved = store->Resolve(reg.host() + "/test/race:v1");
  REQUIRE(resolved.ok());
  for (uint32_t i = 0; i < 4; ++i) {
    CHECK(*base::ReadFile(absl::StrCat(resolved->layer_dirs[i], "/f", i)) ==
          RandomBytes(512 << 10, 40 + i));
  }
  auto after = store->PruneImages();
  REQUIRE(after.ok());
  CHECK(after->space_reclaimed == 0);
}

TEST_CASE("import an OCI layout archive", "[integration]") {
  const BuiltImage one = ImageBuilder().Layer(kBase).Layer({TarEntry::File("n", "1")}).Build();
  const BuiltImage two = ImageBuilder().Layer(kBase).Layer({TarEntry::File("n", "2")}).Build();
  auto dir = zlayer::testing::MakeTempDir();
  auto store = OpenStore(dir.path());

  SECTION("chosen by the reference's tag") {
    auto fd = MemFd(OciLayoutTar({{&one, "one"}, {&two, "two"}}));
    auto r = store->ImportImage("example.com/imported/app:two", fd.get());
    REQUIRE(r.ok());
    CHECK(r->reference == "example.com/imported/app:two");
    CHECK(r->digest == two.manifest.digest);
    auto resolved = store->Resolve("example.com/imported/app:two");
    REQUIRE(resolved.ok());
    CHECK(*base::ReadFile(resolved->layer_dirs[1] + "/n") == "2");
    CHECK(store->PullImage(Req("example.com/imported/app:two", core::PullPolicy::kNever), nullptr)
              ->already_present);
  }
  SECTION("streamed through a pipe, as the import RPC feeds it") {
    const std::string tar = OciLayoutTar({{&one, "one"}, {&two, "two"}});
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    base::UniqueFd rd(fds[0]), wr(fds[1]);
    std::thread writer([&] {
      for (size_t off = 0; off < tar.size();) {  // in gRPC-message-sized pieces
        const ssize_t n = ::write(wr.get(), tar.data() + off, std::min<size_t>(16384, tar.size() - off));
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      wr.Reset();
    });
    auto r = store->ImportImage("example.com/piped:one", rd.get());
    writer.join();
    REQUIRE(r.ok());
    CHECK(r->digest == one.manifest.digest);
  }
  SECTION("named by the archive, gzip-compressed") {
    auto fd = MemFd(Compress(OciLayoutTar({{&one, "example.com/x/named:1.0"}}), Compression::kGzip));
    auto r = store->ImportImage("", fd.get());
    REQUIRE(r.ok());
    CHECK(r->reference == "example.com/x/named:1.0");
    CHECK(store->Resolve("example.com/x/named:1.0").ok());
  }
  SECTION("ambiguous, corrupt and hostile archives are refused and leave nothing") {
    auto ambiguous = MemFd(OciLayoutTar({{&one, "one"}, {&two, "two"}}));
    auto r = store->ImportImage("example.com/a:three", ambiguous.get());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);

    std::string tar = OciLayoutTar({{&one, "one"}});
    const std::string needle = one.layers[1].data.substr(0, 16);
    const size_t at = tar.find(one.layers[1].data);
    REQUIRE(at != std::string::npos);
    tar[at + one.layers[1].data.size() / 2] ^= 0x01;
    auto corrupt = MemFd(tar);
    r = store->ImportImage("example.com/a:one", corrupt.get());
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("digest mismatch"));

    const BuiltImage evil =
        ImageBuilder().Layer({TarEntry::File("../../escape", "x")}).Build();
    auto hostile = MemFd(OciLayoutTar({{&evil, "evil"}}));
    r = store->ImportImage("example.com/a:evil", hostile.get());
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("\"..\" component"));

    auto garbage = MemFd("definitely not a tar");
    CHECK(store->ImportImage("example.com/a:b", garbage.get()).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(store->ListImages()->empty());
    CHECK(ListDir(dir.path() + "/blobs/sha256").empty());
    CHECK(ListDir(dir.path() + "/snapshots").empty());
  }
}

}  // namespace
}  // namespace zlayer::images
