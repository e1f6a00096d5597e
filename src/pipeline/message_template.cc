#include "pipeline/message_template.h"

#include <fmt/format.h>

#include <optional>

#include "core/json_write.h"
#include "pipeline/field_path.h"

namespace sluice::pipeline {

namespace {

// `value` written with a format such as `.1f`; nullopt when the format does not apply to it.
std::optional<std::string> formatted(const boost::json::value& value, std::string_view spec) {
  const std::string pattern = "{:" + std::string(spec) + "}";
  try {
    if (value.is_int64()) return fmt::format(fmt::runtime(pattern), value.get_int64());
    if (value.is_uint64()) return fmt::format(fmt::runtime(pattern), value.get_uint64());
    if (value.is_double()) return fmt::format(fmt::runtime(pattern), value.get_double());
    if (value.is_string()) {
      return fmt::format(fmt::runtime(pattern), std::string_view(value.get_string()));
    }
  } catch (const fmt::format_error&) {
  }
  return std::nullopt;
}

}  // namespace

std::string render_message(std::string_view text, const boost::json::value& context) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto close = text[i] == '{' ? text.find('}', i) : std::string_view::npos;
    if (close == std::string_view::npos) {
      out += text[i];
      continue;
    }
    const std::string_view inside = text.substr(i + 1, close - i - 1);
    const auto colon = inside.find(':');
    const std::string_view name = inside.substr(0, colon);
    const boost::json::value* value = find_field(context, name);
    std::optional<std::string> shown;
    if (value && colon != std::string_view::npos) {
      shown = formatted(*value, inside.substr(colon + 1));
    } else if (value) {
      shown = value->is_string() ? std::string(value->get_string()) : json_text(*value);
    }
    // Not a field, or a format that does not apply: kept as written.
    out += shown ? *shown : std::string(text.substr(i, close - i + 1));
    i = close;
  }
  return out;
}

}  // namespace sluice::pipeline
