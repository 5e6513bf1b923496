// images_pull_tool STORE_ROOT REFERENCE [BYTES_PER_SEC]
//
// Pulls one image into a store and reports progress on stdout, one line per event
// ("layer <digest> <state> <done> <total>", "status <text>"), flushed at once, then
// "ok <digest>" or "error <status>". The crash test SIGKILLs it mid-pull.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "images/image_store.h"

int main(int argc, char** argv) {
  using zlayer::core::PullProgress;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s STORE_ROOT REFERENCE [BYTES_PER_SEC]\n", argv[0]);
    return 2;
  }
  zlayer::images::StoreOptions o;
  o.root = argv[1];
  if (argc > 3) o.max_download_bytes_per_sec = std::strtoull(argv[3], nullptr, 10);
  auto store = zlayer::images::ImageStore::Open(o);
  if (!store.ok()) {
    std::printf("error %s\n", store.status().ToString().c_str());
    return 1;
  }
  static const char* kStates[] = {"waiting", "downloading", "verified",
                                  "extracting", "done", "exists"};
  zlayer::images::ProgressFn fn = [](const PullProgress& p) {
    if (p.kind == PullProgress::Kind::kStatus) {
      std::printf("status %s\n", p.status.c_str());
    } else {
      std::printf("layer %s %s %llu %llu\n", p.digest.c_str(),
                  kStates[static_cast<int>(p.layer_state)],
                  static_cast<unsigned long long>(p.bytes_done),
                  static_cast<unsigned long long>(p.bytes_total));
    }
    std::fflush(stdout);
  };
  zlayer::core::PullRequest req;
  req.image = argv[2];
  auto r = (*store)->PullImage(req, fn);
  if (!r.ok()) {
    std::printf("error %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf("ok %s\n", r->digest.c_str());
  return 0;
}
