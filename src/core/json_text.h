#pragma once
// Writing JSON text directly into a response buffer. Responses splice stored payloads (which
// are already valid JSON) between fields written here, so nothing is parsed twice.

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Appends `value` as a JSON string literal, quotes included, escaping as RFC 8259 requires.
void append_json_string(std::string& out, std::string_view value);

// Whether `text` is exactly one JSON number (RFC 8259:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?).
bool is_json_number(std::string_view text);

}  // namespace sluice
