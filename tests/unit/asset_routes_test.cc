// The browser code the binary serves: which Accept-Encoding takes gzip, and the answers of the
// routes (the embedded files, gzipped when accepted, 304 for a current ETag, the demo's
// deeper paths).
#include "web/asset_routes.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "sources/http/decompress.h"
#include "web/embedded_assets.h"

namespace sluice::web {
namespace {

TEST(AcceptsGzip, ReadsTheHeaderAsAList) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("gzip, deflate, br"));
  EXPECT_TRUE(accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_TRUE(accepts_gzip("deflate, x-gzip"));
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip("br, deflate"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip; q=0.000"));
  EXPECT_FALSE(accepts_gzip("gzipped"));
}

http::Reply get(const http::Router& router, std::string target,
                std::vector<std::pair<boost::beast::http::field, std::string>> headers = {}) {
  http::Request req{boost::beast::http::verb::get, target, 11};
  for (const auto& [name, value] : headers)
    req.set(name, value);
  auto match = router.match(target);
  EXPECT_TRUE(match) << target;
  if (!match) return {};
  boost::asio::io_context io;
  auto reply = boost::asio::co_spawn(io, match->route->handler(req, http::Call{.path = target}),
                                     boost::asio::use_future);
  io.run();
  return reply.get();
}

std::string header(const http::Reply& reply, std::string_view name) {
  for (const auto& [key, value] : reply.headers)
    if (key == name) return value;
  return "";
}

TEST(AssetRoutes, ServeTheEmbeddedFiles) {
  http::Router router;
  AssetRoutes routes;
  routes.add_routes(router);
  ASSERT_GE(embedded_assets().size(), 2u);
  for (const auto& asset : embedded_assets()) {
    auto plain = get(router, std::string(asset.path));
    EXPECT_EQ(plain.status, 200u);
    EXPECT_EQ(plain.body, asset.body);
    EXPECT_EQ(plain.content_type, asset.content_type);
    EXPECT_EQ(header(plain, "Content-Encoding"), "");

    auto gzipped = get(router, std::string(asset.path),
                       {{boost::beast::http::field::accept_encoding, "gzip, br"}});
    EXPECT_EQ(header(gzipped, "Content-Encoding"), "gzip");
    EXPECT_LT(gzipped.body.size(), asset.body.size());
    EXPECT_EQ(collector::decompress_body("gzip", gzipped.body, 1 << 24).value(), asset.body);

    const std::string etag = header(plain, "ETag");
    ASSERT_FALSE(etag.empty());
    auto current = get(router, std::string(asset.path),
                       {{boost::beast::http::field::if_none_match, "\"old\", " + etag}});
    EXPECT_EQ(current.status, 304u);
    EXPECT_TRUE(current.body.empty());
    auto stale = get(router, std::string(asset.path),
                     {{boost::beast::http::field::if_none_match, "\"0000000000000000\""}});
    EXPECT_EQ(stale.status, 200u);
  }
  auto tracker = get(router, "/tracker.js");
  EXPECT_NE(tracker.body.find("sendBeacon"), std::string::npos);
  EXPECT_EQ(header(tracker, "Cache-Control"), "public, max-age=300");
  // The demo is a single-page app: its deeper paths are the page.
  auto deeper = get(router, "/demo/pricing");
  EXPECT_EQ(deeper.status, 200u);
  EXPECT_EQ(deeper.body, get(router, "/demo").body);
  EXPECT_EQ(header(deeper, "Cache-Control"), "no-cache");
}

}  // namespace
}  // namespace sluice::web
