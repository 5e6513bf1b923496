// Run to completion: create + start + wait + remove of `true`, through the agent's
// gRPC API, against raw `runc run` of a prepared bundle (the agent's own config
// for the same image, on a plain directory) and `ctr run --rm`.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "bench/cases/cases.h"

namespace zlayer::bench {

absl::Status RunToCompletionCase(BenchEnv& env, const CaseOptions& o, Report& report) {
  auto bundle = env.MakeRuncBundle("run-true", {"/bin/true"});
  if (!bundle.ok()) return bundle.status();
  int seq = 0;
  // Where the agent's time goes: each RPC of the sequence, timed on its own.
  std::vector<double> phase_ms[4];
  std::vector<Variant> variants;
  variants.push_back({"agent", nullptr, [&]() -> absl::Status {
                        const auto id = Id("run", static_cast<uint32_t>(seq++));
                        double t = NowMs();
                        auto lap = [&](int phase) {
                          const double now = NowMs();
                          phase_ms[phase].push_back(now - t);
                          t = now;
                        };
                        if (auto s = Create(env.stub(), id, Spec(env.image(), {"/bin/true"}));
                            !s.ok()) {
                          return s;
                        }
                        lap(0);
                        if (auto s = Start(env.stub(), id); !s.ok()) return s;
                        lap(1);
                        auto outcome = WaitOutcome(env.stub(), id);
                        if (!outcome.ok()) return outcome.status();
                        if (outcome->exit_code() != 0) {
                          return absl::InternalError(
                              absl::StrCat("true exited ", outcome->exit_code()));
                        }
                        lap(2);
                        auto s = Remove(env.stub(), id, false);
                        lap(3);
                        return s;
                      },
                      nullptr});
  variants.push_back({"runc run", nullptr, [&]() -> absl::Status {
                        auto r = env.Runc({"run", "--bundle", *bundle,
                                           absl::StrCat("bench-run-", seq++)});
                        if (!r.ok()) return r.status();
                        if (!r->ok()) return absl::InternalError("runc run: " + r->err);
                        return absl::OkStatus();
                      },
                      nullptr});
  if (env.has_containerd()) {
    variants.push_back({"ctr run --rm", nullptr, [&]() -> absl::Status {
                          return env.CtrOk({"run", "--rm", env.image(),
                                            absl::StrCat("bench-run-", seq++), "/bin/true"});
                        },
                        nullptr});
  }
  report.AddSamples("run", Alternate(variants, o.warmup, o.iterations));
  if (Row* agent = report.Find("run", "agent")) {
    agent->compare.push_back({"runc run", 1.25});
    if (env.has_containerd()) agent->compare.push_back({"ctr run --rm", 0.4});
  }
  // The agent's warm-up runs come first (Alternate warms each variant in turn).
  const char* kPhases[] = {"agent: CreateContainer", "agent: StartContainer",
                           "agent: Wait (to the outcome)", "agent: RemoveContainer"};
  for (int p = 0; p < 4; ++p) {
    std::vector<double>& v = phase_ms[p];
    v.erase(v.begin(), v.begin() + std::min<ptrdiff_t>(o.warmup, v.size()));
    Row r;
    r.case_name = "run";
    r.variant = kPhases[p];
    r.unit = "ms";
    r.summary = Summarize(v);
    r.note = "part of the agent row";
    report.Add(std::move(r));
  }
  return absl::OkStatus();
}

}  // namespace zlayer::bench
