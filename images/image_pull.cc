// ImageStore::PullImage: resolve the reference, download blobs in parallel (bounded),
// verify them while they stream, unpack layers in order as they arrive, record.
#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "core/errors.h"
#include "images/credentials.h"
#include "images/registry_client.h"
#include "images/store_internal.h"

namespace zlayer::images {

using core::PullProgress;
using core::PullResult;
using LayerState = core::PullProgress::LayerState;

namespace {

bool Retryable(const absl::Status& s) { return absl::IsUnavailable(s); }

HostPolicy PolicyFor(const Reference& ref, const images::RegistryConfig& config) {
  HostPolicy p;
  const std::string api = ref.ApiHost();
  for (const auto& h : config.insecure) {
    if (h == ref.domain || h == api) p.insecure = true;
  }
  p.loopback = IsLoopbackHost(api);
  return p;
}

}  // namespace

absl::StatusOr<PullResult> ImageStore::PullImage(const core::PullRequest& request,
                                                 const ProgressFn& progress) {
  AGENTD_ASSIGN_OR_RETURN(Reference ref, ParseReference(request.image));
  const std::string key = StoreKey(ref);
  // A digest names immutable content: once here, no policy needs the network.
  if (request.policy != core::PullPolicy::kAlways || !ref.digest.empty()) {
    AGENTD_ASSIGN_OR_RETURN(auto local, FindLocal(ref));
    if (local) {
      AGENTD_ASSIGN_OR_RETURN(auto m, db_->GetManifest(local->manifest_digest));
      if (progress) {
        PullProgress p;
        p.status = absl::StrCat("Image is up to date for ", key, " (", local->top_digest, ")");
        progress(p);
      }
      return PullResult{key, local->top_digest, true,
                        m ? static_cast<uint64_t>(m->unpacked_size) : 0};
    }
    if (request.policy == core::PullPolicy::kNever) {
      return absl::NotFoundError(absl::StrCat(
          "image ", key, " is not present locally and the pull policy is Never"));
    }
  }

  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    absl::MutexLock lock(&mu_);
    auto& slot = flights_[key];
    if (!slot) {
      slot = std::make_shared<Flight>();
      leader = true;
    }
    flight = slot;
  }
  flight->fanout.AddListener(&progress);
  if (leader) {
    flight->result = PullLeader(ref, request, flight->fanout);
    // Once per pull that fetched something: followers share the leader's.
    if (flight->result.ok() && !flight->result->already_present) {
      Journal(core::EventKind::kImagePulled, flight->result->reference, flight->result->digest);
    }
    {
      absl::MutexLock lock(&mu_);
      flights_.erase(key);
    }
    flight->done.Notify();
  } else {
    PullProgress p;
    p.status = absl::StrCat("Waiting for the pull of ", key, " already in progress");
    if (progress) progress(p);
    flight->done.WaitForNotification();
  }
  flight->fanout.RemoveListener(&progress);
  return flight->result;
}

// Downloads one blob into the blob store (unless there), verifying size and digest
// on the way. `fanout` may be null (configs).
absl::Status ImageStore::DownloadBlob(RegistryClient& client, HttpClient& http,
                                      const Descriptor& desc, ProgressFanout* fanout,
                                      const std::atomic<bool>* abort) {
  auto guard = content_locks_.Lock("blob:" + desc.digest);
  const uint64_t total = static_cast<uint64_t>(desc.size);
  if (blobs_.Has(desc.digest)) {
    if (fanout) fanout->Layer(desc.digest, LayerState::kVerified, total, total);
    return absl::OkStatus();
  }
  AGENTD_ASSIGN_OR_RETURN(BlobStore::Writer writer, blobs_.NewWriter());
  absl::Status last;
  for (int attempt = 1; attempt <= std::max(1, options_.blob_attempts); ++attempt) {
    if (attempt > 1) {
      // Backoff between attempts; not synchronisation, just politeness to the registry.
      absl::SleepFor(absl::Milliseconds(200) * (1 << (attempt - 2)));
    }
    // A retry asks for the rest only; the hash simply continues. A registry that
    // ignores Range answers 200 with the whole blob, and we start over.
    const uint64_t offset = writer.size();
    absl::Status reset_error;
    auto on_status = [&](long status) {
      if (status == 200 && writer.size() > 0) reset_error = writer.Reset();
    };
    if (fanout) fanout->Layer(desc.digest, LayerState::kDownloading, offset, total);
    bool oversize = false;
    absl::Status write_error;
    // A transfer that failed after its last byte needs no second request.
    last = offset == total && total > 0
               ? absl::OkStatus()
               : client.GetBlob(
        http, desc.digest,
        [&](const char* data, size_t len) {
          if (abort != nullptr && abort->load(std::memory_order_relaxed)) return false;
          if (!reset_error.ok()) return false;
          if (writer.size() + len > total) {
            oversize = true;
            return false;
          }
          write_error = writer.Append(data, len);
          if (!write_error.ok()) return false;
          if (fanout) fanout->Layer(desc.digest, LayerState::kDownloading, writer.size(), total);
          return true;
        },
        offset, on_status);
    AGENTD_RETURN_IF_ERROR(reset_error);
    if (oversize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "size mismatch for ", desc.digest, ": registry sent more than the ", total,
          " bytes the manifest declares"));
    }
    if (!write_error.ok()) return write_error;
    if (abort != nullptr && abort->load()) return absl::CancelledError("pull abandoned");
    if (last.ok()) {
      AGENTD_RETURN_IF_ERROR(writer.Commit(desc.digest, desc.size));
      if (fanout) fanout->Layer(desc.digest, LayerState::kVerified, total, total);
      return absl::OkStatus();
    }
    if (!Retryable(last)) break;
    base::Logger("images")->warn("blob download failed digest={} attempt={} error={}",
                                 desc.digest, attempt, last);
  }
  return last;
}

