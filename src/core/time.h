#pragma once
// Wall-clock time and the timestamp formats events use.
// Times inside Sluice are milliseconds since the Unix epoch (UTC), as int64.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

std::int64_t now_ms();

// RFC 3339 / ISO-8601 date-time: "2025-10-13T11:30:00Z", with optional fraction of a second
// (any number of digits, kept to the millisecond) and a "Z" or "+hh:mm"/"-hh:mm" offset.
// A date alone ("2025-10-13") means midnight UTC.
std::optional<std::int64_t> parse_iso8601_ms(std::string_view text);

// Epoch numbers: values above 1e11 are milliseconds, smaller ones seconds (1e11 seconds is the
// year 5138, 1e11 milliseconds is 1973). Fractions of a second are kept to the millisecond.
std::optional<std::int64_t> epoch_number_to_ms(double value);

// ISO-8601 or an epoch number (see above), as written in query parameters and event fields.
std::optional<std::int64_t> parse_time_text(std::string_view text);

// "2025-10-13T11:30:00.000Z".
std::string format_iso8601_ms(std::int64_t ms);

}  // namespace sluice
