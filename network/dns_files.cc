#include "network/dns_files.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "core/errors.h"

namespace zlayer::network {

namespace {

bool IsLoopbackNameserver(absl::string_view line, bool* is_nameserver) {
  std::vector<absl::string_view> words =
      absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  *is_nameserver = words.size() >= 2 && words[0] == "nameserver";
  if (!*is_nameserver) return false;
  return absl::StartsWith(words[1], "127.") || words[1] == "::1" ||
         absl::StartsWith(words[1], "0:0:0:0:0:0:0:1");
}

}  // namespace

std::string ContainerResolvConf(const std::string& host_text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(host_text, '\n')) {
    bool nameserver = false;
    if (IsLoopbackNameserver(absl::StripAsciiWhitespace(line), &nameserver)) continue;
    if (line.empty()) continue;
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string HostResolvConf() {
  std::string text = base::ReadFile("/etc/resolv.conf").value_or("");
  bool any_remote = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    bool nameserver = false;
    if (!IsLoopbackNameserver(absl::StripAsciiWhitespace(line), &nameserver) && nameserver) {
      any_remote = true;
    }
  }
  if (!any_remote) {
    // systemd-resolved's stub (127.0.0.53) is unreachable from a container; the
    // servers it forwards to are listed here.
    if (auto upstream = base::ReadFile("/run/systemd/resolve/resolv.conf"); upstream.ok()) {
      text = *upstream;
    }
  }
  return ContainerResolvConf(text);
}

absl::Status RewriteInPlace(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return core::ErrnoError(absl::StrCat("open ", path));
  absl::Status status;
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      status = core::ErrnoError(absl::StrCat("write ", path));
      break;
    }
    done += static_cast<size_t>(n);
  }
  // Truncate after writing, not before: a reader never sees an empty file.
  if (status.ok() && ::ftruncate(fd, static_cast<off_t>(text.size())) != 0) {
    status = core::ErrnoError(absl::StrCat("truncate ", path));
  }
  ::close(fd);
  return status;
}

std::string HostsTable::Render(const Entry& entry) const {
  absl::ReaderMutexLock lock(&mu_);
  return RenderLocked(entry);
}

std::string HostsTable::RenderLocked(const Entry& entry) const {
  std::string out = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (entry.ipv4) {
    absl::StrAppend(&out, *entry.ipv4, "\t", entry.name, " ", entry.service, "\n");
  } else {
    absl::StrAppend(&out, "127.0.1.1\t", entry.name, "\n");
  }
  for (const auto& [name, peer] : entries_) {
    if (name == entry.name || !peer.ipv4 || peer.deployment != entry.deployment ||
        peer.network != entry.network) {
      continue;
    }
    absl::StrAppend(&out, *peer.ipv4, "\t", peer.name, " ", peer.service, "\n");
  }
  return out;
}

absl::Status HostsTable::RewriteGroup(const std::string& deployment, const std::string& network) {
  absl::Status first;
  for (const auto& [name, entry] : entries_) {
    if (entry.deployment != deployment || entry.network != network) continue;
    if (auto status = RewriteInPlace(entry.hosts_path, RenderLocked(entry)); !status.ok()) {
      if (first.ok()) first = status;
    }
  }
  return first;
}

absl::Status HostsTable::Set(const Entry& entry) {
  absl::MutexLock lock(&mu_);
  std::optional<Entry> before;
  if (auto it = entries_.find(entry.name); it != entries_.end()) before = it->second;
  entries_[entry.name] = entry;
  if (before && (before->deployment != entry.deployment || before->network != entry.network)) {
    (void)RewriteGroup(before->deployment, before->network);
  }
  return RewriteGroup(entry.deployment, entry.network);
}

void HostsTable::Remove(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  const Entry gone = it->second;
  entries_.erase(it);
  (void)RewriteGroup(gone.deployment, gone.network);
}

}  // namespace zlayer::network
