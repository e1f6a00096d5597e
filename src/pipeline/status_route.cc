#include "pipeline/status_route.h"

namespace sluice::pipeline {

void add_status_route(http::Router& router, const PipelineSet& pipelines, http::WorkPool& work) {
  router.add({.pattern = "/v1/pipelines",
              .allow = "GET",
              .access = http::Access::kRead,
              .handler = [&pipelines, &work](http::Request& req,
                                             const http::Call&) -> http::Task<http::Reply> {
                auto statuses =
                    co_await work.run([&pipelines] { return statuses_json(pipelines.statuses()); });
                co_return http::answer(req, 200, std::move(statuses));
              }});
}

}  // namespace sluice::pipeline
