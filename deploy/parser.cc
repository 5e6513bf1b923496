#include "deploy/parser.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/fs_util.h"
#include "deploy/service_schema.h"
#include "deploy/values.h"
#include "deploy/yaml_reader.h"

namespace zlayer::deploy {
namespace {

using internal::MapReader;
using internal::Reader;
using internal::Value;

void ReadDocument(Reader& r, const YAML::Node& root, DeploymentSpec* out) {
  Value doc{root, "", root.Mark().is_null() ? YAML::Mark() : root.Mark(), true};
  if (!root.IsMap()) {
    r.Error(doc, "expected a mapping with the keys version, deployment and services");
    return;
  }
  MapReader m(r, doc);
  if (auto v = m.Require("version"); v.present) {
    if (auto s = r.String(v)) {
      if (*s == kSchemaVersionV1) {
        out->version = *s;
      } else {
        r.Error(v, absl::StrCat("expected v1 (the only schema version this zlayerctl knows), got \"",
                                *s, "\""));
      }
    }
  }
  if (auto d = m.Require("deployment"); d.present) {
    if (auto s = r.String(d); s && r.Check(d, ValidateDeploymentName(*s))) out->deployment = *s;
  }
  if (auto s = m.Require("services"); s.present) {
    MapReader services(r, s);
    auto entries = services.Entries();
    if (services.ok() && entries.empty()) {
      r.Error(s, "expected at least one service (name: {image: ...})");
    }
    for (auto& [key, value] : entries) {
      if (r.Saturated()) break;
      const std::string& name = key.node.Scalar();
      const bool name_ok = r.Check(key, ValidateServiceName(name));
      core::ServiceSpec spec = internal::ReadService(r, value);
      if (name_ok) out->services.emplace(name, std::move(spec));
    }
  }
  // "x-" keys are free for YAML anchors (x-defaults: &defaults ...), as in Compose files.
  for (const std::string& key : m.Keys()) {
    if (absl::StartsWith(key, "x-")) m.Ignore(key);
  }
  m.Finish();
}

// yaml-cpp's messages for tab-indented lines ("end of map not found") do not say
// why; tabs are the usual cause, so point at the first one.
void ReportTabIndent(Reader& r, absl::string_view yaml) {
  int line = 0;
  for (absl::string_view rest = yaml; !rest.empty(); ++line) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    const absl::string_view text = rest.substr(0, end);
    const size_t indent = text.find_first_not_of(" \t");
    const size_t tab = text.substr(0, indent).find('\t');
    if (tab != absl::string_view::npos) {
      YAML::Mark mark;
      mark.line = line;
      mark.column = static_cast<int>(tab);
      r.ErrorAt(mark, "", "a tab in the indentation; YAML indents with spaces only");
      return;
    }
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
}

// Records where the second document of a stream starts, if there is one.
class SecondDocumentFinder final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ == 2) second_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::optional<YAML::Mark> second() const { return second_; }

 private:
  int documents_ = 0;
  std::optional<YAML::Mark> second_;
};

// Where a second document starts, or nullopt. Not YAML::LoadAll: yaml-cpp 0.7 loops
// forever, allocating, when a ',' stands at document level (found by
// tests/fuzz/deploy_spec_fuzzer.cc; the input "," is enough), because each call
// yields an empty document without consuming the token. Asking for two documents
// at most bounds the work.
std::optional<YAML::Mark> SecondDocument(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  SecondDocumentFinder finder;
  if (parser.HandleNextDocument(finder)) parser.HandleNextDocument(finder);
  return finder.second();
}

}  // namespace

DeploymentSpec ParseDeployment(absl::string_view yaml, absl::string_view file,
                               std::vector<SpecError>* errors) {
  DeploymentSpec out;
  Reader r{std::string(file)};
  if (yaml.size() > kMaxSpecBytes) {
    r.ErrorAt(YAML::Mark::null_mark(), "",
              absl::StrCat("the file is ", yaml.size(), " bytes; specs are limited to ",
                           kMaxSpecBytes, " bytes"));
    *errors = r.TakeErrors();
    return out;
  }
  // yaml-cpp reports syntax errors, and on misuse type errors, by throwing; nothing
  // thrown leaves this function.
  try {
    const std::string text(yaml);
    const YAML::Node root = YAML::Load(text);
    if (root.IsNull()) {
      r.ErrorAt(YAML::Mark(), "",
                "the document is empty; expected a mapping with the keys version, deployment "
                "and services");
    } else if (auto second = SecondDocument(text)) {
      r.ErrorAt(*second, "",
                "expected one YAML document, found a second one; put each deployment in a "
                "file of its own");
    } else {
      ReadDocument(r, root, &out);
    }
  } catch (const YAML::Exception& e) {
    r.ErrorAt(e.mark, "", absl::StrCat("invalid YAML: ", e.msg));
    ReportTabIndent(r, yaml);
  } catch (const std::exception& e) {
    r.ErrorAt(YAML::Mark::null_mark(), "", absl::StrCat("cannot read the spec: ", e.what()));
  }
  *errors = r.TakeErrors();
  return out;
}

absl::StatusOr<DeploymentSpec> ParseDeployment(absl::string_view yaml, absl::string_view file) {
  std::vector<SpecError> errors;
  DeploymentSpec spec = ParseDeployment(yaml, file, &errors);
  if (!errors.empty()) return ErrorsToStatus(errors);
  return spec;
}

absl::StatusOr<DeploymentSpec> LoadDeploymentFile(const std::string& path) {
  auto text = base::ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseDeployment(*text, path);
}

}  // namespace zlayer::deploy
