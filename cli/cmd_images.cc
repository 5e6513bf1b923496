// Images: pull, import, images, tag, rmi, prune.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/unique_fd.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/pull_progress.h"

namespace zlayer::cli {
namespace {

absl::StatusOr<int> Pull(Context& ctx) {
  pb::PullImageRequest request;
  request.set_image(ctx.args.args[0]);
  auto policy = ParsePullPolicy(ctx.args.ValueOr("policy", "always"));
  if (!policy.ok()) return policy.status();
  request.set_policy(*policy);
  if (auto user = ctx.args.Value("username")) {
    if (!ctx.args.Has("password-stdin")) {
      return absl::InvalidArgumentError("pull: --username needs --password-stdin");
    }
    std::string password;
    std::getline(std::cin, password);
    request.mutable_auth()->set_username(*user);
    request.mutable_auth()->set_password(std::string(absl::StripTrailingAsciiWhitespace(password)));
  }
  const bool quiet = ctx.args.Has("quiet");
  auto done = PullWithProgress(ctx.client(), request, quiet ? nullptr : stdout);
  if (!done.ok()) return done.status();
  const std::string ref = done->reference().empty() ? request.image() : done->reference();
  if (quiet) {
    Out(absl::StrCat(ref, "\n"));
  } else {
    Out(absl::StrCat(done->already_present() ? "Image is up to date: " : "Pulled ", ref,
                     done->digest().empty() ? "" : absl::StrCat(" ", done->digest()),
                     done->size_bytes() ? absl::StrCat(" (", HumanBytes(done->size_bytes()), ")") : "",
                     "\n"));
  }
  return 0;
}

absl::StatusOr<int> Import(Context& ctx) {
  const std::string& path = ctx.args.args[0];
  base::UniqueFd fd(path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return absl::ErrnoToStatus(errno, absl::StrCat("import: open ", path));
  auto call = ctx.client().Stream();
  pb::ImportImageResponse response;
  auto writer = ctx.client().stub().ImportImage(call.get(), &response);
  pb::ImportImageRequest chunk;
  if (ctx.args.args.size() > 1) chunk.set_reference(ctx.args.args[1]);
  std::string buffer(1 << 20, '\0');
  bool sent_any = false;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("import: read ", path));
    if (n == 0 && sent_any) break;
    chunk.set_chunk(buffer.data(), static_cast<size_t>(n));
    // A failed write means the agent gave up; Finish() says why.
    if (!writer->Write(chunk)) break;
    sent_any = true;
    chunk.clear_reference();
    if (n == 0) break;
  }
  writer->WritesDone();
  if (auto s = ctx.client().Error(writer->Finish()); !s.ok()) return s;
  Out(absl::StrCat("Imported ", response.reference(),
                   response.digest().empty() ? "" : absl::StrCat(" ", response.digest()), "\n"));
  return 0;
}

absl::StatusOr<int> Images(Context& ctx) {
  auto json = WantJson(ctx.args);
  if (!json.ok()) return json.status();
  auto call = ctx.client().Call();
  pb::ListImagesResponse response;
  if (auto s = ctx.client().Error(
          ctx.client().stub().ListImages(call.get(), pb::ListImagesRequest(), &response));
      !s.ok()) {
    return s;
  }
  if (*json) {
    std::string out = "[";
    for (int i = 0; i < response.images_size(); ++i) {
      absl::StrAppend(&out, i ? "," : "", ToJson(response.images(i)));
    }
    Out(out + "]\n");
    return 0;
  }
  if (ctx.args.Has("quiet")) {
    for (const auto& image : response.images()) Out(image.reference() + "\n");
    return 0;
  }
  Table table({"REFERENCE", "DIGEST", "SIZE", "CREATED", "CONTAINERS"});
  for (const auto& image : response.images()) {
    table.AddRow({image.reference(), ShortDigest(image.digest()),
                  image.has_size_bytes() ? HumanBytes(image.size_bytes()) : "-",
                  image.has_created_at() ? FormatTime(image.created_at()) : "-",
                  absl::StrCat(image.containers())});
  }
  Out(table.ToString());
  return 0;
}

absl::StatusOr<int> Tag(Context& ctx) {
  auto call = ctx.client().Call();
  pb::TagImageRequest request;
  request.set_source(ctx.args.args[0]);
  request.set_target(ctx.args.args[1]);
  pb::TagImageResponse response;
  if (auto s = ctx.client().Error(ctx.client().stub().TagImage(call.get(), request, &response));
      !s.ok()) {
    return s;
  }
  return 0;
}

absl::StatusOr<int> Rmi(Context& ctx) {
  int code = 0;
  for (const auto& image : ctx.args.args) {
    auto call = ctx.client().Call(absl::Minutes(2));
    pb::RemoveImageRequest request;
    request.set_image(image);
    request.set_force(ctx.args.Has("force"));
    pb::RemoveImageResponse response;
    absl::Status s =
        ctx.client().Error(ctx.client().stub().RemoveImage(call.get(), request, &response));
    if (s.ok()) {
      Out(absl::StrCat("Removed ", image, "\n"));
    } else {
      PrintError(s);
      code = 1;
    }
  }
  return code;
}

absl::StatusOr<int> Prune(Context& ctx) {
  auto call = ctx.client().Call(absl::Minutes(10));
  pb::PruneImagesResponse response;
  if (auto s = ctx.client().Error(
          ctx.client().stub().PruneImages(call.get(), pb::PruneImagesRequest(), &response));
      !s.ok()) {
    return s;
  }
  for (const auto& d : response.deleted()) Out(absl::StrCat("Deleted ", d, "\n"));
  Out(absl::StrCat("Reclaimed ", HumanBytes(response.space_reclaimed()), "\n"));
  return 0;
}

}  // namespace

void AddImageCommands(std::vector<Command>* out) {
  Command pull{{"pull", "[OPTIONS] REF", "Pull an image from its registry",
                "Shows a progress bar per layer on a terminal and a line per layer change "
                "otherwise. Credentials come from the agent's store for the registry host "
                "unless --username is given.",
                {{"policy", 0, "POLICY", "always (default), if_not_present or never"},
                 {"username", 0, "USER", "registry user for this pull only"},
                 {"password-stdin", 0, "", "read the registry password from stdin"},
                 {"quiet", 'q', "", "print only the resolved reference"}},
                1, 1},
               Pull};
  Command import{{"import", "FILE.tar [REF]", "Import an OCI image layout tar (- = stdin)",
                  "Without REF the image is named by the layout's "
                  "org.opencontainers.image.ref.name annotation.",
                  {}, 1, 2},
                 Import};
  Command images{{"images", "[OPTIONS]", "List local images", "",
                  {{"quiet", 'q', "", "print only references"}}, 0, 0},
                 Images};
  AddOutputOption(&images.spec);
  Command tag{{"tag", "SRC DST", "Give an image another reference", "", {}, 2, 2}, Tag};
  Command rmi{{"rmi", "[-f] REF...", "Remove images", "",
               {{"force", 'f', "", "remove even when containers use the image"}}, 1},
              Rmi};
  Command prune{{"prune", "", "Remove images no container uses", "", {}, 0, 0}, Prune};
  for (Command* c : {&pull, &import, &images, &tag, &rmi, &prune}) out->push_back(std::move(*c));
}

}  // namespace zlayer::cli
