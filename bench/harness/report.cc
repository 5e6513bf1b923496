#include "bench/harness/report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace zlayer::bench {
namespace {

nlohmann::json SummaryJson(const Summary& s) {
  return {{"n", s.n},     {"median", s.median}, {"p90", s.p90}, {"p99", s.p99},
          {"min", s.min}, {"max", s.max},       {"mean", s.mean}};
}

std::string Num(double v) {
  if (std::fabs(v) >= 100) return absl::StrFormat("%.0f", v);
  if (std::fabs(v) >= 10) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.2f", v);
}

std::string Verdict(const std::optional<bool>& met) {
  if (!met) return "";
  return *met ? " met" : " MISSED";
}

std::string CompareText(const Row& r) {
  std::vector<std::string> parts;
  for (const auto& c : r.compare) {
    if (!c.ratio) continue;
    std::string s = absl::StrFormat("%.2fx %s%s", *c.ratio, c.p99 ? "p99 of " : "", c.reference);
    if (c.max_ratio) s += absl::StrFormat(" (target <= %.2fx:%s)", *c.max_ratio, Verdict(c.met));
    parts.push_back(s);
  }
  if (r.max_value) {
    parts.push_back(absl::StrCat("target <= ", Num(*r.max_value), " ", r.unit, ":", Verdict(r.met)));
  }
  if (!r.note.empty()) parts.push_back(r.note);
  if (!r.error.empty()) parts.push_back("error: " + r.error);
  return absl::StrJoin(parts, "; ");
}

}  // namespace

void Report::AddLoad(const std::string& case_name, double before, double after) {
  loads_.emplace_back(case_name, before, after);
}

Row& Report::Add(Row row) {
  rows_.push_back(std::move(row));
  return rows_.back();
}

Row& Report::AddDistribution(const std::string& case_name, const std::string& variant,
                             const std::string& unit, const std::vector<double>& values) {
  Row r;
  r.case_name = case_name;
  r.variant = variant;
  r.unit = unit;
  r.summary = Summarize(values);
  return Add(std::move(r));
}

Row& Report::AddValue(const std::string& case_name, const std::string& variant,
                      const std::string& unit, double value) {
  return AddDistribution(case_name, variant, unit, {value});
}

void Report::AddSamples(const std::string& case_name, const std::vector<VariantSamples>& samples,
                        const std::string& unit, double scale) {
  for (const auto& s : samples) {
    Row r;
    r.case_name = case_name;
    r.variant = s.name;
    r.unit = unit;
    std::vector<double> v = s.ms;
    for (double& x : v) x *= scale;
    r.summary = Summarize(std::move(v));
    if (!s.error.ok()) r.error = s.error.ToString();
    Add(std::move(r));
  }
}

Row* Report::Find(const std::string& case_name, const std::string& variant) {
  for (auto& r : rows_) {
    if (r.case_name == case_name && r.variant == variant) return &r;
  }
  return nullptr;
}

void Report::Finish() {
  for (auto& r : rows_) {
    if (r.summary.n == 0) continue;
    for (auto& c : r.compare) {
      const Row* ref = Find(r.case_name, c.reference);
      const double theirs = !ref ? 0 : c.p99 ? ref->summary.p99 : ref->summary.median;
      if (ref && ref->summary.n > 0 && theirs > 0) {
        c.ratio = (c.p99 ? r.summary.p99 : r.summary.median) / theirs;
      }
      if (c.max_ratio && c.ratio) c.met = *c.ratio <= *c.max_ratio;
    }
    if (r.max_value) r.met = r.summary.median <= *r.max_value;
  }
}

nlohmann::json Report::ToJson() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : rows_) {
    nlohmann::json j = {{"case", r.case_name}, {"variant", r.variant}, {"unit", r.unit},
                        {"summary", SummaryJson(r.summary)}};
    nlohmann::json cmp = nlohmann::json::array();
    for (const auto& c : r.compare) {
      nlohmann::json k = {{"reference", c.reference}, {"of", c.p99 ? "p99" : "median"}};
      if (c.ratio) k["ratio"] = *c.ratio;
      if (c.max_ratio) k["target_max_ratio"] = *c.max_ratio;
      if (c.met) k["target_met"] = *c.met;
      cmp.push_back(std::move(k));
    }
    if (!cmp.empty()) j["compare"] = std::move(cmp);
    if (r.max_value) j["target_max_value"] = *r.max_value;
    if (r.met) j["target_met"] = *r.met;
    if (!r.note.empty()) j["note"] = r.note;
    if (!r.error.empty()) j["error"] = r.error;
    rows.push_back(std::move(j));
  }
  nlohmann::json loads = nlohmann::json::array();
  for (const auto& [c, before, after] : loads_) {
    loads.push_back({{"case", c}, {"load1_before", before}, {"load1_after", after}});
  }
  return {{"machine", machine_}, {"config", config_},  {"footprint", footprint_},
          {"load", loads},       {"rows", rows}};
}

std::string Report::Table() const {
  size_t wc = 4, wv = 7;
  for (const auto& r : rows_) {
    wc = std::max(wc, r.case_name.size());
    wv = std::max(wv, r.variant.size());
  }
  std::string out = absl::StrFormat("%-*s  %-*s  %-7s %4s %9s %9s %9s  %s\n", wc, "case", wv,
                                    "variant", "unit", "n", "median", "p90", "p99",
                                    "ratio to reference (target)");
  std::string last_case;
  for (const auto& r : rows_) {
    if (!last_case.empty() && r.case_name != last_case) out += "\n";
    last_case = r.case_name;
    const bool none = r.summary.n == 0, single = r.summary.n == 1;
    out += absl::StrFormat("%-*s  %-*s  %-7s %4d %9s %9s %9s  %s\n", wc, r.case_name, wv,
                           r.variant, r.unit, r.summary.n, none ? "-" : Num(r.summary.median),
                           none || single ? "" : Num(r.summary.p90),
                           none || single ? "" : Num(r.summary.p99), CompareText(r));
  }
  return out;
}

std::string Report::Markdown() const {
  std::string out =
      "| case | variant | unit | n | median | p90 | p99 | ratio to reference (target) |\n"
      "|---|---|---|---:|---:|---:|---:|---|\n";
  for (const auto& r : rows_) {
    const bool none = r.summary.n == 0, single = r.summary.n == 1;
    out += absl::StrFormat("| %s | %s | %s | %d | %s | %s | %s | %s |\n", r.case_name, r.variant,
                           r.unit, r.summary.n, none ? "-" : Num(r.summary.median),
                           none || single ? "" : Num(r.summary.p90),
                           none || single ? "" : Num(r.summary.p99), CompareText(r));
  }
  return out;
}

std::string Report::LoadSummary() const {
  if (loads_.empty()) return "load unknown";
  double lo = 1e9, hi = 0;
  for (const auto& [c, b, a] : loads_) {
    lo = std::min({lo, b, a});
    hi = std::max({hi, b, a});
  }
  return absl::StrFormat("1-minute load average %.2f to %.2f", lo, hi);
}

bool Report::HasNumbers() const {
  return std::any_of(rows_.begin(), rows_.end(), [](const Row& r) { return r.summary.n > 0; });
}

}  // namespace zlayer::bench
