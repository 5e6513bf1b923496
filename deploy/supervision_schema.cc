#include "deploy/supervision_schema.h"

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "deploy/service_schema.h"
#include "deploy/values.h"
#include "supervise/restart_policy.h"

namespace zlayer::deploy::internal {
namespace {

constexpr int64_t kMaxPort = 65535;
constexpr int64_t kMaxRetries = 1000;

// The policy names of supervise::ParsePolicyName, with a "did you mean" for a near
// miss. YAML 1.1 tools read an unquoted `no` as false; yaml-cpp keeps the text, so
// `restart: no` is the policy "no", as in Compose.
std::optional<core::RestartPolicy> ReadPolicyName(Reader& r, const Value& v) {
  auto name = r.NonEmptyString(v);
  if (!name) return std::nullopt;
  auto policy = supervise::ParsePolicyName(*name);
  if (policy.ok()) return *policy;
  std::string message = absl::StrCat(
      "expected no, on-failure, on-failure:N (N from 1), always or unless-stopped, got \"", *name,
      "\"");
  const std::string near = ClosestMatch(*name, {"no", "on-failure", "always", "unless-stopped"});
  if (!near.empty()) absl::StrAppend(&message, "; did you mean \"", near, "\"?");
  r.Error(v, std::move(message));
  return std::nullopt;
}

void ReadBackoff(Reader& r, const Value& v, core::RestartPolicy* out) {
  MapReader m(r, v);
  if (!m.ok()) return;
  for (auto [key, field] :
       {std::pair{"base", &out->backoff_base}, std::pair{"max", &out->backoff_max},
        std::pair{"reset_after", &out->reset_after}}) {
    if (auto d = m.Get(key); d.present) *field = r.Duration(d).value_or(*field);
  }
  m.Finish();
}

// wait_tcp: {host, port}. The host is optional: the default, 127.0.0.1 in the
// container's namespace, waits for a sidecar or for something the network provides.
void ReadWaitTcp(Reader& r, const Value& v, core::InitAction* out) {
  out->kind = core::InitAction::Kind::kWaitTcp;
  MapReader m(r, v);
  if (!m.ok()) return;
  if (auto h = m.Get("host"); h.present) {
    if (auto host = r.NonEmptyString(h)) out->host = *host;
  }
  if (auto p = m.Require("port"); p.present) {
    if (auto port = r.Int(p, 1, kMaxPort)) out->port = static_cast<uint32_t>(*port);
  }
  m.Finish();
}

void ReadWaitHttp(Reader& r, const Value& v, core::InitAction* out) {
  out->kind = core::InitAction::Kind::kWaitHttp;
  MapReader m(r, v);
  if (!m.ok()) return;
  if (auto u = m.Require("url"); u.present) {
    if (auto url = r.NonEmptyString(u)) {
      if (!absl::StartsWith(*url, "http://") && !absl::StartsWith(*url, "https://")) {
        r.Error(u, absl::StrCat("expected a URL starting with http:// or https://, got \"", *url,
                                "\""));
      } else {
        out->url = *url;
      }
    }
  }
  if (auto e = m.Get("expect_status"); e.present) {
    if (auto code = r.Int(e, 100, 599)) out->expect_status = static_cast<uint32_t>(*code);
  }
  m.Finish();
}

// run: a list only. A single string would need a shell to split it, and the image
// may have none; ["sh", "-c", "..."] says so explicitly.
void ReadRun(Reader& r, const Value& v, core::InitAction* out) {
  out->kind = core::InitAction::Kind::kRun;
  auto list = r.StringList(v);
  if (!list) return;
  if (list->empty()) {
    r.Error(v, "expected a non-empty command list like [\"/bin/migrate\", \"--up\"]");
    return;
  }
  out->command = std::move(*list);
}

void ReadStep(Reader& r, const Value& item, std::set<std::string>* names, core::InitAction* out) {
  MapReader m(r, item);
  if (!m.ok()) return;
  if (auto n = m.Get("name"); n.present && SimpleName(r, n, "a step name", &out->name)) {
    if (!names->insert(out->name).second) {
      r.Error(n, absl::StrCat("init step name \"", out->name, "\" is used twice"));
    }
  }
  // Exactly one action; the keys are read in a fixed order so that a second one is
  // the one reported.
  using Read = void (*)(Reader&, const Value&, core::InitAction*);
  constexpr std::pair<const char*, Read> kActions[] = {
      {"wait_tcp", ReadWaitTcp}, {"wait_http", ReadWaitHttp}, {"run", ReadRun}};
  const char* given = nullptr;
  for (const auto& [key, read] : kActions) {
    const Value a = m.Get(key);
    if (!a.present) continue;
    if (given) {
      r.Error(a, absl::StrCat("a step does one thing and this one has ", given, " already; put ",
                              key, " in a step of its own"));
      continue;
    }
    given = key;
    read(r, a, out);
  }
  if (!given) r.Error(item, "missing one of wait_tcp, wait_http or run (what the step does)");
  if (auto t = m.Get("timeout"); t.present) {
    if (auto d = r.Duration(t)) out->timeout = *d;
  }
  if (auto n = m.Get("retries"); n.present) {
    out->retries = static_cast<uint32_t>(r.Int(n, 0, kMaxRetries).value_or(0));
  }
  m.Finish();
}

}  // namespace

void ReadRestart(Reader& r, const Value& v, core::RestartPolicy* out) {
  if (v.node.IsScalar()) {  // "restart: on-failure:3" shorthand for {policy: ...}
    if (auto policy = ReadPolicyName(r, v)) *out = *policy;
    return;
  }
  if (v.node.IsSequence()) {
    r.Error(v,
            "expected a policy name like on-failure, or a mapping with policy, max_retries "
            "and backoff; got a list");
    return;
  }
  MapReader m(r, v);
  if (!m.ok()) return;
  core::RestartPolicy policy;
  std::optional<core::RestartPolicy> named;
  if (auto p = m.Require("policy"); p.present) named = ReadPolicyName(r, p);
  if (named) policy = *named;
  if (auto n = m.Get("max_retries"); n.present) {
    // Without a valid policy there is nothing to hold the limit against.
    if (auto max = r.Int(n, 0, kMaxRetries); max && named) {
      if (named->max_retries != 0) {
        r.Error(n, "the policy already names a limit (on-failure:N); give it once");
      } else if (*max != 0 && policy.mode != core::RestartPolicy::Mode::kOnFailure) {
        r.Error(n, absl::StrCat("max_retries applies only to the on-failure policy, not \"",
                                supervise::PolicyName(policy), "\""));
      } else {
        policy.max_retries = static_cast<uint32_t>(*max);
      }
    }
  }
  const Value backoff = m.Get("backoff");
  if (backoff.present) ReadBackoff(r, backoff, &policy);
  m.Finish();
  // What is left to check spans keys (a cap below its base): point at the backoff.
  if (!r.Check(backoff.present ? backoff : v, supervise::ValidatePolicy(policy))) return;
  *out = policy;
}

void ReadInit(Reader& r, const Value& v, std::vector<core::InitAction>* out) {
  std::set<std::string> names;
  for (const Value& item : r.List(v)) {
    core::InitAction step;
    ReadStep(r, item, &names, &step);
    out->push_back(std::move(step));
  }
}

}  // namespace zlayer::deploy::internal
