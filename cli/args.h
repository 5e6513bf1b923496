// Command-line parsing for zlayerctl: one declarative spec per command, GNU-style
// options (-f, -fVALUE, -f VALUE, --flag, --flag VALUE, --flag=VALUE, "--" ends
// options), and the help text generated from the same spec.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace zlayer::cli {

struct OptionSpec {
  std::string long_name;   // "tail", without dashes
  char short_name = 0;     // 'f'; 0 = none
  std::string value_name;  // "N"; empty = a flag without a value
  std::string help;
  bool repeatable = false;
};

struct CommandSpec {
  std::string name;     // "logs"
  std::string usage;    // "[OPTIONS] NAME"
  std::string summary;  // one line, for the command list
  std::string details;  // paragraphs after the usage line; may be empty
  std::vector<OptionSpec> options;
  size_t min_args = 0;
  size_t max_args = static_cast<size_t>(-1);
  // Options end at the first positional argument (run IMAGE CMD..., exec NAME CMD...);
  // a "--" right after it is dropped.
  bool options_end_at_first_arg = false;
};

class ParsedArgs {
 public:
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given for an option, or nullopt.
  std::optional<std::string> Value(const std::string& name) const;
  std::string ValueOr(const std::string& name, std::string fallback) const;
  // Every value of a repeatable option, in order.
  std::vector<std::string> Values(const std::string& name) const;

  std::vector<std::string> args;  // positional arguments
  bool help = false;              // -h/--help was given: print help, nothing else

 private:
  friend absl::StatusOr<ParsedArgs> ParseArgs(const CommandSpec&, const std::vector<std::string>&);
  std::map<std::string, std::vector<std::string>> values_;
};

// Options every command accepts: --address and --help. AddOutputOption adds
// -o/--output json|table, which every listing and inspect takes.
void AddCommonOptions(CommandSpec* spec);
void AddOutputOption(CommandSpec* spec);

// INVALID_ARGUMENT naming the command and the problem ("logs: unknown option --tial;
// did you mean --tail?"), or the parsed arguments. The argument count is checked
// unless --help was given.
absl::StatusOr<ParsedArgs> ParseArgs(const CommandSpec& spec, const std::vector<std::string>& argv);

// "Usage: zlayerctl logs [OPTIONS] NAME", the details and an option table.
std::string HelpText(const CommandSpec& spec);

// The -o value: "table" (default) or "json"; INVALID_ARGUMENT otherwise.
absl::StatusOr<bool> WantJson(const ParsedArgs& args);

}  // namespace zlayer::cli