absl::StatusOr<PullResult> ImageStore::PullLeader(const Reference& ref,
                                                  const core::PullRequest& request,
                                                  ProgressFanout& fanout) {
  auto log = base::Logger("images");
  const absl::Time started = absl::Now();
  const std::string key = StoreKey(ref);
  const std::string what = absl::StrCat("pull ", ref.String());
  std::optional<core::RegistryAuth> creds = request.auth;
  if (!creds) {
    AGENTD_ASSIGN_OR_RETURN(creds, LookupCredentials(options_.registries.credentials_file,
                                                     ref.domain));
  }
  RegistryClient client({ref.ApiHost(), ref.repository, PolicyFor(ref, options_.registries),
                         creds, trust_, options_.max_download_bytes_per_sec});
  HttpClient http(trust_);
  fanout.Status(absl::StrCat("Resolving ", ref.String()));

  auto top = client.GetManifest(http, ref.ManifestSelector());
  if (!top.ok()) return core::Annotate(top.status(), what);
  auto first = ParseManifest(top->body, top->media_type);
  if (!first.ok()) return core::Annotate(first.status(), what);
  ParsedManifest parsed = *std::move(first);
  FetchedManifest platform_manifest = *top;
  if (parsed.is_index) {
    const Platform want = options_.platform.value_or(Platform::Host());
    auto desc = SelectPlatform(parsed.index, want);
    if (!desc.ok()) return core::Annotate(desc.status(), what);
    auto fetched = client.GetManifest(http, desc->digest);
    if (!fetched.ok()) return core::Annotate(fetched.status(), what);
    auto second = ParseManifest(fetched->body, fetched->media_type);
    if (!second.ok()) return core::Annotate(second.status(), what);
    parsed = *std::move(second);
    if (parsed.is_index) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": nested image indexes are not supported"));
    }
    platform_manifest = *std::move(fetched);
  }
  const Manifest& manifest = parsed.manifest;

  Leases leases(this);
  {
    absl::ReaderMutexLock gc(&gc_mu_);
    leases.Add(top->digest);
    leases.Add(platform_manifest.digest);
    leases.Add(manifest.config.digest);
    for (const auto& l : manifest.layers) leases.Add(l.digest);
  }
  // On failure, drop whatever this pull stored that nothing else refers to.
  bool recorded = false;
  auto cleanup = absl::MakeCleanup([&] {
    if (recorded) return;
    leases.ReleaseAll();
    (void)Collect(std::vector<std::string>{});
  });

  // Same manifest as before (an Always pull of an unchanged tag): repoint only.
  AGENTD_ASSIGN_OR_RETURN(auto known, db_->GetManifest(platform_manifest.digest));
  if (known) {
    AGENTD_ASSIGN_OR_RETURN(bool complete, ManifestComplete(*known));
    if (complete) {
      AGENTD_RETURN_IF_ERROR(blobs_.Put(top->body).status());
      AGENTD_RETURN_IF_ERROR(
          db_->PutImage(ImageRow{key, top->digest, platform_manifest.digest, 0}, *known));
      recorded = true;
      fanout.Status(absl::StrCat("Digest: ", top->digest));
      fanout.Status(absl::StrCat("Status: Image is up to date for ", key));
      return PullResult{key, top->digest, true, static_cast<uint64_t>(known->unpacked_size)};
    }
  }

  // The config names the uncompressed layers, and so the snapshots.
  if (manifest.config.size > (4 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": image config is larger than 4 MiB"));
  }
  if (auto s = DownloadBlob(client, http, manifest.config, nullptr, nullptr); !s.ok()) {
    return core::Annotate(s, absl::StrCat(what, ": config ", manifest.config.digest));
  }
  AGENTD_ASSIGN_OR_RETURN(std::string config_json, blobs_.Read(manifest.config.digest));
  auto config = ParseImageConfig(config_json);
  if (!config.ok()) return core::Annotate(config.status(), what);
  if (config->diff_ids.size() != manifest.layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": manifest has ", manifest.layers.size(), " layers but the config lists ",
        config->diff_ids.size(), " diff_ids"));
  }
  const std::vector<std::string> chains = ChainIds(config->diff_ids);

  // Which layers must be fetched: those without a snapshot and without a blob.
  const size_t n = manifest.layers.size();
  std::vector<bool> have_snapshot(n, false);
  std::vector<size_t> to_fetch;
  {
    absl::ReaderMutexLock gc(&gc_mu_);
    for (size_t i = 0; i < n; ++i) {
      leases.Add(chains[i]);
      AGENTD_ASSIGN_OR_RETURN(auto snap, db_->GetSnapshot(chains[i]));
      have_snapshot[i] = snap && snap->committed;
      const auto& l = manifest.layers[i];
      const uint64_t size = static_cast<uint64_t>(l.size);
      if (have_snapshot[i]) {
        fanout.Layer(l.digest, LayerState::kAlreadyExists, size, size);
      } else if (blobs_.Has(l.digest)) {
        fanout.Layer(l.digest, LayerState::kVerified, size, size);
      } else {
        fanout.Layer(l.digest, LayerState::kWaiting, 0, size);
        to_fetch.push_back(i);
      }
    }
  }

  // Downloads run on a bounded set of workers; this thread unpacks layer i as soon
  // as its blob is in, bottom first, while later ones still download.
  struct Shared {
    absl::Mutex mu;
    size_t next ABSL_GUARDED_BY(mu) = 0;
    std::vector<int> done ABSL_GUARDED_BY(mu);  // 0 pending, 1 ok, -1 failed
    absl::Status error ABSL_GUARDED_BY(mu);
  } shared;
  std::atomic<bool> abort{false};
  {
    absl::MutexLock lock(&shared.mu);
    shared.done.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
      if (std::find(to_fetch.begin(), to_fetch.end(), i) == to_fetch.end()) shared.done[i] = 1;
    }
  }
  const size_t workers = std::min<size_t>(
      to_fetch.size(), static_cast<size_t>(std::max(1, options_.registries.max_parallel_downloads)));
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      HttpClient worker_http(trust_);
      for (;;) {
        size_t idx;
        {
          absl::MutexLock lock(&shared.mu);
          if (shared.next >= to_fetch.size() || abort.load()) return;
          idx = to_fetch[shared.next++];
        }
        absl::Status s =
            DownloadBlob(client, worker_http, manifest.layers[idx], &fanout, &abort);
        absl::MutexLock lock(&shared.mu);
        shared.done[idx] = s.ok() ? 1 : -1;
        if (!s.ok()) {
          if (shared.error.ok() && !absl::IsCancelled(s)) {
            shared.error = core::Annotate(s, absl::StrCat("layer ", manifest.layers[idx].digest));
          }
          abort.store(true);
        }
      }
    });
  }
  auto join = absl::MakeCleanup([&] {
    abort.store(true);
    for (auto& t : threads) t.join();
  });

  std::vector<std::string> lowers;  // top first
  int64_t unpacked = 0;
  for (size_t i = 0; i < n; ++i) {
    const Descriptor& layer = manifest.layers[i];
    {
      absl::MutexLock lock(&shared.mu);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared.mu) {
        return shared.done[i] != 0 || !shared.error.ok();
      };
      shared.mu.Await(absl::Condition(&ready));
      if (!shared.error.ok()) return core::Annotate(shared.error, what);
    }
    const uint64_t size = static_cast<uint64_t>(layer.size);
    if (!have_snapshot[i]) fanout.Layer(layer.digest, LayerState::kExtracting, size, size);
    auto snap = EnsureSnapshot(chains[i], layer, config->diff_ids[i], lowers);
    if (!snap.ok()) {
      abort.store(true);
      return core::Annotate(snap.status(), what);
    }
    if (!have_snapshot[i]) fanout.Layer(layer.digest, LayerState::kDone, size, size);
    unpacked += snap->size;
    lowers.insert(lowers.begin(), SnapshotDir(snap->id));
  }
  std::move(join).Invoke();

  AGENTD_RETURN_IF_ERROR(blobs_.Put(platform_manifest.body).status());
  AGENTD_RETURN_IF_ERROR(blobs_.Put(top->body).status());
  ManifestRow row;
  row.digest = platform_manifest.digest;
  row.repository = ref.Name();
  row.config_digest = manifest.config.digest;
  row.media_type = manifest.media_type;
  row.unpacked_size = unpacked;
  if (config->created) row.created_unix = absl::ToUnixSeconds(*config->created);
  for (size_t i = 0; i < n; ++i) {
    row.layers.push_back(LayerRow{manifest.layers[i].digest, chains[i], manifest.layers[i].size});
  }
  AGENTD_RETURN_IF_ERROR(db_->PutImage(ImageRow{key, top->digest, row.digest, 0}, row));
  recorded = true;
  fanout.Status(absl::StrCat("Digest: ", top->digest));
  fanout.Status(absl::StrCat("Status: Downloaded newer image for ", key));
  log->info("image pulled reference={} digest={} layers={} fetched={} dur_ms={}", key,
            top->digest, n, to_fetch.size(), absl::ToInt64Milliseconds(absl::Now() - started));
  return PullResult{key, top->digest, false, static_cast<uint64_t>(unpacked)};
}

}  // namespace zlayer::images
