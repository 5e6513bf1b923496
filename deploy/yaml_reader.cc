#include "deploy/yaml_reader.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "deploy/values.h"

namespace zlayer::deploy::internal {
namespace {

constexpr size_t kMaxErrors = 1000;
constexpr int kMaxMergeDepth = 16;

// Keys from other tools' formats (Compose, Kubernetes) and what this schema calls
// them, so that an unknown key gets a useful "did you mean".
constexpr std::pair<const char*, const char*> kForeignKeys[] = {
    {"environment", "env"},     {"ports", "endpoints"},       {"volumes", "storage"},
    {"mounts", "storage"},      {"replicas", "scale"},        {"cmd", "command"},
    {"working_dir", "workdir"}, {"healthcheck", "health"},    {"cap_add", "capabilities"},
    {"arguments", "args"},      {"read_only", "read_only_root_fs"},
    {"entry_point", "entrypoint"}, {"stop_timeout", "stop_grace_period"},
    {"restart_policy", "restart"},  {"max_attempts", "max_retries"},
    {"init_containers", "init"},
};

// The known key `unknown` was probably meant as, or empty.
std::string Suggest(const std::string& unknown, const std::vector<std::string>& known) {
  std::vector<std::string> candidates = known;
  for (const auto& [foreign, ours] : kForeignKeys) {
    if (std::find(known.begin(), known.end(), ours) != known.end()) candidates.push_back(foreign);
  }
  std::string near = ClosestMatch(unknown, candidates);
  for (const auto& [foreign, ours] : kForeignKeys) {
    if (near == foreign) return ours;
  }
  return near;
}

// "\"text\"", "a mapping", "a list" or "nothing": what was found instead.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      std::string shown = absl::CHexEscape(s.size() > 40 ? s.substr(0, 40) : s);
      return absl::StrCat("\"", shown, s.size() > 40 ? "...\"" : "\"");
    }
    default: return "nothing";
  }
}

bool PlainKey(absl::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

int OneBased(int zero_based) { return zero_based < 0 ? 0 : zero_based + 1; }

}  // namespace

std::string ChildPath(absl::string_view parent, absl::string_view key) {
  if (PlainKey(key)) return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
  return absl::StrCat(parent, "[\"", absl::CHexEscape(key), "\"]");
}

std::string IndexPath(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

Reader::Reader(std::string file, size_t budget) : file_(std::move(file)), budget_(budget) {}

void Reader::ErrorAt(const YAML::Mark& mark, std::string path, std::string message) {
  if (errors_.size() >= kMaxErrors) {
    saturated_ = true;
    return;
  }
  errors_.push_back(SpecError{file_, mark.is_null() ? 0 : OneBased(mark.line),
                              mark.is_null() ? 0 : OneBased(mark.column), std::move(path),
                              std::move(message)});
}

void Reader::Error(const Value& at, std::string message) {
  ErrorAt(at.mark, at.path, std::move(message));
}

bool Reader::Check(const Value& at, const absl::Status& status) {
  if (status.ok()) return true;
  Error(at, std::string(status.message()));
  return false;
}

bool Reader::Spend() {
  if (budget_ > 0) {
    --budget_;
    return true;
  }
  if (!saturated_) {
    ErrorAt(YAML::Mark::null_mark(), "",
            "the document expands to too many values (aliases referring to aliases?); "
            "stopped reading");
    saturated_ = true;
  }
  return false;
}

std::vector<SpecError> Reader::TakeErrors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const SpecError& a, const SpecError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return std::move(errors_);
}

std::optional<std::string> Reader::String(const Value& v) {
  if (!v.node.IsScalar()) {
    Error(v, absl::StrCat("expected a string, got ", Describe(v.node),
                          v.node.IsNull() ? " (write \"\" for an empty string)" : ""));
    return std::nullopt;
  }
  return v.node.Scalar();
}

