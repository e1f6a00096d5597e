#pragma once
// What a route is: the handler its owner registers, and what the front door tells it about a
// request. Owners register their routes at assembly (app/): the collector its paths, the query
// API its reads and the tail, pipelines and windows their status pages. The front door answers
// for all of them what is not theirs: no route, a wrong method, read tokens, rate limits, body
// limits, slow clients and stopping.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/url/url_view.hpp>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/io_types.h"
#include "http/reply.h"

namespace sluice::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

// A request as routed. Views point into the request, which outlives the handler.
struct Call {
  std::string_view path;   // the target's path, as sent (percent-encoded)
  std::string_view param;  // what the route's {placeholder} matched; empty without one
  // The target's query parameters; empty for a plain path. Handlers that are coroutines take
  // the Call by reference: a url_view copied into a coroutine frame (GCC 12) pointed into the
  // caller's copy once that was gone.
  boost::urls::url_view url;
  std::string client_ip;  // the peer, or the last X-Forwarded-For hop behind a trusted proxy
};

// Who may call a route.
enum class Access {
  kOpen,  // anyone: the collector's paths (write keys are theirs to check), the probes
  kRead,  // a read token, unless reads are open (server.read_tokens, server.public_reads)
};

// The writer of an answer that is written over time (Server-Sent Events).
class AnswerStream {
 public:
  AnswerStream() = default;
  AnswerStream(const AnswerStream&) = delete;
  AnswerStream& operator=(const AnswerStream&) = delete;
  virtual ~AnswerStream() = default;

  // Writes `text`. False when the client is gone, or took nothing for server.body_timeout
  // (timed_out() then says so).
  virtual Task<bool> write(std::string_view text) = 0;
  virtual bool timed_out() const = 0;
  // The server is stopping: end the answer (clients of an event stream reconnect).
  virtual bool draining() const = 0;
  // Counts the answer in the request metrics; once, when its head is written.
  virtual void answered(unsigned status) = 0;
  virtual IoExecutor executor() const = 0;
};

using Handler = std::function<Task<Reply>(Request& req, const Call& call)>;
// Checked on a request's headers before its body is read: an answer refuses the request (a
// wrong key does not get to send megabytes first). The connection closes after it.
using Precheck = std::function<std::optional<Reply>(const Request& header, const Call& call)>;
using StreamHandler =
    std::function<Task<void>(Request& req, const Call& call, AnswerStream& answer)>;

struct Route {
  // "/v1/events", "/v1/streams/{stream}/events" ({name}: one path segment, not empty) or
  // "/v1/events/{id*}" ({name*}: the rest of the path, slashes included, maybe empty). The
  // pattern without '*' is the route's label in the request metrics.
  std::string pattern;
  // The methods it answers, as the Allow header lists them ("GET", "POST, OPTIONS"); others
  // get 405. Empty: every method reaches the handler.
  std::string allow = "GET";
  Access access = Access::kRead;
  Handler handler;       // or
  StreamHandler stream;  // for an answer written over time
  Precheck precheck;     // optional
  // Room reserved after the body as it is read: the collector's JSON parser reads up to this
  // far past the end, and adding it after the read copied every body once more.
  std::size_t body_padding = 0;
};

// Common answers. `req` gives the answer its keep-alive and version.
Reply answer(const Request& req, unsigned status, std::string body);
Reply error_answer(const Request& req, const Error& error);  // {"error":"..."} with its status
Reply method_not_allowed(const Request& req, std::string_view allow);
std::string error_json(std::string_view message);
unsigned status_for(Errc code);
// A handler's answer that needs no waiting.
Task<Reply> ready(Reply reply);

// A GET route of a part this process does not run: 404 with `message` (where to ask instead),
// after the method and read access are checked as the part's own route would.
Route absent_route(std::string pattern, std::string message);

}  // namespace sluice::http
