#include "events/event_journal.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/sqlite_statement.h"
#include "nlohmann/json.hpp"

namespace zlayer::events {
namespace {

using json = nlohmann::json;
using core::ContainerState;
using core::Event;
using core::EventKind;
using Statement = base::SqliteStatement;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ns INTEGER NOT NULL,
  body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS last_phase (
  container TEXT PRIMARY KEY,
  phase INTEGER NOT NULL);
)sql";

// Prune every this many appends: a DELETE per append would double their cost.
constexpr uint64_t kPruneEvery = 64;

std::string ContainerKey(const core::ContainerId& id) {
  return absl::StrCat(id.service, "-rep-", id.replica);
}

json ToJson(const Event& event) {
  json body = {{"kind", core::EventKindName(event.kind)}};
  if (event.container) {
    body["service"] = event.container->service;
    body["replica"] = event.container->replica;
  }
  if (!event.deployment.empty()) body["deployment"] = event.deployment;
  if (event.state) {
    body["phase"] = static_cast<int>(event.state->phase);
    body["exit_code"] = event.state->exit_code;
    if (!event.state->reason.empty()) body["reason"] = event.state->reason;
  }
  if (event.outcome) {
    json outcome = {{"exit_code", event.outcome->exit_code},
                    {"reason", static_cast<int>(event.outcome->reason)},
                    {"message", event.outcome->message}};
    if (event.outcome->signal) outcome["signal"] = *event.outcome->signal;
    if (event.outcome->finished_at) {
      outcome["finished_at_ns"] = absl::ToUnixNanos(*event.outcome->finished_at);
    }
    body["outcome"] = outcome;
  }
  if (!event.image.empty()) body["image"] = event.image;
  if (!event.message.empty()) body["message"] = event.message;
  return body;
}

Event FromJson(uint64_t seq, int64_t time_ns, const json& body) {
  Event event;
  event.sequence = seq;
  event.time = absl::FromUnixNanos(time_ns);
  event.kind = core::EventKindFromName(body.value("kind", "")).value_or(EventKind::kAgentStarted);
  if (body.contains("service")) {
    event.container = core::ContainerId{body.value("service", ""), body.value("replica", 0u)};
  }
  event.deployment = body.value("deployment", "");
  if (body.contains("phase")) {
    ContainerState state;
    state.phase = static_cast<ContainerState::Phase>(body.value("phase", 0));
    state.exit_code = body.value("exit_code", 0);
    state.reason = body.value("reason", "");
    event.state = state;
  }
  if (body.contains("outcome")) {
    const json& o = body["outcome"];
    core::WaitOutcome outcome;
    outcome.exit_code = o.value("exit_code", 0);
    outcome.reason = static_cast<core::WaitReason>(o.value("reason", 0));
    outcome.message = o.value("message", "");
    if (o.contains("signal")) outcome.signal = o.value("signal", "");
    if (o.contains("finished_at_ns")) {
      outcome.finished_at = absl::FromUnixNanos(o.value("finished_at_ns", int64_t{0}));
    }
    event.outcome = outcome;
  }
  event.image = body.value("image", "");
  event.message = body.value("message", "");
  return event;
}

std::optional<EventKind> KindOf(const ContainerState& state) {
  switch (state.phase) {
    case ContainerState::Phase::kPending:
      return EventKind::kContainerCreated;
    case ContainerState::Phase::kRunning:
      return EventKind::kContainerStarted;
    case ContainerState::Phase::kStopping:
      return EventKind::kContainerStopping;
    case ContainerState::Phase::kExited:
      return EventKind::kContainerExited;
    case ContainerState::Phase::kFailed:
      return EventKind::kContainerFailed;
    case ContainerState::Phase::kInitializing:
      return std::nullopt;  // not an event of its own until init actions exist
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventJournal>> EventJournal::Open(const EventJournalConfig& config) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(config.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::FailedPreconditionError(
        absl::StrCat("event journal ", config.path, ": ", message,
                     "; check the data directory or move the damaged file away"));
  }
  std::unique_ptr<EventJournal> journal(new EventJournal(db, config));
  if (auto status = journal->Init(); !status.ok()) return status;
  return journal;
}

absl::Status EventJournal::Init() {
  absl::MutexLock lock(&mu_);
  sqlite3_busy_timeout(db_, 5000);
  // WAL with synchronous=NORMAL: a commit survives this process being killed at
  // any point; a power loss may drop the last commits, and with them the
  // last_phase rows, so recovery records those changes again rather than losing
  // them.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", kSchema}) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : "unknown error";
      sqlite3_free(error);
      return absl::FailedPreconditionError(
          absl::StrCat("event journal ", config_.path, ": ", message));
    }
  }
  // The sequence continues from the highest ever used, also when the newest rows
  // were pruned (AUTOINCREMENT keeps it in sqlite_sequence).
  Statement last(db_, "SELECT seq FROM sqlite_sequence WHERE name = 'events'");
  if (last.ok() && last.Step() == SQLITE_ROW) last_ = static_cast<uint64_t>(last.Int(0));
  Statement oldest(db_, "SELECT MIN(seq) FROM events");
  oldest_ = last_ + 1;
  if (oldest.ok() && oldest.Step() == SQLITE_ROW && !oldest.IsNull(0)) {
    oldest_ = static_cast<uint64_t>(oldest.Int(0));
  }
  return absl::OkStatus();
}

