// The front door's route table: which route a path is, and the labels of the request metrics.
#include "http/router.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sluice::http {
namespace {

Route route(std::string pattern) {
  return {.pattern = std::move(pattern),
          .allow = "GET",
          .access = Access::kRead,
          .handler = [](Request& req, const Call&) { return ready(answer(req, 200, "")); }};
}

TEST(Router, FindsExactPathsAndPlaceholders) {
  Router router;
  router.add(route("/v1/streams/{stream}/events"));
  router.add(route("/v1/events"));
  router.add(route("/v1/events/{id*}"));
  router.add(route("/collect"));

  auto events = router.match("/v1/events");
  ASSERT_TRUE(events);
  EXPECT_EQ(events->route->pattern, "/v1/events");
  EXPECT_EQ(events->index, 1u);
  EXPECT_TRUE(events->param.empty());

  auto posted = router.match("/v1/streams/web/events");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->index, 0u);
  EXPECT_EQ(posted->param, "web");

  // {name} is one segment, not empty; {name*} is the rest, slashes included.
  EXPECT_FALSE(router.match("/v1/streams/a/b/events"));
  EXPECT_FALSE(router.match("/v1/streams//events"));
  auto id = router.match("/v1/events/a/b%2Fc");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->param, "a/b%2Fc");
  EXPECT_EQ(router.match("/v1/events/")->param, "");

  EXPECT_EQ(router.match("/collect")->index, 3u);
  EXPECT_FALSE(router.match("/collect/more"));
  EXPECT_FALSE(router.match("/nothing"));
}

TEST(Router, LabelsAreThePatternsThenTheFrontDoorsOwn) {
  Router router;
  router.add(route("/v1/events/{id*}"));
  router.add(route("/metrics"));
  const std::vector<std::string> expected = {"/v1/events/{id}", "/metrics", "(no route)",
                                             "(refused early)"};
  EXPECT_EQ(router.labels(), expected);
  EXPECT_EQ(router.no_route(), 2u);
  EXPECT_EQ(router.refused_early(), 3u);
}

TEST(Router, RefusesMalformedAndRepeatedPatterns) {
  Router router;
  router.add(route("/v1/events"));
  EXPECT_THROW(router.add(route("/v1/events")), std::invalid_argument);
  EXPECT_THROW(router.add(route("v1/relative")), std::invalid_argument);
  EXPECT_THROW(router.add(route("/a/{x}/{y}")), std::invalid_argument);
  EXPECT_THROW(router.add(route("/a/{rest*}/more")), std::invalid_argument);
  EXPECT_THROW(router.add(route("/a/{open")), std::invalid_argument);
}

}  // namespace
}  // namespace sluice::http
