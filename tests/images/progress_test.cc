#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "images/progress.h"

namespace zlayer::images {
namespace {

using core::PullProgress;
using LayerState = core::PullProgress::LayerState;

TEST_CASE("progress is throttled per layer but never loses a state change", "[unit]") {
  ProgressFanout fanout(absl::Hours(1));  // no time-based sends within the test
  std::vector<PullProgress> got;
  ProgressFn fn = [&](const PullProgress& p) { got.push_back(p); };
  fanout.AddListener(&fn);
  fanout.Layer("a", LayerState::kDownloading, 0, 1000);
  for (uint64_t i = 1; i < 1000; ++i) fanout.Layer("a", LayerState::kDownloading, i, 1000);
  fanout.Layer("b", LayerState::kDownloading, 0, 10);
  fanout.Layer("a", LayerState::kDownloading, 1000, 1000);  // the last byte always goes out
  fanout.Layer("a", LayerState::kVerified, 1000, 1000);
  fanout.Status("Digest: x");
  REQUIRE(got.size() == 5);
  CHECK(got[0].bytes_done == 0);
  CHECK(got[1].digest == "b");
  CHECK(got[2].bytes_done == 1000);
  CHECK(got[3].layer_state == LayerState::kVerified);
  CHECK(got[4].status == "Digest: x");

  SECTION("a listener that joins late sees every layer's latest state first") {
    std::vector<PullProgress> late;
    ProgressFn late_fn = [&](const PullProgress& p) { late.push_back(p); };
    fanout.AddListener(&late_fn);
    REQUIRE(late.size() == 2);
    CHECK(late[0].digest == "a");
    CHECK(late[0].layer_state == LayerState::kVerified);
    CHECK(late[1].digest == "b");
    fanout.RemoveListener(&late_fn);
    fanout.Status("more");
    CHECK(late.size() == 2);
  }
}

TEST_CASE("progress goes out again once the interval has passed", "[unit]") {
  ProgressFanout fanout(absl::Milliseconds(20));
  int sent = 0;
  ProgressFn fn = [&](const PullProgress&) { ++sent; };
  fanout.AddListener(&fn);
  const absl::Time end = absl::Now() + absl::Milliseconds(200);
  uint64_t i = 0;
  while (absl::Now() < end) fanout.Layer("a", LayerState::kDownloading, ++i, 1u << 30);
  // At most about 200 / 20 updates however fast the calls come (fewer if this
  // thread is starved on a busy machine, but more than the first).
  CHECK(sent >= 2);
  CHECK(sent <= 12);
}

}  // namespace
}  // namespace zlayer::images
