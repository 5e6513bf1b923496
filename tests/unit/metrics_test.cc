// The metrics module's pure parts: the exposition text, histograms, RPC counting,
// and the HTTP listener's address handling and answers.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "metrics/agent_metrics.h"
#include "metrics/exposition.h"
#include "metrics/http_endpoint.h"

using namespace zlayer::metrics;

TEST_CASE("exposition: HELP/TYPE once, labels escaped, values in shortest form", "[unit]") {
  TextWriter out;
  out.Family("x_total", "counter", "a \\ help\nline");
  out.Sample("x_total", {{"a", "q\"uote"}, {"b", "back\\slash\nnl"}}, uint64_t{3});
  out.Sample("x_total", {}, 0.0005);
  out.Single("g", "gauge", "h", 1e21);
  CHECK(out.text() ==
        "# HELP x_total a \\\\ help\\nline\n# TYPE x_total counter\n"
        "x_total{a=\"q\\\"uote\",b=\"back\\\\slash\\nnl\"} 3\n"
        "x_total 0.0005\n"
        "# HELP g h\n# TYPE g gauge\ng 1e+21\n");
}

TEST_CASE("histogram: cumulative buckets, +Inf equals the count", "[unit]") {
  static const std::vector<double> bounds = {0.1, 1};
  Histogram h(bounds);
  for (double v : {0.05, 0.1, 0.5, 3.0}) h.Observe(v);
  TextWriter out;
  h.Write(out, "h", {{"m", "x"}});
  CHECK(out.text() ==
        "h_bucket{m=\"x\",le=\"0.1\"} 2\nh_bucket{m=\"x\",le=\"1\"} 3\n"
        "h_bucket{m=\"x\",le=\"+Inf\"} 4\nh_sum{m=\"x\"} 3.65\nh_count{m=\"x\"} 4\n");
}

TEST_CASE("rpc metrics: by service, method and code; open streams are started - handled",
          "[unit]") {
  RpcMetrics rpcs;
  rpcs.Started("/p.S/Get", "unary");
  rpcs.Handled("/p.S/Get", "unary", "NotFound", 0.002);
  rpcs.Started("/p.S/Watch", "server_stream");
  rpcs.Started("/p.S/Watch", "server_stream");
  rpcs.Handled("/p.S/Watch", "server_stream", "OK", 2);
  TextWriter out;
  rpcs.Write(out);
  const std::string& t = out.text();
  CHECK(absl::StrContains(
      t,
      "grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"p.S\",grpc_method=\"Get\","
      "grpc_code=\"NotFound\"} 1\n"));
  CHECK(absl::StrContains(t,
                          "grpc_server_started_total{grpc_type=\"server_stream\","
                          "grpc_service=\"p.S\",grpc_method=\"Watch\"} 2\n"));
  CHECK(absl::StrContains(t,
                          "zlayer_grpc_open_streams{grpc_type=\"server_stream\","
                          "grpc_service=\"p.S\",grpc_method=\"Watch\"} 1\n"));
  CHECK_FALSE(absl::StrContains(t, "zlayer_grpc_open_streams{grpc_type=\"unary\""));
}

TEST_CASE("http endpoint: addresses are checked; a taken port is ALREADY_EXISTS", "[unit]") {
  auto handler = [](absl::string_view) { return HttpResponse{}; };
  for (const char* bad : {"9323", "host:", ":9323", "1.2.3:x", "::1:9323", "example.com:80"}) {
    INFO(bad);
    CHECK(HttpEndpoint::Start(bad, handler).status().code() == absl::StatusCode::kInvalidArgument);
  }
  auto first = HttpEndpoint::Start("127.0.0.1:0", handler);
  REQUIRE(first.ok());
  CHECK((*first)->loopback());
  CHECK(absl::StartsWith((*first)->address(), "127.0.0.1:"));
  auto second = HttpEndpoint::Start((*first)->address(), handler);
  CHECK(second.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(absl::StrContains(second.status().message(), (*first)->address()));
  auto v6 = HttpEndpoint::Start("[::1]:0", handler);
  if (v6.ok()) {
    CHECK((*v6)->loopback());
    CHECK(absl::StartsWith((*v6)->address(), "[::1]:"));
  }
  auto any = HttpEndpoint::Start("0.0.0.0:0", handler);
  REQUIRE(any.ok());
  CHECK_FALSE((*any)->loopback());
}
