// kill -9 at any moment of a pull leaves a store that reopens consistent: no
// partial blob, no uncommitted snapshot, nothing in ingest/ or tmp/, and every
// blob's bytes match its name. The pull runs in images_pull_tool, a real process.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/fs_util.h"
#include "base/process.h"
#include "images/digest.h"
#include "images/metadata_db.h"
#include "store_helpers.h"

namespace zlayer::images {
namespace {

using namespace zlayer::images::testing;  // NOLINT

// Runs the pull tool until a line satisfies `kill_when`, then SIGKILLs it.
// Returns the lines seen; `finished` tells whether the tool ended by itself first.
std::vector<std::string> PullAndKill(const std::string& root, const std::string& ref,
                                     const std::function<bool(const std::string&)>& kill_when,
                                     bool* finished) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  base::UniqueFd rd(fds[0]), wr(fds[1]);
  base::SpawnOptions so;
  so.argv = {ZLAYER_IMAGES_PULL_TOOL, root, ref, std::to_string(2 << 20)};
  so.env = {"PATH=/usr/bin:/bin"};
  so.stdout_fd = wr.get();
  auto child = base::ChildProcess::Spawn(so);
  REQUIRE(child.ok());
  wr.Reset();
  std::vector<std::string> lines;
  std::string buf;
  *finished = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (;;) {
    struct pollfd p = {rd.get(), POLLIN, 0};
    const int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    REQUIRE(ms > 0);
    REQUIRE(::poll(&p, 1, ms) == 1);
    char chunk[4096];
    const ssize_t n = ::read(rd.get(), chunk, sizeof chunk);
    if (n <= 0) {
      *finished = true;
      break;
    }
    buf.append(chunk, static_cast<size_t>(n));
    bool kill = false;
    for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
      lines.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
      kill = kill || kill_when(lines.back());
    }
    if (kill) {
      REQUIRE(child->Signal(SIGKILL).ok());
      break;
    }
  }
  auto st = child->Wait(absl::Now() + absl::Seconds(20));
  REQUIRE(st.ok());
  return lines;
}

// What must hold after any crash, once the store has been reopened.
void CheckConsistent(const std::string& root) {
  CHECK(ListDir(root + "/ingest").empty());
  CHECK(ListDir(root + "/tmp").empty());
  auto db = MetadataDb::Open(root + "/metadata.db");
  REQUIRE(db.ok());
  auto snaps = (*db)->ListSnapshots();
  REQUIRE(snaps.ok());
  std::set<std::string> rows;
  for (const auto& s : *snaps) {
    CHECK(s.committed);
    rows.insert(std::to_string(s.id));
  }
  auto dirs = ListDir(root + "/snapshots");
  CHECK(std::set<std::string>(dirs.begin(), dirs.end()) == rows);
  for (const auto& name : ListDir(root + "/blobs/sha256")) {
    auto data = base::ReadFile(root + "/blobs/sha256/" + name);
    REQUIRE(data.ok());
    CHECK(DigestOf(*data) == "sha256:" + name);
  }
}

TEST_CASE("kill -9 mid-pull leaves a consistent store that pulls again", "[integration]") {
  TestRegistry reg;
  const BuiltImage img = ImageBuilder()
                             .Layer({TarEntry::File("one", RandomBytes(2 << 20, 1))})
                             .Layer({TarEntry::File("two", RandomBytes(2 << 20, 2))})
                             .Layer({TarEntry::File("three", RandomBytes(1 << 20, 3))})
                             .Build();
  REQUIRE(PushImage(reg.pusher(), "test/crash", "v1", img).ok());
  const std::string ref = reg.host() + "/test/crash:v1";
  auto dir = zlayer::testing::MakeTempDir();
  const std::string root = dir.path() + "/store";

  // Kill points from early to late: mid-download, just after a blob verified,
  // while a layer is extracting, just after a layer is done.
  auto bytes_over = [](uint64_t min) {
    return [min](const std::string& line) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      uint64_t done = 0;
      return f.size() == 5 && f[2] == "downloading" && absl::SimpleAtoi(f[3], &done) &&
             done > min;
    };
  };
  const std::vector<std::pair<std::string, std::function<bool(const std::string&)>>> points = {
      {"mid-download", bytes_over(512 << 10)},
      {"after verify", [](const std::string& l) { return absl::StrContains(l, " verified "); }},
      {"while extracting", [](const std::string& l) { return absl::StrContains(l, " extracting "); }},
      {"after a layer", [](const std::string& l) { return absl::StrContains(l, " done "); }},
  };
  int killed = 0;
  for (const auto& [name, when] : points) {
    INFO("kill point: " << name);
    bool finished = false;
    auto lines = PullAndKill(root, ref, when, &finished);
    if (!finished) ++killed;
    // Reopening recovers; the check reads the store's files directly.
    { auto store = OpenStore(root); }
    CheckConsistent(root);
  }
  CHECK(killed >= 3);
  auto store = OpenStore(root);
  auto r = store->PullImage(Req(ref), nullptr);
  REQUIRE(r.ok());
  CHECK(r->digest == img.manifest.digest);
  auto resolved = store->Resolve(ref);
  REQUIRE(resolved.ok());
  CHECK(*base::ReadFile(resolved->layer_dirs[2] + "/three") == RandomBytes(1 << 20, 3));
  store.reset();
  CheckConsistent(root);
}

}  // namespace
}  // namespace zlayer::images
