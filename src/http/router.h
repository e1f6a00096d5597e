#pragma once
// The routes of the process, as their owners registered them, and which one a path is. Exact
// paths are found by one lookup; patterns are tried in the order they were added (the
// collector's first: most requests are posts).

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/route.h"

namespace sluice::http {

class Router {
 public:
  // Throws std::invalid_argument on a malformed pattern or one added twice.
  void add(Route route);

  struct Match {
    const Route* route = nullptr;
    std::size_t index = 0;  // the route's label in labels()
    std::string_view param;
  };
  std::optional<Match> match(std::string_view path) const;

  // The request metrics' route labels: each route's, then kNoRoute's and kRefusedEarly's.
  std::vector<std::string> labels() const;
  std::size_t no_route() const { return routes_.size(); }
  std::size_t refused_early() const { return routes_.size() + 1; }

 private:
  struct Entry {
    Route route;
    std::string label;
    std::string prefix;  // before the placeholder (the whole path without one)
    std::string suffix;  // after it
    bool has_param = false;
    bool rest = false;  // {name*}
  };
  std::vector<Entry> routes_;
  std::map<std::string, std::size_t, std::less<>> exact_;  // paths without a placeholder
  std::vector<std::size_t> patterns_;                      // the others, in order
};

}  // namespace sluice::http
