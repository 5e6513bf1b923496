#include "deploy/service_schema.h"

#include <algorithm>
#include <initializer_list>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/types.h"
#include "deploy/supervision_schema.h"
#include "deploy/values.h"

namespace zlayer::deploy::internal {
namespace {

using core::ServiceSpec;

constexpr int64_t kMaxPort = 65535;
constexpr int64_t kMaxReplicas = 1000;
constexpr uint64_t kMinMemory = 1ull << 20;

// One of a fixed set of words, e.g. pull_policy. Reports the others and a near miss.
template <typename E>
std::optional<E> Enum(Reader& r, const Value& v,
                      std::initializer_list<std::pair<const char*, E>> choices) {
  std::vector<std::string> names;
  for (const auto& [name, value] : choices) {
    if (v.node.IsScalar() && v.node.Scalar() == name) return value;
    names.emplace_back(name);
  }
  std::string got = v.node.IsScalar() ? absl::StrCat("\"", v.node.Scalar(), "\"")
                                      : (v.node.IsNull() ? "nothing" : "a mapping or list");
  std::string message = absl::StrCat("expected ", JoinChoices(names), ", got ", got);
  if (v.node.IsScalar()) {
    const std::string near = ClosestMatch(v.node.Scalar(), names);
    if (!near.empty()) absl::StrAppend(&message, "; did you mean \"", near, "\"?");
  }
  r.Error(v, std::move(message));
  return std::nullopt;
}

bool AbsolutePath(Reader& r, const Value& v, std::string* out) {
  auto s = r.NonEmptyString(v);
  if (!s) return false;
  if (s->front() != '/') {
    r.Error(v, absl::StrCat("expected an absolute path (starting with /), got \"", *s, "\""));
    return false;
  }
  *out = std::move(*s);
  return true;
}

}  // namespace

// A name made of letters, digits, '-', '_' and '.', starting with a letter or digit:
// endpoint, volume and init step names (declared in service_schema.h).
bool SimpleName(Reader& r, const Value& v, absl::string_view what, std::string* out) {
  auto s = r.NonEmptyString(v);
  if (!s) return false;
  const bool ok = s->size() <= 63 && absl::ascii_isalnum(static_cast<unsigned char>(s->front())) &&
                  std::all_of(s->begin(), s->end(), [](char c) {
                    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                           c == '_' || c == '.';
                  });
  if (!ok) {
    r.Error(v, absl::StrCat("expected ", what, " of 1 to 63 letters, digits, '-', '_' and '.', "
                            "starting with a letter or digit, got \"", *s, "\""));
    return false;
  }
  *out = std::move(*s);
  return true;
}

namespace {

// Rejects a key that was given although it does not apply, e.g. `size` on a bind mount.
void NotApplicable(Reader& r, const Value& v, absl::string_view why) {
  if (v.present) r.Error(v, std::string(why));
}

void ReadImage(Reader& r, const Value& v, core::ImageSpec* out) {
  if (v.node.IsScalar()) {  // "image: nginx:1.25" shorthand for {name: ...}
    if (auto name = r.NonEmptyString(v)) out->name = *name;
    return;
  }
  if (v.node.IsSequence()) {
    r.Error(v, "expected an image name, or a mapping with name, pull_policy and auth; got a list");
    return;
  }
  MapReader m(r, v);
  if (auto name = m.Require("name"); name.present) {
    if (auto s = r.NonEmptyString(name)) {
      if (std::any_of(s->begin(), s->end(), [](char c) { return absl::ascii_isspace(c); })) {
        r.Error(name, absl::StrCat("expected an image reference without spaces, like "
                                   "docker.io/library/nginx:1.25, got \"", *s, "\""));
      } else {
        out->name = *s;
      }
    }
  }
  if (auto p = m.Get("pull_policy"); p.present) {
    using core::PullPolicy;
    if (auto policy = Enum<PullPolicy>(r, p, {{"always", PullPolicy::kAlways},
                                              {"if_not_present", PullPolicy::kIfNotPresent},
                                              {"never", PullPolicy::kNever}})) {
      out->pull_policy = *policy;
    }
  }
  if (auto a = m.Get("auth"); a.present) {
    MapReader auth(r, a);
    core::RegistryAuth creds;
    auto user = auth.Require("username");
    auto password = auth.Require("password");
    bool ok = auth.ok() && user.present && password.present;
    if (user.present) {
      auto s = r.NonEmptyString(user);
      ok = ok && s;
      if (s) creds.username = *s;
    }
    if (password.present) {
      auto s = r.String(password);
      ok = ok && s;
      if (s) creds.password = *s;
    }
    auth.Finish();
    if (ok) out->auth = std::move(creds);
  }
  m.Finish();
}

void ReadCommand(Reader& r, const Value& v, core::CommandSpec* out) {
  MapReader m(r, v);
  if (auto e = m.Get("entrypoint"); e.present) {
    if (auto list = r.StringList(e)) out->entrypoint = std::move(*list);
  }
  if (auto a = m.Get("args"); a.present) {
    if (auto list = r.StringList(a)) out->args = std::move(*list);
  }
  if (auto w = m.Get("workdir"); w.present) AbsolutePath(r, w, &out->workdir);
  m.Finish();
}

// env and labels: a mapping of names to strings. Numbers and booleans are taken as
// written (PORT: 8080 is "8080").
void ReadStringMap(Reader& r, const Value& v, bool env, std::map<std::string, std::string>* out) {
  MapReader m(r, v);
  for (auto& [key, value] : m.Entries()) {
    const std::string& name = key.node.Scalar();
    if (env) {
      if (!r.Check(key, ValidateEnvName(name))) continue;
    } else if (name.empty()) {
      r.Error(key, "expected a non-empty label name");
      continue;
    }
    if (auto s = r.String(value)) (*out)[name] = *s;
  }
}

void ReadResources(Reader& r, const Value& v, core::ResourceSpec* out) {
  MapReader m(r, v);
  if (auto c = m.Get("cpu"); c.present) out->cpu = r.Number(c, 0.01, 1024);
  if (auto mem = m.Get("memory"); mem.present) {
    if (auto bytes = r.Size(mem)) {
      if (*bytes < kMinMemory) {
        const bool unitless = mem.node.IsScalar() &&
                              std::all_of(mem.node.Scalar().begin(), mem.node.Scalar().end(),
                                          [](char c) { return c >= '0' && c <= '9'; });
        r.Error(mem, absl::StrCat("a memory limit of ", *bytes, " bytes is too small (at least 1Mi)",
                                  unitless ? absl::StrCat("; did you mean ", mem.node.Scalar(), "Mi?")
                                           : ""));
      } else {
        out->memory_bytes = *bytes;
      }
    }
  }
  if (auto p = m.Get("pids_limit"); p.present) out->pids_limit = r.Int(p, 1, 4194304);
  m.Finish();
}

void ReadEndpoints(Reader& r, const Value& v, std::vector<core::EndpointSpec>* out) {
  std::set<std::string> names;
  std::set<std::pair<bool, int64_t>> ports;  // (udp, port)
  for (const Value& item : r.List(v)) {
    MapReader m(r, item);
    if (!m.ok()) continue;
    core::EndpointSpec ep;
    if (auto n = m.Require("name"); n.present && SimpleName(r, n, "an endpoint name", &ep.name)) {
      if (!names.insert(ep.name).second) {
        r.Error(n, absl::StrCat("endpoint name \"", ep.name, "\" is used twice"));
      }
    }
    if (auto p = m.Get("protocol"); p.present) {
      using core::EndpointProtocol;
      if (auto proto = Enum<EndpointProtocol>(r, p, {{"http", EndpointProtocol::kHttp},
                                                     {"https", EndpointProtocol::kHttps},
                                                     {"tcp", EndpointProtocol::kTcp},
                                                     {"udp", EndpointProtocol::kUdp}})) {
        ep.protocol = *proto;
      }
    }
    if (auto p = m.Require("port"); p.present) {
      if (auto port = r.Int(p, 1, kMaxPort)) {
        ep.port = static_cast<uint32_t>(*port);
        const bool udp = ep.protocol == core::EndpointProtocol::kUdp;
        if (!ports.insert({udp, *port}).second) {
          r.Error(p, absl::StrCat("port ", *port, "/", udp ? "udp" : "tcp",
                                  " is already used by another endpoint"));
        }
      }
    }
    if (auto t = m.Get("target_port"); t.present) {
      if (auto port = r.Int(t, 1, kMaxPort)) ep.target_port = static_cast<uint32_t>(*port);
    }
    m.Finish();
    out->push_back(std::move(ep));
  }
}

void ReadScale(Reader& r, const Value& v, uint32_t* replicas) {
  if (v.node.IsScalar()) {
    r.Error(v, absl::StrCat("expected a mapping like {replicas: ", v.node.Scalar(), "}, got \"",
                            v.node.Scalar(), "\""));
    return;
  }
  MapReader m(r, v);
  if (auto mode = m.Get("mode"); mode.present) {
    if (auto s = r.String(mode); s && *s != "fixed") {
      r.Error(mode, absl::StrCat("expected fixed (the only scaling mode of this version), got \"",
                                 *s, "\""));
    }
  }
  if (auto n = m.Require("replicas"); n.present) {
    if (auto count = r.Int(n, 0, kMaxReplicas)) *replicas = static_cast<uint32_t>(*count);
  }
  m.Finish();
}

void ReadStorage(Reader& r, const Value& v, std::vector<core::StorageSpec>* out) {
  std::set<std::string> targets;
  for (const Value& item : r.List(v)) {
    MapReader m(r, item);
    if (!m.ok()) continue;
    core::StorageSpec st;
    using core::StorageType;
    std::optional<StorageType> type;
    if (auto t = m.Require("type"); t.present) {
      type = Enum<StorageType>(r, t, {{"bind", StorageType::kBind},
                                      {"named", StorageType::kNamed},
                                      {"tmpfs", StorageType::kTmpfs}});
    }
    const Value source = m.Get("source");
    const Value name = m.Get("name");
    const Value size = m.Get("size");
    if (type == StorageType::kBind) {
      if (source.present) {
        AbsolutePath(r, source, &st.source);
      } else {
        r.Error(item, "missing required key \"source\" (the host path to mount)");
      }
      NotApplicable(r, name, "name applies only to named storage; a bind mount takes source");
      NotApplicable(r, size, "size applies only to tmpfs storage");
    } else if (type == StorageType::kNamed) {
      if (name.present) {
        SimpleName(r, name, "a volume name", &st.source);
      } else {
        r.Error(item, "missing required key \"name\" (the volume's name)");
      }
      NotApplicable(r, source, "source applies only to bind storage; named storage takes name");
      NotApplicable(r, size, "size applies only to tmpfs storage");
    } else if (type == StorageType::kTmpfs) {
      if (size.present) {
        if (auto bytes = r.Size(size)) st.size_bytes = *bytes;
      }
      NotApplicable(r, source, "source applies only to bind storage");
      NotApplicable(r, name, "name applies only to named storage");
    }
    if (type) st.type = *type;
    if (auto t = m.Require("target"); t.present && AbsolutePath(r, t, &st.target)) {
      if (!targets.insert(st.target).second) {
        r.Error(t, absl::StrCat("target ", st.target, " is already mounted by another entry"));
      }
    }
    if (auto ro = m.Get("readonly"); ro.present) st.readonly = r.Bool(ro).value_or(false);
    m.Finish();
    out->push_back(std::move(st));
  }
}

void ReadHealthCheck(Reader& r, const Value& v, core::HealthSpec* out) {
  using Check = core::HealthSpec::Check;
  MapReader m(r, v);
  if (!m.ok()) return;
  std::optional<Check> type;
  if (auto t = m.Require("type"); t.present) {
    type = Enum<Check>(r, t, {{"tcp", Check::kTcp}, {"http", Check::kHttp},
                              {"command", Check::kCommand}});
  }
  const Value port = m.Get("port");
  const Value url = m.Get("url");
  const Value expect = m.Get("expect_status");
  const Value command = m.Get("command");
  if (!type) {  // nothing more to say until the type is right
    m.Finish();
    return;
  }
  if (type == Check::kTcp) {
    if (!port.present) r.Error(v, "missing required key \"port\" (the port to connect to)");
    if (port.present) {
      if (auto p = r.Int(port, 1, kMaxPort)) out->tcp_port = static_cast<uint32_t>(*p);
    }
  } else {
    NotApplicable(r, port, "port applies only to tcp checks");
  }
  if (type == Check::kHttp) {
    if (!url.present) r.Error(v, "missing required key \"url\" (e.g. http://localhost:8080/healthz)");
    if (url.present) {
      if (auto s = r.NonEmptyString(url)) {
        if (!absl::StartsWith(*s, "http://") && !absl::StartsWith(*s, "https://")) {
          r.Error(url, absl::StrCat("expected a URL starting with http:// or https://, got \"",
                                    *s, "\""));
        } else {
          out->http_url = *s;
        }
      }
    }
    if (expect.present) {
      if (auto code = r.Int(expect, 100, 599)) out->http_expect_status = static_cast<uint32_t>(*code);
    }
  } else {
    NotApplicable(r, url, "url applies only to http checks");
    NotApplicable(r, expect, "expect_status applies only to http checks");
  }
  if (type == Check::kCommand) {
    if (!command.present) r.Error(v, "missing required key \"command\" (e.g. [\"/bin/check\"])");
    if (command.present) {
      if (auto list = r.StringList(command)) {
        if (list->empty()) {
          r.Error(command, "expected a non-empty command list");
        } else {
          out->command = std::move(*list);
        }
      }
    }
  } else {
    NotApplicable(r, command, "command applies only to command checks");
  }
  out->check = *type;
  m.Finish();
}

void ReadHealth(Reader& r, const Value& v, std::optional<core::HealthSpec>* out) {
  MapReader m(r, v);
  if (!m.ok()) return;
  core::HealthSpec h;
  if (auto d = m.Get("start_grace"); d.present) h.start_grace = r.Duration(d).value_or(h.start_grace);
  if (auto d = m.Get("interval"); d.present) h.interval = r.Duration(d).value_or(h.interval);
  if (auto d = m.Get("timeout"); d.present) h.timeout = r.Duration(d).value_or(h.timeout);
  if (auto n = m.Get("retries"); n.present) h.retries = static_cast<uint32_t>(r.Int(n, 0, 1000).value_or(0));
  if (auto c = m.Require("check"); c.present) ReadHealthCheck(r, c, &h);
  if (auto u = m.Get("restart_on_unhealthy"); u.present) {
    h.restart_on_unhealthy = r.Bool(u).value_or(false);
  }
  m.Finish();
  *out = std::move(h);
}

void ReadCapabilities(Reader& r, const Value& v, std::vector<std::string>* out) {
  for (const Value& item : r.List(v)) {
    auto s = r.String(item);
    if (!s) continue;
    auto cap = NormalizeCapability(*s);
    if (r.Check(item, cap.status())) out->push_back(*cap);
  }
}

}  // namespace

ServiceSpec ReadService(Reader& r, const Value& v) {
  ServiceSpec spec;
  spec.replicas = 1;
  MapReader m(r, v);
  if (!m.ok()) return spec;
  if (auto t = m.Get("rtype"); t.present) {
    using core::ServiceType;
    spec.rtype = Enum<ServiceType>(r, t, {{"service", ServiceType::kService},
                                          {"job", ServiceType::kJob}})
                     .value_or(ServiceType::kService);
  }
  if (auto i = m.Require("image"); i.present) ReadImage(r, i, &spec.image);
  if (auto c = m.Get("command"); c.present) ReadCommand(r, c, &spec.command);
  if (auto e = m.Get("env"); e.present) ReadStringMap(r, e, /*env=*/true, &spec.env);
  if (auto res = m.Get("resources"); res.present) ReadResources(r, res, &spec.resources);
  if (auto e = m.Get("endpoints"); e.present) ReadEndpoints(r, e, &spec.endpoints);
  if (auto s = m.Get("scale"); s.present) ReadScale(r, s, &spec.replicas);
  if (auto s = m.Get("storage"); s.present) ReadStorage(r, s, &spec.storage);
  if (auto u = m.Get("user"); u.present) spec.user = r.NonEmptyString(u).value_or("");
  if (auto h = m.Get("hostname"); h.present) {
    if (auto s = r.String(h); s && r.Check(h, ValidateHostname(*s))) spec.hostname = *s;
  }
  if (auto net = m.Get("network"); net.present) {
    if (auto name = r.String(net); name && r.Check(net, core::ValidateNetworkName(*name))) {
      spec.network = *name;
    }
  }
  if (auto c = m.Get("capabilities"); c.present) ReadCapabilities(r, c, &spec.cap_add);
  if (auto c = m.Get("cap_drop"); c.present) ReadCapabilities(r, c, &spec.cap_drop);
  if (auto p = m.Get("privileged"); p.present) spec.privileged = r.Bool(p).value_or(false);
  if (auto ro = m.Get("read_only_root_fs"); ro.present) {
    spec.read_only_root_fs = r.Bool(ro).value_or(false);
  }
  if (auto s = m.Get("stop_signal"); s.present) {
    if (auto name = r.NonEmptyString(s)) {
      auto sig = NormalizeSignal(*name);
      if (r.Check(s, sig.status())) spec.stop_signal = *sig;
    }
  }
  if (auto g = m.Get("stop_grace_period"); g.present) spec.stop_grace_period = r.Duration(g);
  if (auto l = m.Get("labels"); l.present) ReadStringMap(r, l, /*env=*/false, &spec.labels);
  if (auto h = m.Get("health"); h.present) ReadHealth(r, h, &spec.health);
  if (auto rp = m.Get("restart"); rp.present) ReadRestart(r, rp, &spec.restart);
  if (auto i = m.Get("init"); i.present) ReadInit(r, i, &spec.init);
  if (auto p = m.Get("init_process"); p.present) spec.init_process = r.Bool(p);
  m.Finish();
  return spec;
}

}  // namespace zlayer::deploy::internal
