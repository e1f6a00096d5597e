#include "http/probes.h"

#include <fmt/format.h>

#include <boost/asio/this_coro.hpp>
#include <memory>
#include <optional>

#include "core/json_text.h"

namespace sluice::http {
namespace {

// /readyz answers within this, whatever the store, the log or the other pools are doing: a
// probe that hangs is worse than one that says "not ready".
constexpr std::chrono::milliseconds kReadyzDeadline{2000};
constexpr int kMaxReadinessChecks = 4;  // running or queued at once

health::Readiness not_ready(const std::string& why) {
  std::string json = "{\"checks\":{},\"status\":\"not ready\",\"error\":";
  append_json_string(json, why);
  json += '}';
  return health::Readiness{false, std::move(json)};
}

}  // namespace

Probes::Probes(const health::Checks& checks, const metrics::Registry& metrics,
               WorkPool& status_work, WorkPool& readiness_work)
    : checks_(checks),
      metrics_(metrics),
      status_work_(status_work),
      readiness_work_(readiness_work) {}

void Probes::add_routes(Router& router) {
  router.add({.pattern = "/metrics",
              .allow = "GET",
              .access = Access::kRead,
              .handler = [this](Request& req, const Call&) -> Task<Reply> {
                auto text = co_await status_work_.run([this] { return metrics_.render(); });
                auto res = answer(req, 200, std::move(text));
                res.content_type = "text/plain; version=0.0.4; charset=utf-8";
                co_return res;
              }});
  router.add({.pattern = "/healthz",
              .allow = "GET",
              .access = Access::kOpen,
              .handler = [](Request& req, const Call&) {
                return ready(answer(req, 200, "{\"status\":\"ok\"}"));
              }});
  router.add({.pattern = "/readyz",
              .allow = "GET",
              .access = Access::kOpen,
              .handler = [this](Request& req, const Call&) -> Task<Reply> {
                auto readiness = co_await check_within(kReadyzDeadline);
                co_return answer(req, readiness.ready ? 200 : 503, std::move(readiness.json));
              }});
}

Task<health::Readiness> Probes::check_within(std::chrono::milliseconds deadline) {
  if (running_.fetch_add(1, std::memory_order_relaxed) >= kMaxReadinessChecks) {
    running_.fetch_sub(1, std::memory_order_relaxed);
    co_return not_ready(
        fmt::format("{} readiness checks are still running (the store or the "
                    "log is not answering)",
                    kMaxReadinessChecks));
  }
  // The result reaches this coroutine's thread and cancels the wait; the shared state
  // outlives a coroutine that gave up.
  struct Wait {
    explicit Wait(const IoExecutor& executor) : timer(executor) {}
    Timer timer;
    std::optional<health::Readiness> result;
  };
  const IoExecutor executor = co_await boost::asio::this_coro::executor;
  auto wait = std::make_shared<Wait>(executor);
  readiness_work_.post([this, wait, executor] {
    auto result = checks_.run();
    running_.fetch_sub(1, std::memory_order_relaxed);
    boost::asio::post(executor, [wait, result = std::move(result)]() mutable {
      wait->result = std::move(result);
      wait->timer.cancel();
    });
  });
  wait->timer.expires_after(deadline);
  co_await wait->timer.async_wait(kTuple);
  if (wait->result) co_return std::move(*wait->result);
  co_return not_ready(
      fmt::format("the readiness checks did not finish within {} ms (the store or the log is not "
                  "answering)",
                  deadline.count()));
}

}  // namespace sluice::http
