#include "pipeline/field_path.h"

#include <boost/json.hpp>

namespace sluice::pipeline {
namespace {

// Splits "a.b.c" into the parent path "a.b" and the last part "c".
std::pair<std::string_view, std::string_view> split_last(std::string_view path) {
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos) return {{}, path};
  return {path.substr(0, dot), path.substr(dot + 1)};
}

}  // namespace

const boost::json::value* find_field(const boost::json::value& root, std::string_view path) {
  const boost::json::value* at = &root;
  while (true) {
    const auto dot = path.find('.');
    const std::string_view part = path.substr(0, dot);
    const auto* object = at->if_object();
    if (!object) return nullptr;
    auto it = object->find(part);
    if (it == object->end()) return nullptr;
    at = &it->value();
    if (dot == std::string_view::npos) return at;
    path.remove_prefix(dot + 1);
  }
}

void set_field(boost::json::value& root, std::string_view path, boost::json::value value) {
  boost::json::value* at = &root;
  while (true) {
    if (!at->is_object()) *at = boost::json::object();
    auto& object = at->get_object();
    const auto dot = path.find('.');
    const std::string_view part = path.substr(0, dot);
    if (dot == std::string_view::npos) {
      object[part] = std::move(value);
      return;
    }
    at = &object[part];
    path.remove_prefix(dot + 1);
  }
}

std::optional<boost::json::value> take_field(boost::json::value& root, std::string_view path) {
  auto [parent_path, last] = split_last(path);
  boost::json::value* parent = &root;
  if (!parent_path.empty()) {
    parent = const_cast<boost::json::value*>(find_field(root, parent_path));
  }
  if (!parent || !parent->is_object()) return std::nullopt;
  auto& object = parent->get_object();
  auto it = object.find(last);
  if (it == object.end()) return std::nullopt;
  boost::json::value out = std::move(it->value());
  object.erase(it);
  return out;
}

}  // namespace sluice::pipeline
