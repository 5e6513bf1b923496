#include "metrics/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace zlayer::metrics {
namespace {

// The shortest text that reads back as the same double: integers print plainly.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Fixed notation in the range people read (and bucket bounds are written) in, so
  // that an "le" label reads 0.0005 rather than 5e-04.
  char buf[400];
  const double magnitude = std::fabs(v);
  const bool fixed = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15);
  const auto result = fixed ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                            : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

// HELP text escapes only backslash and newline.
std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void TextWriter::Family(absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::StrAppend(&out_, "# HELP ", name, " ", EscapeHelp(help), "\n# TYPE ", name, " ", type,
                  "\n");
}

void TextWriter::Head(absl::string_view name, const Labels& labels) {
  out_.append(name.data(), name.size());
  if (labels.empty()) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out_ += ',';
    first = false;
    absl::StrAppend(&out_, key, "=\"", EscapeLabelValue(value), "\"");
  }
  out_ += "} ";
}

void TextWriter::Sample(absl::string_view name, const Labels& labels, double value) {
  Head(name, labels);
  absl::StrAppend(&out_, FormatValue(value), "\n");
}

void TextWriter::Sample(absl::string_view name, const Labels& labels, uint64_t value) {
  Head(name, labels);
  absl::StrAppend(&out_, value, "\n");
}

void TextWriter::Single(absl::string_view name, absl::string_view type, absl::string_view help,
                        double value) {
  Family(name, type, help);
  Sample(name, {}, value);
}

const std::vector<double>& DefaultLatencyBuckets() {
  static const auto* buckets = new std::vector<double>{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(&bounds), counts_(bounds.size() + 1, 0) {}

void Histogram::Observe(double value) {
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), value);
  ++counts_[static_cast<size_t>(it - bounds_->begin())];
  sum_ += value;
  ++count_;
}

void Histogram::Write(TextWriter& out, absl::string_view name, const Labels& labels) const {
  const std::string bucket = absl::StrCat(name, "_bucket");
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_->size() ? FormatValue((*bounds_)[i]) : "+Inf";
    with_le.back().second = le;
    out.Sample(bucket, with_le, cumulative);
  }
  out.Sample(absl::StrCat(name, "_sum"), labels, sum_);
  out.Sample(absl::StrCat(name, "_count"), labels, count_);
}

}  // namespace zlayer::metrics