std::optional<std::string> Reader::NonEmptyString(const Value& v) {
  auto s = String(v);
  if (s && s->empty()) {
    Error(v, "expected a non-empty string");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> Reader::Bool(const Value& v) {
  if (v.node.IsScalar()) {
    const std::string& s = v.node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  Error(v, absl::StrCat("expected true or false, got ", Describe(v.node)));
  return std::nullopt;
}

std::optional<int64_t> Reader::Int(const Value& v, int64_t min, int64_t max) {
  int64_t out = 0;
  if (v.node.IsScalar()) {
    const std::string& s = v.node.Scalar();
    const size_t digits_from = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    const bool digits = s.size() > digits_from &&
                        std::all_of(s.begin() + digits_from, s.end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
    if (digits && absl::SimpleAtoi(s, &out) && out >= min && out <= max) return out;
  }
  Error(v, absl::StrCat("expected a whole number from ", min, " to ", max, ", got ",
                        Describe(v.node)));
  return std::nullopt;
}

std::optional<double> Reader::Number(const Value& v, double min, double max) {
  double out = 0;
  if (v.node.IsScalar()) {
    const std::string& s = v.node.Scalar();
    const bool chars_ok = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+';
    });
    if (chars_ok && absl::SimpleAtod(s, &out) && std::isfinite(out) && out >= min && out <= max) {
      return out;
    }
  }
  Error(v, absl::StrCat("expected a number from ", min, " to ", max, ", got ", Describe(v.node)));
  return std::nullopt;
}

std::optional<uint64_t> Reader::Size(const Value& v) {
  if (!v.node.IsScalar()) {
    Error(v, absl::StrCat("expected a size like 512Mi, 1Gi or 1048576 (bytes), got ",
                          Describe(v.node)));
    return std::nullopt;
  }
  auto size = ParseSize(v.node.Scalar());
  if (!Check(v, size.status())) return std::nullopt;
  return *size;
}

std::optional<absl::Duration> Reader::Duration(const Value& v) {
  if (!v.node.IsScalar()) {
    Error(v, absl::StrCat("expected a duration like 30s, 1m30s or 250ms, got ",
                          Describe(v.node)));
    return std::nullopt;
  }
  auto d = ParseSpecDuration(v.node.Scalar());
  if (!Check(v, d.status())) return std::nullopt;
  return *d;
}

std::vector<Value> Reader::List(const Value& v) {
  std::vector<Value> out;
  if (v.node.IsNull()) return out;
  if (!v.node.IsSequence()) {
    Error(v, absl::StrCat("expected a list (\"- item\" lines or [a, b]), got ", Describe(v.node)));
    return out;
  }
  size_t i = 0;
  for (const auto& item : v.node) {
    if (!Spend()) break;
    const YAML::Mark mark = item.IsNull() || item.Mark().is_null() ? v.mark : item.Mark();
    out.push_back(Value{item, IndexPath(v.path, i++), mark, true});
  }
  return out;
}

std::optional<std::vector<std::string>> Reader::StringList(const Value& v) {
  if (!v.node.IsNull() && !v.node.IsSequence()) {
    Error(v, absl::StrCat("expected a list of strings like [\"/bin/sh\", \"-c\"], got ",
                          Describe(v.node)));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const Value& item : List(v)) {
    auto s = String(item);
    if (s) {
      out.push_back(std::move(*s));
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

MapReader::MapReader(Reader& reader, const Value& value) : reader_(reader), self_(value) {
  if (!value.present || value.node.IsNull()) {
    ok_ = true;
    return;
  }
  if (!value.node.IsMap()) {
    reader_.Error(value, absl::StrCat("expected a mapping (\"key: value\" lines), got ",
                                      Describe(value.node)));
    return;
  }
  ok_ = true;
  Collect(value.node, /*merged=*/false, 0);
}

void MapReader::Collect(const YAML::Node& map, bool merged, int depth) {
  std::vector<YAML::Node> merges;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!reader_.Spend()) return;
    // Copies: the iterator's operator-> yields a temporary, so references would dangle.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      reader_.ErrorAt(key.Mark(), self_.path,
                      absl::StrCat("keys must be plain strings, got ", Describe(key)));
      continue;
    }
    // "<<: *defaults" (YAML merge keys). yaml-cpp keeps "<<" as an ordinary key, so
    // merging is done here: the mapping's own keys win, then earlier merges.
    if (key.Scalar() == "<<" && key.Tag() == "?") {
      merges.push_back(value);
      continue;
    }
    auto same = std::find_if(entries_.begin(), entries_.end(),
                             [&](const Entry& e) { return e.key == key.Scalar(); });
    if (same != entries_.end()) {
      if (!merged) {
        reader_.ErrorAt(key.Mark(), self_.path,
                        absl::StrCat("duplicate key \"", absl::CHexEscape(key.Scalar()),
                                     "\"; it is first given at line ",
                                     same->key_node.Mark().line + 1));
      }
      continue;
    }
    entries_.push_back(Entry{key.Scalar(), key, value});
  }
  for (const YAML::Node& merge : merges) {
    if (depth >= kMaxMergeDepth) {
      reader_.ErrorAt(merge.Mark(), self_.path, "merge keys (<<) nest too deeply");
      return;
    }
    if (merge.IsMap()) {
      Collect(merge, true, depth + 1);
    } else if (merge.IsSequence() &&
               std::all_of(merge.begin(), merge.end(), [](const YAML::Node& n) { return n.IsMap(); })) {
      for (const auto& m : merge) Collect(m, true, depth + 1);
    } else {
      reader_.ErrorAt(merge.Mark(), ChildPath(self_.path, "<<"),
                      absl::StrCat("a merge key expects a mapping or a list of mappings "
                                   "(usually an alias like *defaults), got ",
                                   Describe(merge)));
    }
  }
}

Value MapReader::Get(const std::string& key) {
  asked_.push_back(key);
  for (Entry& e : entries_) {
    if (e.key != key) continue;
    e.used = true;
    const bool point_at_key = e.value.IsNull() || e.value.Mark().is_null();
    return Value{e.value, ChildPath(self_.path, key), point_at_key ? e.key_node.Mark() : e.value.Mark(),
                 true};
  }
  return Value{YAML::Node(), ChildPath(self_.path, key), self_.mark, false};
}

Value MapReader::Require(const std::string& key) {
  Value v = Get(key);
  if (!v.present && ok_) missing_.push_back(key);
  return v;
}

std::vector<std::pair<Value, Value>> MapReader::Entries() {
  std::vector<std::pair<Value, Value>> out;
  out.reserve(entries_.size());
  for (Entry& e : entries_) {
    e.used = true;
    const std::string path = ChildPath(self_.path, e.key);
    const bool point_at_key = e.value.IsNull() || e.value.Mark().is_null();
    out.emplace_back(Value{e.key_node, path, e.key_node.Mark(), true},
                     Value{e.value, path, point_at_key ? e.key_node.Mark() : e.value.Mark(), true});
  }
  return out;
}

void MapReader::Ignore(const std::string& key) {
  for (Entry& e : entries_) {
    if (e.key == key) e.used = true;
  }
}

std::vector<std::string> MapReader::Keys() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.key);
  return out;
}

void MapReader::Finish() {
  std::vector<std::string> suggested;
  for (const Entry& e : entries_) {
    if (e.used) continue;
    const std::string near = Suggest(e.key, asked_);
    suggested.push_back(near);
    std::string message = absl::StrCat("unknown key \"", absl::CHexEscape(e.key), "\"; ");
    if (!near.empty()) {
      absl::StrAppend(&message, "did you mean \"", near, "\"?");
    } else {
      absl::StrAppend(&message, "expected one of: ", absl::StrJoin(asked_, ", "));
    }
    reader_.ErrorAt(e.key_node.Mark(), self_.path, std::move(message));
  }
  // A misspelt required key is reported once, as the misspelling.
  for (const std::string& key : missing_) {
    if (std::find(suggested.begin(), suggested.end(), key) != suggested.end()) continue;
    reader_.ErrorAt(self_.mark, self_.path, absl::StrCat("missing required key \"", key, "\""));
  }
  missing_.clear();
}

}  // namespace zlayer::deploy::internal
