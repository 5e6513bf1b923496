#include "bench/harness/measure.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

namespace zlayer::bench {
namespace {

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

double Rank(const std::vector<double>& sorted, double q) {
  // Nearest rank: the smallest sample with at least q of the samples at or below it.
  const size_t n = sorted.size();
  size_t idx = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  idx = std::clamp<size_t>(idx, 1, n) - 1;
  return sorted[idx];
}

}  // namespace

Summary Summarize(std::vector<double> samples) {
  Summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.n = samples.size();
  const size_t mid = s.n / 2;
  s.median = s.n % 2 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
  s.p90 = Rank(samples, 0.90);
  s.p99 = Rank(samples, 0.99);
  s.min = samples.front();
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.n);
  return s;
}

double NowMs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

std::vector<VariantSamples> Alternate(const std::vector<Variant>& variants, int warmup,
                                      int iterations) {
  std::vector<VariantSamples> out(variants.size());
  for (size_t i = 0; i < variants.size(); ++i) out[i].name = variants[i].name;
  auto run_once = [&](size_t i, bool record) {
    VariantSamples& s = out[i];
    if (!s.error.ok() || Interrupted()) return;
    const Variant& v = variants[i];
    if (v.before) {
      if (auto st = v.before(); !st.ok()) {
        s.error = st;
        return;
      }
    }
    const double t0 = NowMs();
    absl::Status st = v.timed ? v.timed() : absl::OkStatus();
    const double t1 = NowMs();
    if (!st.ok()) {
      s.error = st;
      return;
    }
    if (v.after) {
      if (auto a = v.after(); !a.ok()) s.error = a;
    }
    if (record) s.ms.push_back(t1 - t0);
  };
  for (size_t i = 0; i < variants.size(); ++i) {
    for (int w = 0; w < warmup; ++w) run_once(i, false);
  }
  for (int r = 0; r < iterations && !Interrupted(); ++r) {
    for (size_t k = 0; k < variants.size(); ++k) run_once((k + r) % variants.size(), true);
  }
  return out;
}

bool Interrupted() { return g_interrupted.load(); }

void InstallInterruptHandler() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
}

}  // namespace zlayer::bench
