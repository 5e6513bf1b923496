#include "images/http_client.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/fs_util.h"
#include "core/errors.h"

namespace zlayer::images {
namespace {

struct CallState {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  bool aborted = false;
  bool status_known = false;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<CallState*>(user);
  const size_t len = size * n;
  absl::string_view line(data, len);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after a redirect or 100-continue): forget earlier headers.
    st->response->headers.clear();
    st->status_known = false;
    return len;
  }
  const size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    st->response->headers.emplace(std::move(name),
                                  std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return len;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<CallState*>(user);
  const size_t len = size * n;
  if (!st->status_known) {
    // The final response's status line has been read by now (curl may be queried
    // from inside its callbacks), and decides where the body goes.
    long code = 0;
    curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &code);
    st->response->status = code;
    st->status_known = true;
    if (code >= 200 && code < 300 && st->request->on_status) st->request->on_status(code);
  }
  const long status = st->response->status;
  if (status >= 200 && status < 300 && st->request->on_body) {
    if (!st->request->on_body(data, len)) {
      st->aborted = true;
      return 0;  // curl fails the transfer with CURLE_WRITE_ERROR
    }
    return len;
  }
  const size_t room = st->request->max_collected_body > st->response->body.size()
                          ? st->request->max_collected_body - st->response->body.size()
                          : 0;
  st->response->body.append(data, std::min(room, len));
  return len;
}

CURLcode OnSslCtx(CURL*, void* ssl_ctx, void* user) {
  static_cast<const TlsTrust*>(user)->AddTo(ssl_ctx);
  return CURLE_OK;
}

bool IsTlsHandshakeError(CURLcode rc) {
  return rc == CURLE_SSL_CONNECT_ERROR;
}

bool IsTrustError(CURLcode rc) {
  return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
         rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_ISSUER_ERROR;
}

}  // namespace

void EnsureCurlInitialised() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

absl::StatusOr<std::shared_ptr<const TlsTrust>> TlsTrust::Load(const std::string& extra_ca_file) {
  std::shared_ptr<TlsTrust> trust(new TlsTrust());
  if (extra_ca_file.empty()) return std::shared_ptr<const TlsTrust>(trust);
  auto pem = base::ReadFile(extra_ca_file);
  if (!pem.ok()) return core::Annotate(pem.status(), "registry CA file");
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    trust->certs_.push_back(cert);
  }
  BIO_free(bio);
  if (trust->certs_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry CA file ", extra_ca_file, " holds no PEM certificate"));
  }
  return std::shared_ptr<const TlsTrust>(trust);
}

TlsTrust::~TlsTrust() {
  for (void* c : certs_) X509_free(static_cast<X509*>(c));
}

void TlsTrust::AddTo(void* ssl_ctx) const {
  X509_STORE* store = SSL_CTX_get_cert_store(static_cast<SSL_CTX*>(ssl_ctx));
  // Duplicates are harmless: X509_STORE_add_cert ignores a certificate it has.
  for (void* c : certs_) X509_STORE_add_cert(store, static_cast<X509*>(c));
}

std::string HttpResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(std::shared_ptr<const TlsTrust> trust) : trust_(std::move(trust)) {
  EnsureCurlInitialised();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(curl_);
}

absl::StatusOr<HttpResponse> HttpClient::Do(const HttpRequest& request) {
  last_tls_handshake_error_ = false;
  if (curl_ == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  CURL* c = curl_;
  curl_easy_reset(c);
  HttpResponse response;
  CallState st{c, &request, &response};

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.connect_timeout)));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(absl::ToInt64Seconds(request.stall_timeout)));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "zlayer-agentd/0.1");
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, nullptr);  // blobs must arrive byte-exact
  if (request.follow_redirects) {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    // Never downgrade a redirect to http unless the request itself was http.
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
                     absl::StartsWith(request.url, "https:") ? "https" : "http,https");
    // curl drops our custom Authorization header when a redirect changes host
    // (CURLOPT_UNRESTRICTED_AUTH stays off), so tokens never leak to blob storage.
  }
  if (request.max_recv_speed > 0) {
    curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE,
                     static_cast<curl_off_t>(request.max_recv_speed));
  }
  if (request.insecure_tls) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (trust_ && trust_->has_extra()) {
    curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, &OnSslCtx);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, const_cast<TlsTrust*>(trust_.get()));
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.method == "PUT" || request.method == "POST" || !request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  struct curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  if (request.method == "PUT" || request.method == "POST") {
    headers = curl_slist_append(headers, "Expect:");
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);

  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  response.status = code;
  char* eff = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff != nullptr) {
    response.effective_url = eff;
  }
  if (rc != CURLE_OK) {
    if (st.aborted) return absl::CancelledError("transfer aborted by the receiver");
    const std::string detail = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
    if (IsTrustError(rc)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "TLS certificate not trusted (", detail,
          "); add the registry's CA to the ca_file setting or list the host as insecure"));
    }
    last_tls_handshake_error_ = IsTlsHandshakeError(rc);
    return absl::UnavailableError(absl::StrCat(request.method, " ", request.url, ": ", detail));
  }
  return response;
}

}  // namespace zlayer::images
