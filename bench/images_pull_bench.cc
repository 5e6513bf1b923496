// images_pull_bench [LAYER_MB...]: pull throughput of ImageStore against
// containerd's `ctr image pull` (which also downloads, verifies and unpacks into
// overlay snapshots), same image, same loopback docker-registry. Not a test: it
// prints figures. Needs containerd and ctr (scripts/install-deps.sh --with-bench).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "images/image_store.h"
#include "registry_fixture.h"
#include "support/test_support.h"

using namespace zlayer;                  // NOLINT
using namespace zlayer::images::testing;  // NOLINT

namespace {

// Half random, half text: compresses about 2:1 like typical layers.
std::string LayerData(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n);
  static const char* kWords[] = {"lib", "usr", "share", "locale", "python3", "site", "packages"};
  while (s.size() < n) {
    if ((s.size() / 4096) % 2 == 0) {
      for (int i = 0; i < 4096; ++i) s.push_back(static_cast<char>(rng()));
    } else {
      while (s.size() % 4096 != 0 || (s.size() / 4096) % 2 == 1) {
        s += kWords[rng() % 7];
        s.push_back(rng() % 5 == 0 ? '\n' : '/');
        if (s.size() % 4096 == 0) break;
      }
    }
  }
  s.resize(n);
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> layer_mb = {48, 32, 16, 8};
  if (argc > 1) {
    layer_mb.clear();
    for (int i = 1; i < argc; ++i) layer_mb.push_back(std::atoi(argv[i]));
  }
  TestRegistry reg;
  ImageBuilder b;
  size_t total = 0;
  for (size_t i = 0; i < layer_mb.size(); ++i) {
    std::vector<TarEntry> files;
    for (int f = 0; f < layer_mb[i]; ++f) {  // 1 MiB files
      files.push_back(TarEntry::File(absl::StrCat("l", i, "/f", f),
                                     LayerData(1 << 20, static_cast<uint32_t>(i * 1000 + f))));
    }
    b.Layer(files, Compression::kGzip);
  }
  const BuiltImage img = b.Build();
  for (const auto& l : img.layers) total += l.data.size();
  if (auto s = PushImage(reg.pusher(), "bench/img", "v1", img); !s.ok()) {
    std::fprintf(stderr, "push: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string ref = reg.host() + "/bench/img:v1";
  std::printf("image: %zu layers, %.1f MiB compressed\n", img.layers.size(), total / 1048576.0);

  auto work = zlayer::testing::MakeTempDir("zbench-");
  std::vector<double> ours, ours_nosync, theirs;
  for (int run = 0; run < 3; ++run) {
    for (bool sync : {true, false}) {
      const std::string root = absl::StrCat(work.path(), "/store", run, sync);
      images::StoreOptions o;
      o.root = root;
      o.sync_snapshots = sync;
      auto store = *images::ImageStore::Open(o);
      core::PullRequest req;
      req.image = ref;
      const absl::Time t0 = absl::Now();
      auto r = store->PullImage(req, nullptr);
      const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
      if (!r.ok()) {
        std::fprintf(stderr, "pull: %s\n", r.status().ToString().c_str());
        return 1;
      }
      (sync ? ours : ours_nosync).push_back(secs);
      store.reset();
      (void)base::RemoveTree(root);
    }
  }

  // containerd with its own root, state and socket.
  const std::string cd = work.path() + "/ctrd";
  (void)base::MakeDirs(cd);
  (void)base::WriteFileAtomic(
      cd + "/config.toml",
      absl::StrCat("version = 2\nroot = \"", cd, "/root\"\nstate = \"", cd,
                   "/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n"
                   "  address = \"", cd, "/c.sock\"\n"),
      0600, false);
  base::UniqueFd log(::open((cd + "/log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  base::SpawnOptions so;
  so.argv = {"/usr/bin/containerd", "-c", cd + "/config.toml"};
  so.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  so.stdout_fd = log.get();
  so.stderr_fd = log.get();
  auto ctrd = base::ChildProcess::Spawn(so);
  if (!ctrd.ok()) return 1;
  auto ctr = [&](std::vector<std::string> args) {
    base::RunOptions ro;
    ro.argv = {"/usr/bin/ctr", "--address", cd + "/c.sock", "-n", "bench"};
    ro.argv.insert(ro.argv.end(), args.begin(), args.end());
    ro.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    ro.timeout = absl::Minutes(5);
    return base::RunCommand(ro);
  };
  if (!zlayer::testing::WaitFor([&] { auto r = ctr({"version"}); return r.ok() && r->ok(); },
                                absl::Seconds(20))) {
    std::fprintf(stderr, "containerd did not start\n");
    return 1;
  }
  for (int run = 0; run < 3; ++run) {
    const absl::Time t0 = absl::Now();
    auto r = ctr({"image", "pull", "--plain-http", ref});
    const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
    if (!r.ok() || !r->ok()) {
      std::fprintf(stderr, "ctr pull failed: %s\n", r.ok() ? r->err.c_str() : "spawn");
      return 1;
    }
    theirs.push_back(secs);
    (void)ctr({"image", "rm", "--sync", ref});
    (void)ctr({"content", "prune", "references"});
    // Snapshots go with the image's lease; make sure nothing is left to reuse.
    auto snaps = ctr({"snapshot", "ls"});
    if (snaps.ok() && snaps->out.find("Committed") != std::string::npos) {
      std::fprintf(stderr, "warning: containerd kept snapshots:\n%s", snaps->out.c_str());
    }
  }
  const double mib = total / 1048576.0;
  std::printf("ImageStore pull (syncfs):     median %.3f s  %.1f MiB/s\n", Median(ours),
              mib / Median(ours));
  std::printf("ImageStore pull (no syncfs):  median %.3f s  %.1f MiB/s\n", Median(ours_nosync),
              mib / Median(ours_nosync));
  std::printf("ctr image pull (containerd):  median %.3f s  %.1f MiB/s\n", Median(theirs),
              mib / Median(theirs));
  return 0;
}
