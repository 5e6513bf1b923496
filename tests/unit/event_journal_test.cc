// The event journal on its own: removals that were never journaled (the agent
// stopped between a removal and its event) are reported once at recovery.
#include "events/event_journal.h"

#include <catch2/catch.hpp>

#include "support/test_support.h"

using namespace zlayer;

TEST_CASE("journal: containers it saw alive that are gone get one removed event", "[unit]") {
  auto dir = testing::MakeTempDir("zt-journal-");
  events::EventJournalConfig config;
  config.path = dir.path() + "/events.db";
  const core::ContainerId kept{"web", 1}, gone{"web", 2}, removed{"db", 1};
  uint64_t last = 0;
  {
    auto journal = events::EventJournal::Open(config);
    REQUIRE(journal.ok());
    for (const auto& id : {kept, gone, removed}) {
      (*journal)->ContainerChanged(id, "dep", core::ContainerState::Running(), std::nullopt, "img");
    }
    (*journal)->ContainerRemoved(removed, "dep");  // journaled: nothing to reconcile
    last = (*journal)->LastSequence();
  }
  auto journal = events::EventJournal::Open(config);
  REQUIRE(journal.ok());
  CHECK((*journal)->ReconcileRemoved({kept}) == 1);
  auto events = (*journal)->ReadAfter(last, 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  const core::Event& event = events->front();
  CHECK(event.kind == core::EventKind::kContainerRemoved);
  REQUIRE(event.container);
  CHECK(*event.container == gone);
  CHECK(event.sequence == last + 1);
  CHECK_FALSE(event.message.empty());
  // Once: the removal is now on record.
  CHECK((*journal)->ReconcileRemoved({kept}) == 0);
  CHECK((*journal)->LastSequence() == last + 1);
}
