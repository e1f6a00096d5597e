#pragma once
// HTML form bodies (application/x-www-form-urlencoded) as JSON events.
//
// Field values are text. Where the stream's schema gives a top-level property the type
// integer, number or boolean, the text is converted ("42", "2.5", "on"/"true"/"1" and
// "off"/"false"/"0"); a value that does not convert stays text so the schema names it. A name
// given more than once (checkboxes), or whose schema type is array, becomes an array. Empty
// values are left out, as if the input had not been filled in, so `required` works.

#include <boost/json/object.hpp>
#include <string_view>

#include "core/result.h"
#include "validation/json_schema.h"

namespace sluice::collector {

inline constexpr std::size_t kMaxFormFields = 1000;

Result<boost::json::object> parse_form(std::string_view body, const validation::JsonSchema* schema);

}  // namespace sluice::collector
