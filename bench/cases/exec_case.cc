// Exec `true` in a running container: the agent's buffered Exec and ExecStream
// against raw `runc exec` and `ctr task exec`, each in its own running container
// of the same image.
#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "bench/cases/cases.h"

namespace zlayer::bench {

absl::Status ExecCase(BenchEnv& env, const CaseOptions& o, Report& report) {
  const std::vector<std::string> sleeper = {"/bin/sleep", "1000000"};
  const auto id = Id("exec", 0);
  if (auto s = Create(env.stub(), id, Spec(env.image(), sleeper)); !s.ok()) return s;
  auto remove_agent = absl::MakeCleanup([&] { (void)Remove(env.stub(), id, true); });
  if (auto s = Start(env.stub(), id); !s.ok()) return s;

  auto bundle = env.MakeRuncBundle("exec-sleep", sleeper);
  if (!bundle.ok()) return bundle.status();
  const std::string runc_id = "bench-exec";
  auto started = env.Runc({"run", "--detach", "--bundle", *bundle, runc_id});
  if (!started.ok()) return started.status();
  if (!started->ok()) return absl::InternalError("runc run --detach: " + started->err);
  auto remove_runc = absl::MakeCleanup([&] { (void)env.Runc({"delete", "--force", runc_id}); });

  const std::string ctr_id = "bench-exec";
  if (env.has_containerd()) {
    if (auto s = env.CtrOk({"run", "-d", env.image(), ctr_id, sleeper[0], sleeper[1]}); !s.ok()) {
      return s;
    }
  }
  auto remove_ctr = absl::MakeCleanup([&] {
    if (!env.has_containerd()) return;
    (void)env.Ctr({"task", "rm", "-f", ctr_id});
    (void)env.Ctr({"container", "rm", ctr_id});
  });

  int seq = 0;
  std::vector<Variant> variants;
  variants.push_back({"agent Exec", nullptr, [&]() -> absl::Status {
                        auto r = Exec(env.stub(), id, {"/bin/true"});
                        if (!r.ok()) return r.status();
                        if (r->exit_code() != 0) return absl::InternalError("exit code");
                        return absl::OkStatus();
                      },
                      nullptr});
  variants.push_back({"agent ExecStream", nullptr, [&]() -> absl::Status {
                        auto r = ExecStream(env.stub(), id, {"/bin/true"});
                        if (!r.ok()) return r.status();
                        if (*r != 0) return absl::InternalError("exit code");
                        return absl::OkStatus();
                      },
                      nullptr});
  variants.push_back({"runc exec", nullptr, [&]() -> absl::Status {
                        auto r = env.Runc({"exec", runc_id, "/bin/true"});
                        if (!r.ok()) return r.status();
                        if (!r->ok()) return absl::InternalError("runc exec: " + r->err);
                        return absl::OkStatus();
                      },
                      nullptr});
  if (env.has_containerd()) {
    variants.push_back({"ctr task exec", nullptr, [&]() -> absl::Status {
                          return env.CtrOk({"task", "exec", "--exec-id",
                                            absl::StrCat("e", seq++), ctr_id, "/bin/true"});
                        },
                        nullptr});
  }
  report.AddSamples("exec", Alternate(variants, o.warmup, o.iterations));
  for (const char* v : {"agent Exec", "agent ExecStream"}) {
    if (Row* r = report.Find("exec", v)) {
      r->compare.push_back({"runc exec", 1.2});
      if (env.has_containerd()) r->compare.push_back({"ctr task exec"});
    }
  }
  return absl::OkStatus();
}

}  // namespace zlayer::bench
