// Samples, summaries and the alternating runner every side-by-side case uses.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace zlayer::bench {

struct Summary {
  size_t n = 0;
  double median = 0, p90 = 0, p99 = 0, min = 0, max = 0, mean = 0;
};

// Nearest-rank percentiles over a copy of `samples`; n = 0 for no samples.
Summary Summarize(std::vector<double> samples);

// Monotonic milliseconds.
double NowMs();

// One side of a comparison. `timed` is measured; `before` and `after` run around
// it untimed (cache drops, cleanup). Any of them may be empty.
struct Variant {
  std::string name;
  std::function<absl::Status()> before;
  std::function<absl::Status()> timed;
  std::function<absl::Status()> after;
};

struct VariantSamples {
  std::string name;
  std::vector<double> ms;
  absl::Status error;  // the first failure; the variant stops being run after it
};

// Runs every variant `warmup` times (A A B B ...: warms caches and first-touch
// allocations), then `iterations` rounds of A B C A B C ..., so that a load
// change on the shared machine hits every variant alike. The order inside a
// round rotates, so no variant always follows the same neighbour.
std::vector<VariantSamples> Alternate(const std::vector<Variant>& variants, int warmup,
                                      int iterations);

// Set by SIGINT/SIGTERM: loops stop early and the run tears down cleanly.
bool Interrupted();
void InstallInterruptHandler();

}  // namespace zlayer::bench
