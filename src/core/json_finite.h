#pragma once
// Whether a Boost.JSON value can be written back as JSON. Boost.JSON reads some valid numbers
// (1e400, 0e999) as infinity or NaN, and arithmetic can make them; it writes them as Infinity
// and NaN, which are not JSON.

#include <boost/json/value.hpp>
#include <cmath>

namespace sluice {

inline bool finite_numbers(const boost::json::value& value) {
  if (value.is_double()) return std::isfinite(value.get_double());
  if (const auto* array = value.if_array()) {
    for (const auto& element : *array)
      if (!finite_numbers(element)) return false;
  }
  if (const auto* object = value.if_object()) {
    for (const auto& field : *object)
      if (!finite_numbers(field.value())) return false;
  }
  return true;
}

}  // namespace sluice
