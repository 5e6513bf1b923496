// Results of one bench run: rows of figures with ratios to a reference and the
// product targets they are held against, written as JSON and as a table.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "bench/harness/measure.h"
#include "nlohmann/json.hpp"

namespace zlayer::bench {

struct Comparison {
  std::string reference;  // a variant of the same case
  std::optional<double> max_ratio;
  std::optional<double> ratio;
  std::optional<bool> met;
  // The ratio of the p99s instead of the medians (latency rows).
  bool p99 = false;
};

struct Row {
  std::string case_name;  // "run", "exec", "memory", ...
  std::string variant;    // who did it and what: "agent gRPC create+start+wait+remove"
  std::string unit;       // "ms", "us", "MB", "threads"
  Summary summary;        // single figures have n = 1
  // Ratios of this median to other variants' medians (same case; or of the p99s),
  // each with an optional target from the product brief.
  std::vector<Comparison> compare;
  // An absolute target for the median.
  std::optional<double> max_value;
  std::optional<bool> met;  // of max_value
  std::string note;
  std::string error;
};

class Report {
 public:
  void SetMachine(nlohmann::json machine) { machine_ = std::move(machine); }
  void SetConfig(nlohmann::json config) { config_ = std::move(config); }
  void SetFootprint(nlohmann::json footprint) { footprint_ = std::move(footprint); }
  // The 1-minute load average around a case.
  void AddLoad(const std::string& case_name, double before, double after);

  // Adds a measured row. Helpers below: one row summarising many values, and
  // one holding a single value.
  Row& Add(Row row);
  Row& AddDistribution(const std::string& case_name, const std::string& variant,
                       const std::string& unit, const std::vector<double>& values);
  Row& AddValue(const std::string& case_name, const std::string& variant,
                const std::string& unit, double value);
  // Rows from an Alternate() run, one per variant, in `unit` (samples are ms;
  // `scale` converts, e.g. 1000 for microseconds).
  void AddSamples(const std::string& case_name, const std::vector<VariantSamples>& samples,
                  const std::string& unit = "ms", double scale = 1.0);
  Row* Find(const std::string& case_name, const std::string& variant);

  // Fills ratios and target verdicts. Call once, after every row is in.
  void Finish();

  nlohmann::json ToJson() const;
  std::string Table() const;
  // The same as a Markdown table (for docs/performance.md).
  std::string Markdown() const;
  // "load 1.23-2.34" over every case.
  std::string LoadSummary() const;
  bool HasNumbers() const;

 private:
  nlohmann::json machine_ = nlohmann::json::object();
  nlohmann::json config_ = nlohmann::json::object();
  nlohmann::json footprint_ = nlohmann::json::object();
  std::deque<Row> rows_;  // stable references: Add() hands them out
  std::vector<std::tuple<std::string, double, double>> loads_;
};

}  // namespace zlayer::bench
