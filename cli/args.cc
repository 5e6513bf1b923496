#include "cli/args.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "deploy/values.h"

namespace zlayer::cli {
namespace {

absl::Status Usage(const CommandSpec& spec, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(
      spec.name, ": ", problem, " (see 'zlayerctl ", spec.name, " --help')"));
}

const OptionSpec* FindLong(const CommandSpec& spec, absl::string_view name) {
  for (const auto& o : spec.options) {
    if (o.long_name == name) return &o;
  }
  return nullptr;
}

const OptionSpec* FindShort(const CommandSpec& spec, char c) {
  for (const auto& o : spec.options) {
    if (o.short_name == c) return &o;
  }
  return nullptr;
}

std::string UnknownOption(const CommandSpec& spec, absl::string_view given) {
  std::vector<std::string> names;
  for (const auto& o : spec.options) names.push_back("--" + o.long_name);
  const std::string near = deploy::ClosestMatch(given, names);
  return absl::StrCat("unknown option ", given,
                      near.empty() ? "" : absl::StrCat("; did you mean ", near, "?"));
}

}  // namespace

std::optional<std::string> ParsedArgs::Value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string ParsedArgs::ValueOr(const std::string& name, std::string fallback) const {
  auto v = Value(name);
  return v ? *v : std::move(fallback);
}

std::vector<std::string> ParsedArgs::Values(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

void AddCommonOptions(CommandSpec* spec) {
  spec->options.push_back({"address", 0, "ADDR", "agent address (see zlayerctl --help)"});
  spec->options.push_back({"help", 'h', "", "show this help"});
}

void AddOutputOption(CommandSpec* spec) {
  spec->options.push_back({"output", 'o', "FORMAT", "table (default) or json"});
}

absl::StatusOr<ParsedArgs> ParseArgs(const CommandSpec& spec, const std::vector<std::string>& argv) {
  ParsedArgs out;
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a == "-" || a.empty() || a[0] != '-') {
      out.args.push_back(a);
      if (spec.options_end_at_first_arg && !options_done) {
        options_done = true;
        if (i + 1 < argv.size() && argv[i + 1] == "--") ++i;
      }
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    const OptionSpec* opt = nullptr;
    std::optional<std::string> inline_value;
    std::string shown;
    if (absl::StartsWith(a, "--")) {
      const size_t eq = a.find('=');
      const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) inline_value = a.substr(eq + 1);
      opt = FindLong(spec, name);
      shown = "--" + name;
      if (!opt) return Usage(spec, UnknownOption(spec, shown));
    } else {
      // -abc: flags a, b, c; -n5: option n with value 5.
      for (size_t j = 1; j < a.size(); ++j) {
        opt = FindShort(spec, a[j]);
        shown = absl::StrCat("-", std::string(1, a[j]));
        if (!opt) return Usage(spec, absl::StrCat("unknown option ", shown));
        if (!opt->value_name.empty()) {
          if (j + 1 < a.size()) inline_value = a.substr(j + 1);
          break;
        }
        if (j + 1 < a.size()) {
          if (opt->long_name == "help") out.help = true;
          out.values_[opt->long_name].push_back("");
        }
      }
    }
    if (opt->value_name.empty()) {
      if (inline_value) return Usage(spec, absl::StrCat(shown, " takes no value"));
      if (opt->long_name == "help") out.help = true;
      out.values_[opt->long_name].push_back("");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) {
        return Usage(spec, absl::StrCat(shown, " needs a value (", opt->value_name, ")"));
      }
      inline_value = argv[++i];
    }
    auto& slot = out.values_[opt->long_name];
    if (!opt->repeatable) slot.clear();
    slot.push_back(*inline_value);
  }
  if (out.help) return out;
  if (out.args.size() < spec.min_args) {
    return Usage(spec, absl::StrCat("expected ", spec.usage));
  }
  if (out.args.size() > spec.max_args) {
    return Usage(spec, absl::StrCat("unexpected argument \"", out.args[spec.max_args],
                                    "\"; expected ", spec.usage));
  }
  return out;
}

std::string HelpText(const CommandSpec& spec) {
  std::string out = absl::StrCat("Usage: zlayerctl ", spec.name, " ", spec.usage, "\n\n",
                                 spec.summary, "\n");
  if (!spec.details.empty()) absl::StrAppend(&out, "\n", spec.details, "\n");
  if (!spec.options.empty()) {
    absl::StrAppend(&out, "\nOptions:\n");
    for (const auto& o : spec.options) {
      std::string left = o.short_name ? absl::StrCat("-", std::string(1, o.short_name), ", ")
                                      : std::string("    ");
      absl::StrAppend(&left, "--", o.long_name);
      if (!o.value_name.empty()) absl::StrAppend(&left, " ", o.value_name);
      absl::StrAppend(&out, absl::StrFormat("  %-26s %s%s\n", left, o.help,
                                            o.repeatable ? " (repeatable)" : ""));
    }
  }
  return out;
}

absl::StatusOr<bool> WantJson(const ParsedArgs& args) {
  const std::string format = args.ValueOr("output", "table");
  if (format == "json") return true;
  if (format == "table") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("-o/--output: expected json or table, got \"", format, "\""));
}

}  // namespace zlayer::cli
