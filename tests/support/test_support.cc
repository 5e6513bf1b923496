#include "support/test_support.h"

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "absl/time/clock.h"

namespace zlayer::testing {

bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout, absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(poll);
  }
}

base::TempDir MakeTempDir(const std::string& prefix) {
  auto dir = base::TempDir::Create("/tmp", prefix);
  if (!dir.ok()) throw std::runtime_error(std::string(dir.status().message()));
  return std::move(*dir);
}

std::string SourcePath(const std::string& relative) {
  return std::string(ZLAYER_SOURCE_DIR) + "/" + relative;
}

bool IsRoot() { return ::geteuid() == 0; }

}  // namespace zlayer::testing