EventJournal::~EventJournal() {
  absl::MutexLock lock(&mu_);
  sqlite3_close(db_);
}

void EventJournal::ContainerChanged(const core::ContainerId& id, const std::string& deployment,
                                    const ContainerState& state,
                                    const std::optional<core::WaitOutcome>& outcome,
                                    const std::string& image) {
  auto kind = KindOf(state);
  if (!kind) return;
  Event event;
  event.kind = *kind;
  event.container = id;
  event.deployment = deployment;
  event.state = state;
  event.image = image;
  if (state.phase == ContainerState::Phase::kExited) event.outcome = outcome;
  std::vector<Event> batch;
  if (event.outcome && event.outcome->reason == core::WaitReason::kOomKilled) {
    // The OOM kill, then the exit, in one transaction: a republished exit
    // repeats neither.
    Event oom = event;
    oom.kind = EventKind::kContainerOom;
    oom.state.reset();
    batch.push_back(std::move(oom));
  }
  batch.push_back(std::move(event));
  Append(std::move(batch), static_cast<int>(state.phase));
}

void EventJournal::ContainerRemoved(const core::ContainerId& id, const std::string& deployment) {
  Event event;
  event.kind = EventKind::kContainerRemoved;
  event.container = id;
  event.deployment = deployment;
  Append({std::move(event)}, -1);
}

void EventJournal::Record(Event event) { Append({std::move(event)}, std::nullopt); }

size_t EventJournal::ReconcileRemoved(const std::vector<core::ContainerId>& existing) {
  std::vector<std::string> seen_alive;
  {
    absl::MutexLock lock(&mu_);
    Statement rows(db_, "SELECT container FROM last_phase ORDER BY container");
    while (rows.ok() && rows.Step() == SQLITE_ROW) seen_alive.push_back(rows.Text(0));
  }
  absl::flat_hash_set<std::string> present;
  for (const auto& id : existing) present.insert(ContainerKey(id));
  size_t reported = 0;
  for (const auto& key : seen_alive) {
    if (present.contains(key)) continue;
    auto id = core::ContainerId::Parse(key);
    if (!id.ok()) continue;
    Event event;
    event.kind = EventKind::kContainerRemoved;
    event.container = *id;
    event.message = "removed while the agent was stopping; reported at recovery";
    Append({std::move(event)}, -1);
    ++reported;
  }
  return reported;
}

void EventJournal::Append(std::vector<Event> batch, std::optional<int> container_phase) {
  if (batch.empty()) return;
  const Event& event = batch.back();
  uint64_t appended = 0;
  {
    absl::MutexLock lock(&mu_);
    auto fail = [&](const char* what) {
      base::Logger("events")->error("event journal {} failed: {}", what, sqlite3_errmsg(db_));
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    };
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      fail("begin");
      return;
    }
    if (container_phase && event.container) {
      const std::string key = ContainerKey(*event.container);
      Statement seen(db_, "SELECT phase FROM last_phase WHERE container = ?1");
      seen.Bind(1, key);
      if (seen.ok() && seen.Step() == SQLITE_ROW && seen.Int(0) == *container_phase) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return;  // recorded already
      }
      // A removed container's row goes (-1 is only the marker of this call):
      // a new container of the same name starts afresh.
      Statement upsert(db_, *container_phase < 0
                                ? "DELETE FROM last_phase WHERE container = ?1"
                                : "INSERT INTO last_phase (container, phase) VALUES (?1, ?2) "
                                  "ON CONFLICT(container) DO UPDATE SET phase = ?2");
      upsert.Bind(1, key);
      if (*container_phase >= 0) upsert.Bind(2, int64_t{*container_phase});
      if (!upsert.ok() || upsert.Step() != SQLITE_DONE) {
        fail("last phase");
        return;
      }
    }
    const absl::Time now = absl::Now();
    for (const Event& one : batch) {
      Statement insert(db_, "INSERT INTO events (time_ns, body) VALUES (?1, ?2)");
      const absl::Time time = one.time == absl::Time() ? now : one.time;
      insert.Bind(1, absl::ToUnixNanos(time)).Bind(2, ToJson(one).dump());
      if (!insert.ok() || insert.Step() != SQLITE_DONE) {
        fail("insert");
        return;
      }
    }
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      fail("commit");
      return;
    }
    last_ = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
    if (oldest_ > last_) oldest_ = last_;
    if (++appends_since_prune_ >= kPruneEvery) PruneLocked();
    appended = last_;
  }
  Notify(appended);
}

