// Helpers shared by the store suites: a store on a temp dir, progress recording,
// and checks that nothing was left behind.
#pragma once

#include <dirent.h>

#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "images/image_store.h"
#include "registry_fixture.h"
#include "support/test_support.h"

namespace zlayer::images::testing {

inline std::unique_ptr<ImageStore> OpenStore(const std::string& root,
                                             images::RegistryConfig reg = {}, uint64_t rate = 0) {
  StoreOptions o;
  o.root = root;
  o.registries = std::move(reg);
  o.max_download_bytes_per_sec = rate;
  auto s = ImageStore::Open(o);
  if (!s.ok()) throw std::runtime_error(std::string(s.status().message()));
  return *std::move(s);
}

inline std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return out;
  while (auto* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

// Bytes that gzip cannot shrink, so transfers take the time their size says.
inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Records every progress event, thread-safely.
struct ProgressLog {
  absl::Mutex mu;
  std::vector<core::PullProgress> events;
  ProgressFn fn = [this](const core::PullProgress& p) {
    absl::MutexLock l(&mu);
    events.push_back(p);
  };
  std::vector<core::PullProgress> Snapshot() {
    absl::MutexLock l(&mu);
    return events;
  }
};

inline core::PullRequest Req(const std::string& image,
                             core::PullPolicy policy = core::PullPolicy::kIfNotPresent) {
  core::PullRequest r;
  r.image = image;
  r.policy = policy;
  return r;
}

}  // namespace zlayer::images::testing
