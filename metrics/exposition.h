// Prometheus text exposition format (version 0.0.4), the one every scraper reads.
// A writer appends families in order; each family's HELP and TYPE lines come once,
// before its samples, as the format requires.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace zlayer::metrics {

using Label = std::pair<absl::string_view, absl::string_view>;
using Labels = std::vector<Label>;

class TextWriter {
 public:
  // type: "counter", "gauge", "histogram" or "untyped".
  void Family(absl::string_view name, absl::string_view type, absl::string_view help);
  // `name` may carry a suffix of the current family (_bucket, _sum, _count).
  void Sample(absl::string_view name, const Labels& labels, double value);
  void Sample(absl::string_view name, const Labels& labels, uint64_t value);
  // One family with one unlabelled sample.
  void Single(absl::string_view name, absl::string_view type, absl::string_view help, double value);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Head(absl::string_view name, const Labels& labels);
  std::string out_;
};

// Backslash, double quote and newline escaped, as label values require.
std::string EscapeLabelValue(absl::string_view value);

// Latency buckets in seconds, from 0.5 ms to 60 s: a stats read and a pull both fit.
const std::vector<double>& DefaultLatencyBuckets();

// A cumulative histogram with fixed bounds; not thread-safe (owners lock).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds = DefaultLatencyBuckets());
  void Observe(double value);
  // Writes name_bucket{...,le=...}, name_sum and name_count with `labels` first.
  void Write(TextWriter& out, absl::string_view name, const Labels& labels) const;
  uint64_t count() const { return count_; }

 private:
  const std::vector<double>* bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace zlayer::metrics
