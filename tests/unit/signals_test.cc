#include "core/signals.h"

#include <catch2/catch.hpp>

using zlayer::core::SignalNameFromExitCode;
using zlayer::core::ValidateSignal;

TEST_CASE("ValidateSignal accepts the allowed signals in every spelling", "[unit]") {
  SECTION("SIG-prefixed") {
    for (const char* s : {"SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"}) {
      auto r = ValidateSignal(s);
      REQUIRE(r.ok());
      CHECK(*r == s);
    }
  }
  SECTION("bare names are canonicalised") {
    CHECK(*ValidateSignal("KILL") == "SIGKILL");
    CHECK(*ValidateSignal("USR2") == "SIGUSR2");
  }
  SECTION("case does not matter") {
    CHECK(*ValidateSignal("term") == "SIGTERM");
    CHECK(*ValidateSignal("sigHup") == "SIGHUP");
  }
  SECTION("surrounding whitespace is trimmed") {
    CHECK(*ValidateSignal(" INT ") == "SIGINT");
    CHECK(*ValidateSignal("\tsigusr1\n") == "SIGUSR1");
  }
}

TEST_CASE("ValidateSignal rejects empty, unknown and disallowed signals", "[unit]") {
  for (const char* s : {"", "   ", "SIGSEGV", "NOPE", "SIGPIPE", "SIGSTOP", "9", "SIG", "SIGKILLX"}) {
    INFO("signal '" << s << "'");
    auto r = ValidateSignal(s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("the message lists what is allowed") {
    auto r = ValidateSignal("SIGFOO");
    CHECK(std::string(r.status().message()).find("SIGFOO") != std::string::npos);
    CHECK(std::string(r.status().message()).find("SIGUSR2") != std::string::npos);
  }
}

TEST_CASE("SignalNameFromExitCode follows the contract's table", "[unit]") {
  SECTION("known signals") {
    CHECK(*SignalNameFromExitCode(137) == "SIGKILL");
    CHECK(*SignalNameFromExitCode(143) == "SIGTERM");
    CHECK(*SignalNameFromExitCode(130) == "SIGINT");
    CHECK(*SignalNameFromExitCode(129) == "SIGHUP");
    CHECK(*SignalNameFromExitCode(139) == "SIGSEGV");
    CHECK(*SignalNameFromExitCode(134) == "SIGABRT");
    CHECK(*SignalNameFromExitCode(141) == "SIGPIPE");
    CHECK(*SignalNameFromExitCode(145) == "SIGSTOP");
    CHECK(*SignalNameFromExitCode(146) == "SIGCONT");
  }
  SECTION("normal exits have no signal") {
    CHECK_FALSE(SignalNameFromExitCode(0).has_value());
    CHECK_FALSE(SignalNameFromExitCode(1).has_value());
    CHECK_FALSE(SignalNameFromExitCode(128).has_value());
    CHECK_FALSE(SignalNameFromExitCode(-1).has_value());
  }
  SECTION("unknown numbers get a stable form") {
    CHECK(*SignalNameFromExitCode(128 + 99) == "signal_99");
    CHECK(*SignalNameFromExitCode(128 + 5) == "signal_5");
    CHECK(*SignalNameFromExitCode(128 + 16) == "signal_16");
  }
}
