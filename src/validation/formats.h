#pragma once
// The string formats a JSON Schema `format` checks: RFC 3339 dates and times, e-mail addresses
// and absolute URIs. Each is a single pass over the text with no regular expression, so a value
// of any length costs time in proportion to it and nothing more (valijson's own checks use
// std::regex, whose matcher recurses once per character and ran the stack out on long values).

#include <string_view>

namespace sluice::validation {

// full-date: YYYY-MM-DD with the day within its month (29 February only in leap years).
bool is_date(std::string_view text);
// full-time: hh:mm:ss[.fraction](Z|+hh:mm|-hh:mm), the second up to 60 (a leap second).
bool is_time(std::string_view text);
// date-time: full-date "T" full-time; "t" and "z" are accepted in lower case too.
bool is_date_time(std::string_view text);
bool is_email(std::string_view text);
// An absolute URI (RFC 3986): a scheme, ":", then URI characters with valid %-escapes.
bool is_uri(std::string_view text);

// The check for a format name, or nullptr for a format that is not checked (draft 7 makes
// `format` an annotation; unknown formats pass).
using FormatCheck = bool (*)(std::string_view);
FormatCheck format_check(std::string_view format);

}  // namespace sluice::validation
