// What a network costs a run to completion (create + start + wait + remove of
// `true`): the agent on its default bridge network against the same agent with
// `network: none`, and `ctr run --rm --cni` against `ctr run --rm`, all four in
// one network namespace the bench makes, alternating. The two differences are
// each tool's network cost; the brief wants the agent's below containerd's.
#include "absl/strings/str_cat.h"
#include "bench/cases/cases.h"
#include "bench/harness/network_env.h"

namespace zlayer::bench {
namespace {

absl::Status AgentRun(Stub& stub, const std::string& image, const pb::ContainerId& id,
                      bool no_network) {
  pb::ServiceSpec spec = Spec(image, {"/bin/true"});
  if (no_network) spec.set_network("none");
  if (auto s = Create(stub, id, spec); !s.ok()) return s;
  if (auto s = Start(stub, id); !s.ok()) return s;
  auto outcome = WaitOutcome(stub, id);
  if (!outcome.ok()) return outcome.status();
  if (outcome->exit_code() != 0) {
    return absl::InternalError(absl::StrCat("true exited ", outcome->exit_code()));
  }
  return Remove(stub, id, false);
}

}  // namespace

absl::Status NetworkCase(BenchEnv& env, const CaseOptions& o, Report& report) {
  auto created = NetworkBench::Create(env);
  if (!created.ok()) return created.status();
  NetworkBench& net = **created;
  int seq = 0;
  constexpr char kAgentBridge[] = "agent, default network";
  constexpr char kAgentNone[] = "agent, network none";
  constexpr char kCtrCni[] = "ctr run --rm --cni";
  constexpr char kCtrPlain[] = "ctr run --rm";
  std::vector<Variant> variants;
  variants.push_back({kAgentBridge, nullptr,
                      [&] {
                        return AgentRun(net.agent(), net.agent_image(),
                                        Id("net-bridge", static_cast<uint32_t>(seq++)), false);
                      },
                      nullptr});
  variants.push_back({kAgentNone, nullptr,
                      [&] {
                        return AgentRun(net.agent(), net.agent_image(),
                                        Id("net-none", static_cast<uint32_t>(seq++)), true);
                      },
                      nullptr});
  if (net.has_ctr()) {
    variants.push_back({kCtrCni, nullptr,
                        [&] {
                          return net.CtrOk({"run", "--rm", "--cni", env.image(),
                                            absl::StrCat("bench-net-", seq++), "/bin/true"});
                        },
                        nullptr});
    variants.push_back({kCtrPlain, nullptr,
                        [&] {
                          return net.CtrOk({"run", "--rm", env.image(),
                                            absl::StrCat("bench-net-", seq++), "/bin/true"});
                        },
                        nullptr});
  }
  report.AddSamples("network", Alternate(variants, o.warmup, o.iterations));
  Row* bridge = report.Find("network", kAgentBridge);
  Row* none = report.Find("network", kAgentNone);
  if (bridge == nullptr || none == nullptr || !bridge->error.empty() || !none->error.empty()) {
    return absl::OkStatus();  // the failed rows carry the error
  }
  bridge->compare.push_back({kAgentNone});
  bridge->note = "embedded default: bridge + host-local (+ portmap when publishing)";
  const double agent_cost = bridge->summary.median - none->summary.median;
  Row* cni = report.Find("network", kCtrCni);
  Row* plain = report.Find("network", kCtrPlain);
  if (cni != nullptr) {
    cni->compare.push_back({kCtrPlain});
    cni->note = "the same plugins (bridge + host-local + portmap); ctr runs them itself";
    bridge->compare.push_back({kCtrCni, 1.0});
  }
  Row& agent_row = report.AddValue("network", "agent: network cost", "ms", agent_cost);
  agent_row.note = "median with the network minus median without";
  if (cni != nullptr && plain != nullptr && cni->error.empty() && plain->error.empty()) {
    Row& ctr_row = report.AddValue("network", "ctr: network cost", "ms",
                                   cni->summary.median - plain->summary.median);
    ctr_row.note = "median with --cni minus median without";
    agent_row.compare.push_back({"ctr: network cost", 1.0});
  }
  return absl::OkStatus();
}

}  // namespace zlayer::bench
