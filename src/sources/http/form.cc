#include "sources/http/form.h"

#include <fmt/format.h>

#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>
#include <charconv>
#include <cmath>

#include "sources/http/sanitize.h"

namespace sluice::collector {
namespace {

namespace json = boost::json;

json::value typed(const std::string& text, const std::string& type) {
  if (type == "integer") {
    std::int64_t number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc() && end == text.data() + text.size()) return number;
  } else if (type == "number") {
    double number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    // from_chars also reads "inf" and "nan", which JSON cannot write.
    if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(number)) {
      return number;
    }
  } else if (type == "boolean") {
    if (text == "on" || text == "true" || text == "1") return true;
    if (text == "off" || text == "false" || text == "0") return false;
  }
  return json::string(text);
}

}  // namespace

Result<json::object> parse_form(std::string_view body, const validation::JsonSchema* schema) {
  auto encoded = boost::urls::parse_query(body);
  if (!encoded) {
    return make_error(Errc::kInvalidInput,
                      "malformed form body: invalid percent-encoding (application/"
                      "x-www-form-urlencoded)");
  }
  if (encoded->size() > kMaxFormFields) {
    return make_error(Errc::kInvalidInput, fmt::format("the form has {} fields; the limit is {}",
                                                       encoded->size(), kMaxFormFields));
  }
  boost::urls::encoding_opts options;
  options.space_as_plus = true;
  json::object event;
  for (const auto& param : boost::urls::params_view(body, options)) {
    if (param.key.empty()) continue;
    if (!valid_utf8(param.key) || !valid_utf8(param.value)) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("form field \"{}\" is not valid UTF-8",
                                    valid_utf8(param.key) ? param.key : std::string("?")));
    }
    const std::string text = clean_text(param.value);
    if (text.empty()) continue;
    const std::string type = schema ? schema->property_type(param.key) : "";
    if (type == "array") {
      auto& slot = event[param.key];
      if (!slot.is_array()) slot = json::array();
      slot.get_array().emplace_back(json::string(text));
      continue;
    }
    json::value value = typed(text, type);
    if (auto* existing = event.if_contains(param.key)) {
      if (!existing->is_array()) {
        json::array list;
        list.emplace_back(std::move(*existing));
        *existing = std::move(list);
      }
      existing->get_array().emplace_back(std::move(value));
    } else {
      event.emplace(param.key, std::move(value));
    }
  }
  return event;
}

}  // namespace sluice::collector
