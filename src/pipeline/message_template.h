#pragma once
// Message templates (alert messages, log sink lines): `{field}` is replaced by that field's
// value in a JSON object (dotted paths reach nested fields); anything else is kept as written.

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace sluice::pipeline {

// Strings are inserted without quotes, numbers as the shortest decimal that reads back the same
// (98.5, not 9.85E1; as in the JSON of results and alerts), other values as JSON. `{name:.1f}`
// formats a number (or text) as fmt does (`.1f`, `.0f`, `>8`...). A `{name}` that names no
// field, or a format that does not apply to its value, is left as it is.
std::string render_message(std::string_view text, const boost::json::value& context);

}  // namespace sluice::pipeline