void EventJournal::PruneLocked() {
  appends_since_prune_ = 0;
  const uint64_t max_events = static_cast<uint64_t>(config_.max_events);
  const int64_t keep_from = last_ >= max_events ? static_cast<int64_t>(last_ - max_events + 1) : 0;
  const int64_t not_before = absl::ToUnixNanos(absl::Now() - config_.max_age);
  Statement prune(db_, "DELETE FROM events WHERE seq < ?1 OR time_ns < ?2");
  prune.Bind(1, keep_from).Bind(2, not_before);
  if (!prune.ok() || prune.Step() != SQLITE_DONE) return;
  Statement oldest(db_, "SELECT MIN(seq) FROM events");
  oldest_ = last_ + 1;
  if (oldest.ok() && oldest.Step() == SQLITE_ROW && !oldest.IsNull(0)) {
    oldest_ = static_cast<uint64_t>(oldest.Int(0));
  }
}

absl::StatusOr<std::vector<Event>> EventJournal::ReadAfter(uint64_t after, size_t limit) const {
  absl::MutexLock lock(&mu_);
  Statement read(db_, "SELECT seq, time_ns, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
  read.Bind(1, static_cast<int64_t>(after)).Bind(2, static_cast<int64_t>(limit));
  if (!read.ok()) return absl::InternalError(absl::StrCat("event journal: ", sqlite3_errmsg(db_)));
  std::vector<Event> out;
  int rc;
  while ((rc = read.Step()) == SQLITE_ROW) {
    auto body = json::parse(read.Text(2), nullptr, false);
    if (!body.is_object()) continue;  // cannot happen short of a damaged file; skip it
    out.push_back(FromJson(static_cast<uint64_t>(read.Int(0)), read.Int(1), body));
  }
  if (rc != SQLITE_DONE) {
    return absl::InternalError(absl::StrCat("event journal: ", sqlite3_errmsg(db_)));
  }
  return out;
}

absl::Status EventJournal::CheckResume(uint64_t after) const {
  absl::MutexLock lock(&mu_);
  if (after > last_) {
    return absl::OutOfRangeError(
        absl::StrCat("event ", after, " is past the journal's last (", last_,
                     "): this agent's journal was reset; relist, then follow from ", last_));
  }
  if (after + 1 < oldest_) {
    return absl::OutOfRangeError(
        absl::StrCat("events after ", after, " are no longer kept (the oldest kept is ", oldest_,
                     "): relist the containers, then follow from ", last_));
  }
  return absl::OkStatus();
}

uint64_t EventJournal::LastSequence() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

uint64_t EventJournal::OldestSequence() const {
  absl::MutexLock lock(&mu_);
  return oldest_;
}

uint64_t EventJournal::AddListener(std::function<void(uint64_t)> fn) {
  absl::MutexLock lock(&listeners_mu_);
  const uint64_t token = next_token_++;
  listeners_[token] = std::move(fn);
  return token;
}

void EventJournal::RemoveListener(uint64_t token) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(token);
}

void EventJournal::Notify(uint64_t last) {
  // Called outside the lock: a listener may drop the last reference to its
  // stream, whose destructor removes the listener.
  std::vector<std::function<void(uint64_t)>> listeners;
  {
    absl::MutexLock lock(&listeners_mu_);
    for (const auto& [token, fn] : listeners_) listeners.push_back(fn);
  }
  for (const auto& fn : listeners) fn(last);
}

}  // namespace zlayer::events
