#include "pipeline/message_template.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>

#include "pipeline/field_path.h"

namespace sluice::pipeline {

std::string render_message(std::string_view text, const boost::json::value& context) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto close = text[i] == '{' ? text.find('}', i) : std::string_view::npos;
    if (close == std::string_view::npos) {
      out += text[i];
      continue;
    }
    const boost::json::value* value = find_field(context, text.substr(i + 1, close - i - 1));
    if (!value) {
      out += text.substr(i, close - i + 1);  // not a field: kept as written
    } else if (value->is_string()) {
      out += value->get_string();
    } else if (value->is_double()) {
      out += fmt::format("{}", value->get_double());
    } else {
      out += boost::json::serialize(*value);
    }
    i = close;
  }
  return out;
}

}  // namespace sluice::pipeline
