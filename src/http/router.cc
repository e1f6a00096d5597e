#include "http/router.h"

#include <stdexcept>

namespace sluice::http {

void Router::add(Route route) {
  Entry entry;
  const std::string& pattern = route.pattern;
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route \"" + pattern + "\": a path begins with /");
  }
  const auto open = pattern.find('{');
  if (open == std::string::npos) {
    entry.prefix = pattern;
    entry.label = pattern;
  } else {
    const auto close = pattern.find('}', open);
    if (close == std::string::npos || pattern.find('{', close) != std::string::npos) {
      throw std::invalid_argument("route \"" + pattern + "\": one {placeholder} at most");
    }
    entry.has_param = true;
    entry.rest = pattern[close - 1] == '*';
    if (entry.rest && close + 1 != pattern.size()) {
      throw std::invalid_argument("route \"" + pattern + "\": {name*} ends the path");
    }
    entry.prefix = pattern.substr(0, open);
    entry.suffix = pattern.substr(close + 1);
    entry.label = entry.rest ? pattern.substr(0, close - 1) + "}" : pattern;
  }
  for (const auto& other : routes_) {
    if (other.label == entry.label) {
      throw std::invalid_argument("route \"" + pattern + "\" is added twice");
    }
  }
  const std::size_t index = routes_.size();
  if (entry.has_param) {
    patterns_.push_back(index);
  } else {
    exact_.emplace(entry.prefix, index);
  }
  entry.route = std::move(route);
  routes_.push_back(std::move(entry));
}

std::optional<Router::Match> Router::match(std::string_view path) const {
  if (auto it = exact_.find(path); it != exact_.end()) {
    return Match{&routes_[it->second].route, it->second, {}};
  }
  for (const std::size_t index : patterns_) {
    const Entry& entry = routes_[index];
    if (path.size() < entry.prefix.size() + entry.suffix.size() ||
        !path.starts_with(entry.prefix) || !path.ends_with(entry.suffix)) {
      continue;
    }
    const auto param =
        path.substr(entry.prefix.size(), path.size() - entry.prefix.size() - entry.suffix.size());
    if (!entry.rest && (param.empty() || param.find('/') != std::string_view::npos)) continue;
    return Match{&entry.route, index, param};
  }
  return std::nullopt;
}

std::vector<std::string> Router::labels() const {
  std::vector<std::string> labels;
  labels.reserve(routes_.size() + 2);
  for (const auto& entry : routes_)
    labels.push_back(entry.label);
  labels.emplace_back("(no route)");
  // Answered before routing: slow, oversized, rate-limited or malformed requests.
  labels.emplace_back("(refused early)");
  return labels;
}

}  // namespace sluice::http
