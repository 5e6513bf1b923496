// Hostile and corrupt images pushed to a real registry: every pull fails, nothing
// lands outside the store, and the store keeps nothing of them.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "store_helpers.h"

namespace zlayer::images {
namespace {

using namespace zlayer::images::testing;  // NOLINT

struct Case {
  std::string name;
  BuiltImage image;
  absl::StatusCode code;
  std::string reason;
};

TEST_CASE("hostile layers from a registry are refused", "[integration][root]") {
  if (!zlayer::testing::IsRoot()) {
    WARN("needs root");
    return;
  }
  TestRegistry reg;
  auto victim_dir = zlayer::testing::MakeTempDir("zvictim-");
  const std::string v = victim_dir.path();
  TarEntry dev;
  dev.type = TarEntry::Type::kChar;
  dev.path = "dev/kmsg";
  dev.dev_major = 1;
  dev.dev_minor = 11;
  std::vector<Case> cases;
  auto one = [](const std::vector<TarEntry>& entries) {
    return ImageBuilder().Layer({TarEntry::File("ok", "fine")}).Layer(entries).Build();
  };
  cases.push_back({"dotdot", one({TarEntry::File("../../../../" + v.substr(1) + "/pwned", "x")}),
                   absl::StatusCode::kInvalidArgument, "\"..\" component"});
  cases.push_back({"absolute", one({TarEntry::File(v + "/pwned", "x")}),
                   absl::StatusCode::kInvalidArgument, "absolute path"});
  cases.push_back({"symlink in the same layer",
                   one({TarEntry::Symlink("evil", v), TarEntry::File("evil/pwned", "x")}),
                   absl::StatusCode::kInvalidArgument, "symlink planted earlier"});
  cases.push_back({"symlink in an earlier layer",
                   ImageBuilder()
                       .Layer({TarEntry::Symlink("evil", v)})
                       .Layer({TarEntry::File("evil/pwned", "x")})
                       .Build(),
                   absl::StatusCode::kInvalidArgument, "symlink in a lower layer"});
  cases.push_back({"hard link outside", one({TarEntry::Hardlink("h", "/etc/shadow")}),
                   absl::StatusCode::kInvalidArgument, "leaves the layer"});
  cases.push_back({"hard link to an earlier layer", one({TarEntry::Hardlink("h", "ok")}),
                   absl::StatusCode::kInvalidArgument, "not in this layer"});
  cases.push_back({"device node", one({dev}), absl::StatusCode::kInvalidArgument,
                   "character device 1:11"});
  cases.push_back({"decompression bomb",
                   one({TarEntry::File("zeros", std::string(3 << 20, '\0'))}),
                   absl::StatusCode::kResourceExhausted, "max_layer_bytes"});
  cases.push_back({"diff id mismatch",
                   ImageBuilder()
                       .Layer({TarEntry::File("a", "a")})
                       .OverrideLastDiffId(Sha256Digest("something else"))
                       .Build(),
                   absl::StatusCode::kInvalidArgument, "but the image config lists diff_id"});
  auto with_size = [&](int64_t delta) {
    BuiltImage img = one({TarEntry::File("s", RandomBytes(4096, 9))});
    const std::string from = absl::StrCat("\"size\":", img.layers[1].data.size());
    std::string manifest = img.manifest.data;
    const size_t at = manifest.rfind(from);
    manifest.replace(at, from.size(),
                     absl::StrCat("\"size\":", static_cast<int64_t>(img.layers[1].data.size()) + delta));
    img.manifest.data = manifest;
    img.manifest.digest = Sha256Digest(manifest);
    return img;
  };
  cases.push_back({"declared size too small", with_size(-100), absl::StatusCode::kInvalidArgument,
                   "size mismatch"});
  cases.push_back({"declared size too large", with_size(+100), absl::StatusCode::kInvalidArgument,
                   "size mismatch"});

  auto dir = zlayer::testing::MakeTempDir();
  images::RegistryConfig rc;
  rc.max_layer_bytes = 2 << 20;
  auto store = OpenStore(dir.path(), rc);
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const std::string repo = absl::StrCat("hostile/case", i);
    REQUIRE(PushImage(reg.pusher(), repo, "v1", c.image).ok());
    INFO("case: " << c.name);
    auto r = store->PullImage(Req(reg.host() + "/" + repo + ":v1"), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == c.code);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains(c.reason));
    CHECK(ListDir(v).empty());
    CHECK(store->ListImages()->empty());
    CHECK(ListDir(dir.path() + "/snapshots").empty());
    CHECK(ListDir(dir.path() + "/blobs/sha256").empty());
    CHECK(ListDir(dir.path() + "/tmp").empty());
  }

  SECTION("a blob corrupted in the registry's storage fails its digest") {
    const BuiltImage img = one({TarEntry::File("c", RandomBytes(8192, 4))});
    REQUIRE(PushImage(reg.pusher(), "hostile/corrupt", "v1", img).ok());
    const std::string path = reg.BlobDataPath(img.layers[1].digest);
    auto data = base::ReadFile(path);
    REQUIRE(data.ok());
    (*data)[data->size() / 2] ^= 0x5a;
    REQUIRE(base::WriteFileAtomic(path, *data, 0644, false).ok());
    auto r = store->PullImage(Req(reg.host() + "/hostile/corrupt:v1"), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("digest mismatch"));
    CHECK(store->ListImages()->empty());
    CHECK(ListDir(dir.path() + "/blobs/sha256").empty());
    CHECK(ListDir(dir.path() + "/snapshots").empty());
  }
}

}  // namespace
}  // namespace zlayer::images
