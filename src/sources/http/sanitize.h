#pragma once
// Cleaning of text fields: what forms and configured fields get before validation.

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::collector {

// True when `text` is well-formed UTF-8.
bool valid_utf8(std::string_view text);

// Trims, turns every run of whitespace into one space and removes control characters (C0,
// DEL and C1). `text` must be valid UTF-8.
std::string clean_text(std::string_view text);

// ASCII lower-casing (e-mail addresses: domains are case-insensitive and local parts are in
// practice).
std::string lower_ascii(std::string_view text);

// Characters (code points) in valid UTF-8 text.
std::size_t utf8_length(std::string_view text);

}  // namespace sluice::collector
