#pragma once
// Message templates (alert messages, log sink lines): `{field}` is replaced by that field's
// value in a JSON object (dotted paths reach nested fields); anything else is kept as written.

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace sluice::pipeline {

// Strings are inserted without quotes, numbers as written by a person (98.5, not 9.85E1), other
// values as JSON. A `{name}` that names no field is left as it is.
std::string render_message(std::string_view text, const boost::json::value& context);

}  // namespace sluice::pipeline
