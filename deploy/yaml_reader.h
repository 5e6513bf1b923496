// A schema walker over yaml-cpp nodes that reports every mistake with its place.
//
// Internal to deploy/. The schema code asks a MapReader for each key it knows; when
// it is done, Finish() reports every other key as unknown (with a "did you mean").
// Typed getters report a value of the wrong kind and return nullopt, so the walk
// goes on and one run finds all errors. yaml-cpp is told nothing about the schema:
// it only parses, and it throws only there (see parser.cc).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "deploy/spec_error.h"

namespace zlayer::deploy::internal {

// A value in the document: its node, its key path and where to point at it.
struct Value {
  YAML::Node node;
  std::string path;
  // The value's position, or its key's when the value is empty (yaml-cpp places an
  // empty value at the start of the next line, which would confuse readers).
  YAML::Mark mark;
  bool present = false;  // the key was given, possibly with an empty value

  // Given, but with nothing after the colon (or an explicit null / ~).
  bool empty() const { return present && node.IsNull(); }
};

// "a.b" for plain keys; a["x.y"] for keys that would be ambiguous in a path.
std::string ChildPath(absl::string_view parent, absl::string_view key);
std::string IndexPath(absl::string_view parent, size_t index);

class Reader {
 public:
  // `budget`: how many values the walk may visit. Aliases let a small document
  // expand exponentially ("billion laughs"); past the budget the walk stops.
  Reader(std::string file, size_t budget = 1'000'000);

  void Error(const Value& at, std::string message);
  void ErrorAt(const YAML::Mark& mark, std::string path, std::string message);
  // Reports `status` at `at` when it is an error; true when it is OK.
  bool Check(const Value& at, const absl::Status& status);
  // True once the walk should stop: the budget is spent or errors are piling up.
  bool Saturated() const { return saturated_; }
  // Counts one visited value against the budget; false once it is spent.
  bool Spend();
  bool HasErrors() const { return !errors_.empty(); }
  // The errors in document order.
  std::vector<SpecError> TakeErrors();
  const std::string& file() const { return file_; }

  // Scalars. Each reports a missing, empty or ill-formed value and returns nullopt.
  // Values are only read when present: callers test `present` for optional keys.
  std::optional<std::string> String(const Value& v);
  std::optional<std::string> NonEmptyString(const Value& v);
  std::optional<bool> Bool(const Value& v);
  std::optional<int64_t> Int(const Value& v, int64_t min, int64_t max);
  std::optional<double> Number(const Value& v, double min, double max);
  std::optional<uint64_t> Size(const Value& v);
  std::optional<absl::Duration> Duration(const Value& v);
  std::optional<std::vector<std::string>> StringList(const Value& v);
  // The items of a list (an empty value is an empty list). Reports anything else.
  std::vector<Value> List(const Value& v);

 private:
  std::string file_;
  size_t budget_;
  bool saturated_ = false;
  std::vector<SpecError> errors_;
};

// Reads one mapping. An empty value reads as an empty mapping.
class MapReader {
 public:
  // Reports a value that is not a mapping; ok() is false then and every Get is absent.
  MapReader(Reader& reader, const Value& value);
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  bool ok() const { return ok_; }
  const Value& self() const { return self_; }

  // The value of `key`, or an absent Value (with this mapping's path and place).
  Value Get(const std::string& key);
  // Like Get; a missing key is reported by Finish() (unless an unknown key looks
  // like a misspelling of it, which is reported instead).
  Value Require(const std::string& key);
  // Every entry, key then value, in document order, for free-form mappings (env,
  // labels, services). Keys are reported as Values whose node is the key.
  std::vector<std::pair<Value, Value>> Entries();
  // Accepts `key` without reading it (and without listing it as an expected key).
  void Ignore(const std::string& key);
  // The keys present, in document order.
  std::vector<std::string> Keys() const;
  // Reports every key that Get/Require was not asked about, and missing required keys.
  void Finish();

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
    bool used = false;
  };
  void Collect(const YAML::Node& map, bool merged, int depth);

  Reader& reader_;
  Value self_;
  bool ok_ = false;
  std::vector<Entry> entries_;
  std::vector<std::string> asked_;
  std::vector<std::string> missing_;
};

}  // namespace zlayer::deploy::internal
