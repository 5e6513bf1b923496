// The cgroup file parsers on their own: well-formed input, kernel variations and
// garbage. Real kernel output is covered by fixture_test.cc.
#include <catch2/catch.hpp>

#include "cgroups/parse.h"

namespace zlayer::cgroups {
namespace {

TEST_CASE("ParseSingleValue accepts one unsigned number", "[unit]") {
  CHECK(ParseSingleValue("10416128\n") == 10416128u);
  CHECK(ParseSingleValue("0") == 0u);
  CHECK(ParseSingleValue("18446744073709551615\n") == UINT64_MAX);
  SECTION("anything else is nullopt, never 0") {
    CHECK_FALSE(ParseSingleValue(""));
    CHECK_FALSE(ParseSingleValue("\n"));
    CHECK_FALSE(ParseSingleValue("12a\n"));
    CHECK_FALSE(ParseSingleValue("-1\n"));
    CHECK_FALSE(ParseSingleValue("1 2\n"));
    CHECK_FALSE(ParseSingleValue("max\n"));
    CHECK_FALSE(ParseSingleValue("18446744073709551616\n"));  // overflow
  }
}

TEST_CASE("ParseLimit maps every spelling of unlimited to 0", "[unit]") {
  CHECK(ParseLimit("max\n") == 0u);                   // v2 memory.max, pids.max
  CHECK(ParseLimit("9223372036854771712\n") == 0u);   // v1, 4 KiB pages
  CHECK(ParseLimit("9223372036854710272\n") == 0u);   // v1, 64 KiB pages
  CHECK(ParseLimit("67108864\n") == 67108864u);
  CHECK(ParseLimit("64\n") == 64u);
  CHECK_FALSE(ParseLimit("maximum\n"));
  CHECK_FALSE(ParseLimit(""));
}

TEST_CASE("Keyed files: unknown keys ignored, malformed lines skipped", "[unit]") {
  const char* text =
      "usage_usec 50249\n"
      "user_usec 10767\n"
      "brand_new_key 7\n"
      "system_usec oops\n"
      "nr_periods\n"
      "   \n"
      "nice_usec 0\n";
  static constexpr absl::string_view kKeys[] = {"usage_usec", "user_usec", "system_usec",
                                                "nr_periods", "nice_usec", "absent"};
  std::optional<uint64_t> v[6];
  ParseKeyedValues(text, kKeys, v, 6);
  CHECK(v[0] == 50249u);
  CHECK(v[1] == 10767u);
  CHECK_FALSE(v[2]);  // malformed value: unknown, not 0
  CHECK_FALSE(v[3]);  // key without value
  CHECK(v[4] == 0u);
  CHECK_FALSE(v[5]);
  CHECK(FindKeyedValue("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill") == 3u);
  CHECK_FALSE(FindKeyedValue("", "oom_kill"));
  SECTION("a key that is a prefix of another does not match it") {
    CHECK(FindKeyedValue("oom_kill_disable 1\noom_kill 2\n", "oom_kill") == 2u);
    CHECK_FALSE(FindKeyedValue("oom_kill_disable 1\n", "oom_kill"));
  }
  SECTION("no trailing newline") { CHECK(FindKeyedValue("a 1\nb 2", "b") == 2u); }
}

TEST_CASE("ParsePressure reads some and full lines", "[unit]") {
  auto p = ParsePressure(
      "some avg10=40.83 avg60=41.85 avg300=14.09 total=47798141\n"
      "full avg10=39.11 avg60=39.65 avg300=13.32 total=45190349\n");
  REQUIRE(p);
  REQUIRE(p->some);
  REQUIRE(p->full);
  CHECK(p->some->avg10 == Approx(40.83));
  CHECK(p->some->avg60 == Approx(41.85));
  CHECK(p->some->avg300 == Approx(14.09));
  CHECK(p->some->total_usec == 47798141u);
  CHECK(p->full->total_usec == 45190349u);

  SECTION("kernels before 5.13 print no full line for cpu") {
    auto q = ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    REQUIRE(q);
    CHECK(q->some);
    CHECK_FALSE(q->full);
  }
  SECTION("a partial line is dropped rather than padded with zeros") {
    auto q = ParsePressure(
        "some avg10=1.00 total=5\n"
        "full avg10=0.50 avg60=0.25 avg300=0.10 total=9\n");
    REQUIRE(q);
    CHECK_FALSE(q->some);
    REQUIRE(q->full);
    CHECK(q->full->total_usec == 9u);
  }
  SECTION("garbage is nullopt") {
    CHECK_FALSE(ParsePressure(""));
    CHECK_FALSE(ParsePressure("hello world\n"));
    CHECK_FALSE(ParsePressure("some avg10=x avg60=0 avg300=0 total=1\n"));
  }
}

TEST_CASE("ParseIoStat reads every device line", "[unit]") {
  auto io = ParseIoStat(
      "254:0 rbytes=15683584 wbytes=4194304 rios=242 wios=4 dbytes=0 dios=0\n"
      "8:16 rbytes=1 wbytes=2 rios=3 wios=4 future=9\n"
      "garbage line\n"
      "7:x rbytes=1\n");
  REQUIRE(io.size() == 2);
  CHECK(io[0].major == 254);
  CHECK(io[0].minor == 0);
  CHECK(io[0].rbytes == 15683584u);
  CHECK(io[0].wbytes == 4194304u);
  CHECK(io[0].rios == 242u);
  CHECK(io[0].wios == 4u);
  CHECK(io[1].major == 8);
  CHECK(io[1].minor == 16);
  CHECK(io[1].wios == 4u);
  CHECK(ParseIoStat("").empty());
}

TEST_CASE("v1 blkio files merge into per-device entries", "[unit]") {
  std::vector<core::IoDeviceStats> io;
  MergeBlkioBytes(
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:0 Async 2\n8:0 Discard 0\n"
      "8:0 Total 12288\n254:0 Read 7\n254:0 Write 0\nTotal 12295\n",
      io);
  MergeBlkioServiced("8:0 Read 1\n8:0 Write 2\n8:0 Total 3\n253:1 Write 5\nTotal 8\n", io);
  REQUIRE(io.size() == 3);
  CHECK(io[0].major == 8);
  CHECK(io[0].rbytes == 4096u);
  CHECK(io[0].wbytes == 8192u);
  CHECK(io[0].rios == 1u);
  CHECK(io[0].wios == 2u);
  CHECK(io[1].major == 254);
  CHECK(io[1].rbytes == 7u);
  CHECK(io[2].major == 253);
  CHECK(io[2].minor == 1);
  CHECK(io[2].wios == 5u);
  SECTION("a cgroup that did no I/O lists no device") {
    std::vector<core::IoDeviceStats> none;
    MergeBlkioBytes("Total 0\n", none);
    CHECK(none.empty());
  }
}

}  // namespace
}  // namespace zlayer::cgroups
