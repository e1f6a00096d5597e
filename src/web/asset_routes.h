#pragma once
// Serves the browser code compiled into the binary: /tracker.js, which pages load to send
// events, and /demo, a page that runs it. Each file is compressed once at start; answers carry
// an ETag (a page load that has the file gets 304) and gzip for clients that take it.

#include <string>
#include <string_view>
#include <vector>

#include "http/router.h"

namespace sluice::web {

class AssetRoutes {
 public:
  AssetRoutes();
  void add_routes(http::Router& router) const;

 private:
  struct Asset {
    std::string_view path;
    std::string_view content_type;
    std::string_view body;
    std::string gzipped;
    std::string etag;
    std::string cache_control;
  };
  http::Reply serve(const http::Request& req, const Asset& asset) const;

  std::vector<Asset> assets_;
};

// Whether an Accept-Encoding header takes gzip (a q of 0 refuses it).
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace sluice::web
