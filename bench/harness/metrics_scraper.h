// A Prometheus-style client of the agent's /metrics: one libcurl handle, so the
// connection is kept alive between scrapes as Prometheus keeps it, and the
// facts of an answer the stats case checks and reports.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace zlayer::bench {

// What one exposition (text format 0.0.4) holds.
struct ScrapeFacts {
  size_t bytes = 0;
  size_t samples = 0;          // lines that are neither comments nor blank
  size_t cpu_containers = 0;   // samples of container_cpu_usage_seconds_total
  bool containers_ok = false;  // zlayer_scrape_containers_ok is 1
};

ScrapeFacts ParseExposition(const std::string& body);

class MetricsScraper {
 public:
  // `address` as GetAgentInfo names it: "127.0.0.1:PORT" or "[::1]:PORT".
  static absl::StatusOr<std::unique_ptr<MetricsScraper>> Create(const std::string& address);
  ~MetricsScraper();
  MetricsScraper(const MetricsScraper&) = delete;
  MetricsScraper& operator=(const MetricsScraper&) = delete;

  // GET /metrics; fails unless the answer is 200. The body stays until the next.
  absl::Status Scrape();
  const std::string& body() const { return body_; }
  // Connections libcurl had to open over every scrape so far (1 when kept alive).
  long connections() const { return connections_; }
  long scrapes() const { return scrapes_; }
  const std::string& url() const { return url_; }

 private:
  MetricsScraper() = default;
  static size_t Append(char* data, size_t size, size_t n, void* self);

  void* curl_ = nullptr;     // CURL*
  void* headers_ = nullptr;  // curl_slist*
  std::string url_, body_;
  long connections_ = 0;
  long scrapes_ = 0;
};

}  // namespace zlayer::bench
