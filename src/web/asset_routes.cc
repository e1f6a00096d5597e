#include "web/asset_routes.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <boost/beast/http/field.hpp>

#include "core/gzip.h"
#include "web/embedded_assets.h"

namespace sluice::web {
namespace {

constexpr int kSmallest = 9;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

bool is_html(std::string_view content_type) {
  return content_type.starts_with("text/html");
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    const std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding = comma == std::string_view::npos ? "" : accept_encoding.substr(comma + 1);
    const auto semicolon = item.find(';');
    const std::string_view coding = trim(item.substr(0, semicolon));
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    if (semicolon == std::string_view::npos) return true;
    const std::string_view q = trim(item.substr(semicolon + 1));
    // "q=0", "q=0.0", "q=0.000": refused; any other weight takes it.
    return !(q.starts_with("q=0") && q.find_first_not_of("0.", 2) == std::string_view::npos);
  }
  return false;
}

AssetRoutes::AssetRoutes() {
  for (const auto& embedded : embedded_assets()) {
    assets_.push_back({
        .path = embedded.path,
        .content_type = embedded.content_type,
        .body = embedded.body,
        .gzipped = gzip(embedded.body, kSmallest),
        .etag = fmt::format("\"{:016x}\"", XXH3_64bits(embedded.body.data(), embedded.body.size())),
        // Pages are checked on every load (a new binary serves a new page at once); the
        // tracker may be cached for 5 minutes, then revalidated with its ETag.
        .cache_control = is_html(embedded.content_type) ? "no-cache" : "public, max-age=300",
    });
  }
}

http::Reply AssetRoutes::serve(const http::Request& req, const Asset& asset) const {
  namespace field = boost::beast::http;
  const auto if_none_match = req[field::field::if_none_match];
  const bool unchanged = if_none_match.find(asset.etag) != std::string_view::npos;
  const bool gzipped = !unchanged && accepts_gzip(req[field::field::accept_encoding]);
  auto reply = http::answer(req, unchanged ? 304 : 200,
                            unchanged ? std::string()
                            : gzipped ? asset.gzipped
                                      : std::string(asset.body));
  reply.content_type = unchanged ? std::string_view() : asset.content_type;
  reply.set("ETag", asset.etag);
  reply.set("Cache-Control", asset.cache_control);
  reply.set("Vary", "Accept-Encoding");
  reply.set("X-Content-Type-Options", "nosniff");
  if (gzipped) reply.set("Content-Encoding", "gzip");
  return reply;
}

void AssetRoutes::add_routes(http::Router& router) const {
  for (const auto& asset : assets_) {
    auto handler = [this, &asset](http::Request& req, const http::Call&) {
      return http::ready(serve(req, asset));
    };
    router.add({.pattern = std::string(asset.path),
                .allow = "GET",
                .access = http::Access::kOpen,
                .handler = handler});
    // A page is a single-page app: its deeper paths are the same page.
    if (is_html(asset.content_type) && asset.path != "/") {
      router.add({.pattern = std::string(asset.path) + "/{path*}",
                  .allow = "GET",
                  .access = http::Access::kOpen,
                  .handler = handler});
    }
  }
}

}  // namespace sluice::web
