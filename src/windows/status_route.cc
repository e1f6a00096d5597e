#include "windows/status_route.h"

namespace sluice::windows {

void add_status_route(http::Router& router, const WindowSet& windows, http::WorkPool& work) {
  router.add({.pattern = "/v1/windows",
              .allow = "GET",
              .access = http::Access::kRead,
              .handler = [&windows, &work](http::Request& req,
                                           const http::Call&) -> http::Task<http::Reply> {
                auto statuses = co_await work.run([&windows] {
                  return statuses_json(windows.statuses(), windows.rule_statuses());
                });
                co_return http::answer(req, 200, std::move(statuses));
              }});
}

}  // namespace sluice::windows
