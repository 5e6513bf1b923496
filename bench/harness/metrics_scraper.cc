#include "bench/harness/metrics_scraper.h"

#include <curl/curl.h>

#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace zlayer::bench {

ScrapeFacts ParseExposition(const std::string& body) {
  ScrapeFacts f;
  f.bytes = body.size();
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    ++f.samples;
    if (absl::StartsWith(line, "container_cpu_usage_seconds_total{")) ++f.cpu_containers;
    if (line == "zlayer_scrape_containers_ok 1") f.containers_ok = true;
  }
  return f;
}

absl::StatusOr<std::unique_ptr<MetricsScraper>> MetricsScraper::Create(const std::string& address) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<MetricsScraper> s(new MetricsScraper());
  CURL* curl = curl_easy_init();
  if (!curl) return absl::InternalError("curl_easy_init failed");
  s->curl_ = curl;
  s->url_ = absl::StrCat("http://", address, "/metrics");
  // What Prometheus asks for (no compression: the agent does not offer it).
  curl_slist* headers =
      curl_slist_append(nullptr, "Accept: text/plain;version=0.0.4;q=0.9,*/*;q=0.1");
  s->headers_ = headers;
  curl_easy_setopt(curl, CURLOPT_URL, s->url_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never an http_proxy from the environment
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &MetricsScraper::Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, s.get());
  return s;
}

MetricsScraper::~MetricsScraper() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
  if (headers_) curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

size_t MetricsScraper::Append(char* data, size_t size, size_t n, void* self) {
  static_cast<MetricsScraper*>(self)->body_.append(data, size * n);
  return size * n;
}

absl::Status MetricsScraper::Scrape() {
  CURL* curl = static_cast<CURL*>(curl_);
  body_.clear();
  ++scrapes_;
  const CURLcode rc = curl_easy_perform(curl);
  long opened = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &opened);
  connections_ += opened;
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("GET ", url_, ": ", curl_easy_strerror(rc)));
  }
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) return absl::InternalError(absl::StrCat("GET ", url_, ": HTTP ", code));
  return absl::OkStatus();
}

}  // namespace zlayer::bench
