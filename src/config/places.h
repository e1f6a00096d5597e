#pragma once
// Help for errors found once the file is loaded, such as a name that refers to nothing: where
// the setting is in the file, and which known name was probably meant.

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

struct Place {
  int line = 0;  // 1-based; 0 when the setting is not in the file (a default)
  int column = 0;
};

// Where root[keys[0]][keys[1]]... is in the file; where its list item `item` is, when that
// setting is a list holding it.
Place place_of(const YAML::Node& root, const std::vector<std::string_view>& keys,
               std::string_view item = {});

// `; did you mean "events"?` when one of `known` is a likely misspelling of `name` (a few
// letters added, dropped, changed or swapped) or begins with it; empty otherwise.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& known);

}  // namespace sluice::config
