#include "runtimes/oci/init_process.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/unique_fd.h"
#include "core/errors.h"

namespace zlayer::oci {
namespace {

bool ReadAt(int fd, void* buf, size_t size, off_t offset) {
  return ::pread(fd, buf, size, offset) == static_cast<ssize_t>(size);
}

// "" when the program headers hold no PT_INTERP; the header types differ only in
// width between ELF32 and ELF64.
template <typename Ehdr, typename Phdr>
std::string CheckNoInterpreter(int fd) {
  Ehdr eh;
  if (!ReadAt(fd, &eh, sizeof eh, 0)) return "is truncated (no ELF header)";
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) return "is not an ELF executable";
  if (eh.e_phentsize != sizeof(Phdr)) return "has a malformed ELF header";
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Phdr ph;
    if (!ReadAt(fd, &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof ph))) {
      return "is truncated (program headers)";
    }
    if (ph.p_type == PT_INTERP) {
      char interp[256] = {};
      const size_t n = std::min<size_t>(ph.p_filesz, sizeof interp - 1);
      (void)ReadAt(fd, interp, n, static_cast<off_t>(ph.p_offset));
      return absl::StrCat("is dynamically linked (interpreter ", interp,
                          "), so it cannot run inside an arbitrary image");
    }
  }
  return "";
}

std::string NameOf(const std::string& path) {
  const std::string base = path.substr(path.rfind('/') + 1);
  if (absl::StrContains(base, "catatonit")) return "catatonit";
  if (absl::StrContains(base, "tini")) return "tini";
  return base;
}

}  // namespace

const std::vector<std::string>& InitCandidates() {
  // tini-static first: scripts/install-deps.sh installs Debian's tini, whose
  // /usr/bin/tini is dynamically linked (the static check skips it).
  static const auto* paths = new std::vector<std::string>{
      "/usr/bin/tini-static",       "/usr/local/bin/tini-static", "/usr/bin/catatonit",
      "/usr/libexec/podman/catatonit", "/usr/local/bin/catatonit", "/usr/bin/tini",
      "/usr/local/bin/tini"};
  return *paths;
}

std::string CheckStaticExecutable(const std::string& path) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return absl::StrCat("cannot be opened: ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return "is not a regular file";
  if ((st.st_mode & 0111) == 0) return "is not executable";
  unsigned char ident[EI_NIDENT];
  if (!ReadAt(fd.get(), ident, sizeof ident, 0) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return "is not an ELF binary";
  }
  // Headers in the host's byte order only: a foreign-endian binary cannot run here.
  const bool host_le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  if ((ident[EI_DATA] == ELFDATA2LSB) != host_le) return "is for another byte order";
  switch (ident[EI_CLASS]) {
    case ELFCLASS64:
      return CheckNoInterpreter<Elf64_Ehdr, Elf64_Phdr>(fd.get());
    case ELFCLASS32:
      return CheckNoInterpreter<Elf32_Ehdr, Elf32_Phdr>(fd.get());
    default:
      return "has an unknown ELF class";
  }
}

absl::StatusOr<InitBinary> ProbeInitBinary(const std::string& configured) {
  if (!configured.empty()) {
    if (auto e = CheckStaticExecutable(configured); !e.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "init_path ", configured, " ", e,
          "; point oci.init_path at a statically linked init such as /usr/bin/tini-static "
          "(apt install tini)"));
    }
    return InitBinary{configured, NameOf(configured)};
  }
  std::vector<std::string> rejected;
  for (const auto& path : InitCandidates()) {
    if (::access(path.c_str(), F_OK) != 0) continue;
    if (auto e = CheckStaticExecutable(path); !e.empty()) {
      rejected.push_back(absl::StrCat(path, " ", e));
      continue;
    }
    return InitBinary{path, NameOf(path)};
  }
  std::string message = absl::StrCat("no static init binary found (looked for ",
                                     absl::StrJoin(InitCandidates(), ", "), ")");
  if (!rejected.empty()) absl::StrAppend(&message, "; ", absl::StrJoin(rejected, "; "));
  absl::StrAppend(&message, ": apt install tini (it ships /usr/bin/tini-static), or set "
                            "oci.init_path");
  return absl::FailedPreconditionError(message);
}

absl::StatusOr<std::optional<InitBinary>> ResolveInit(const core::ServiceSpec& spec,
                                                      const runtimes::BackendConfig& config,
                                                      const absl::StatusOr<InitBinary>& probed) {
  if (!spec.init_process.value_or(config.init_process)) return std::nullopt;
  if (probed.ok()) return *probed;
  auto again = ProbeInitBinary(config.init_path);
  if (!again.ok()) {
    const char* why = spec.init_process ? "spec.init_process is set"
                                        : "the agent's init_process default is on";
    return core::Annotate(again.status(), absl::StrCat(why, " but the init is missing"));
  }
  return *again;
}

void ApplyInit(const InitBinary& init, nlohmann::json* config) {
  auto& process = (*config)["process"];
  std::vector<std::string> args = {kInitMountPath, "--"};
  for (const auto& a : process["args"]) args.push_back(a.get<std::string>());
  process["args"] = std::move(args);
  // nosuid and nodev as for any host file shown to a container; never noexec.
  (*config)["mounts"].push_back({{"destination", kInitMountPath},
                                 {"type", "bind"},
                                 {"source", init.path},
                                 {"options", {"bind", "ro", "nosuid", "nodev", "rprivate"}}});
}

}  // namespace zlayer::oci
