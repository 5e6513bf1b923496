// Pull: an image of several gzip layers (pull_mb MiB uncompressed, half random
// and half text, so it compresses about 2:1 like typical layers) from the
// loopback registry, cold each time: the agent's PullImage, `ctr image pull`
// (download, verify, unpack into overlay snapshots, as the agent does) and
// `skopeo copy` to an OCI layout (download and verify only: no unpack).
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/cases/cases.h"

namespace zlayer::bench {
namespace {

using images::testing::Compression;
using images::testing::TarEntry;

std::string LayerData(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  static const char* kWords[] = {"lib", "usr", "share", "locale", "python3", "site", "packages"};
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    const size_t block_end = s.size() + 4096;
    if ((s.size() / 4096) % 2 == 0) {
      while (s.size() < block_end) s.push_back(static_cast<char>(rng()));
    } else {
      while (s.size() < block_end) {
        s += kWords[rng() % 7];
        s.push_back(rng() % 5 == 0 ? '\n' : '/');
      }
      s.resize(block_end);
    }
  }
  s.resize(n);
  return s;
}

}  // namespace

absl::Status PullCase(BenchEnv& env, const CaseOptions& o, Report& report) {
  // Five layers, large to small, as base image + runtime + app layers tend to be.
  const double shares[] = {0.35, 0.25, 0.2, 0.12, 0.08};
  images::testing::ImageBuilder builder;
  size_t compressed = 0;
  int layer = 0;
  for (double share : shares) {
    const int mb = std::max(1, static_cast<int>(o.pull_mb * share + 0.5));
    std::vector<TarEntry> files;
    for (int f = 0; f < mb; ++f) {
      files.push_back(TarEntry::File(absl::StrCat("layer", layer, "/file", f),
                                     LayerData(1 << 20, static_cast<uint32_t>(layer * 1000 + f))));
    }
    builder.Layer(files, Compression::kGzip);
    ++layer;
  }
  const auto image = builder.Build();
  for (const auto& l : image.layers) compressed += l.data.size();
  if (auto s = images::testing::PushImage(env.registry().pusher(), "bench/big", "v1", image);
      !s.ok()) {
    return s;
  }
  const std::string ref = absl::StrCat(env.registry().host(), "/bench/big:v1");

  std::vector<Variant> v;
  v.push_back({"agent PullImage", nullptr,
               [&]() -> absl::Status {
                 pb::PullImageRequest req;
                 req.set_image(ref);
                 req.set_policy(pb::PULL_POLICY_ALWAYS);
                 auto ctx = Deadline(absl::Minutes(10));
                 auto reader = env.stub().PullImage(ctx.get(), req);
                 pb::PullImageEvent ev;
                 bool done = false;
                 while (reader->Read(&ev)) {
                   if (ev.has_done()) {
                     done = true;
                     if (ev.done().already_present()) {
                       return absl::InternalError("agent pull was not cold");
                     }
                   }
                 }
                 if (auto s = FromGrpc(reader->Finish(), "PullImage"); !s.ok()) return s;
                 return done ? absl::OkStatus() : absl::InternalError("no done event");
               },
               [&]() -> absl::Status {
                 pb::RemoveImageRequest rm;
                 rm.set_image(ref);
                 rm.set_force(true);
                 pb::RemoveImageResponse rm_resp;
                 if (auto s = FromGrpc(env.stub().RemoveImage(Deadline(absl::Minutes(2)).get(),
                                                               rm, &rm_resp),
                                       "RemoveImage");
                     !s.ok()) {
                   return s;
                 }
                 pb::PruneImagesRequest pr;
                 pb::PruneImagesResponse pr_resp;
                 return FromGrpc(
                     env.stub().PruneImages(Deadline(absl::Minutes(2)).get(), pr, &pr_resp),
                     "PruneImages");
               }});
  if (env.has_containerd()) {
    v.push_back({"ctr image pull", nullptr,
                 [&]() -> absl::Status {
                   return env.CtrOk({"image", "pull", "--plain-http", ref}, absl::Minutes(10));
                 },
                 [&]() -> absl::Status {
                   if (auto s = env.CtrOk({"image", "rm", "--sync", ref}); !s.ok()) return s;
                   // Content and snapshots go with the image's references.
                   return env.CtrOk({"content", "prune", "references"});
                 }});
  }
  int seq = 0;
  std::string dest;
  v.push_back({"skopeo copy",
               [&]() -> absl::Status {
                 dest = absl::StrCat(env.scratch(), "/skopeo-", seq++);
                 return absl::OkStatus();
               },
               [&]() -> absl::Status {
                 base::RunOptions ro;
                 ro.argv = {"/usr/bin/skopeo", "--insecure-policy", "copy",
                            "--src-tls-verify=false", "docker://" + ref, "oci:" + dest + ":v1"};
                 ro.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + env.scratch()};
                 ro.timeout = absl::Minutes(10);
                 auto r = base::RunCommand(ro);
                 if (!r.ok()) return r.status();
                 if (!r->ok()) return absl::InternalError("skopeo copy: " + r->err);
                 return absl::OkStatus();
               },
               [&]() -> absl::Status { return base::RemoveTree(dest); }});
  report.AddSamples("pull", Alternate(v, o.pull_warmup, o.pull_iterations));
  const std::string size =
      absl::StrFormat("%d MiB in %zu gzip layers (%.0f MiB compressed)", o.pull_mb,
                      image.layers.size(), compressed / 1048576.0);
  if (Row* r = report.Find("pull", "agent PullImage")) {
    if (env.has_containerd()) r->compare.push_back({"ctr image pull", 1.0});
    r->compare.push_back({"skopeo copy"});
    r->note = size;
  }
  return absl::OkStatus();
}

}  // namespace zlayer::bench
