#pragma once
// Dotted field paths ("user.address.city") inside a JSON object, as remap and dedup name them.

#include <boost/json/value.hpp>
#include <optional>
#include <string_view>

namespace sluice::pipeline {

// The value at `path`, or null when a part of it is missing or not an object.
const boost::json::value* find_field(const boost::json::value& root, std::string_view path);
// Sets the value at `path`, creating objects on the way (and replacing non-objects there).
void set_field(boost::json::value& root, std::string_view path, boost::json::value value);
// Removes the field at `path` and returns its value, if it was there.
std::optional<boost::json::value> take_field(boost::json::value& root, std::string_view path);

}  // namespace sluice::pipeline
