#include "windows/field_projection.h"

#include <boost/json/parse.hpp>

namespace sluice::windows {

namespace ondemand = simdjson::ondemand;

FieldProjection::FieldProjection(const std::vector<std::string>& fields)
    : out_(boost::json::object()) {
  for (const auto& field : fields)
    names_.insert(field.substr(0, field.find('.')));
}

const boost::json::value* FieldProjection::project(std::string_view payload) {
  buffer_.assign(payload);
  buffer_.append(simdjson::SIMDJSON_PADDING, '\0');
  boost::json::object& out = out_.as_object();
  out.clear();
  ondemand::document doc;
  ondemand::object object;
  if (parser_.iterate(buffer_.data(), payload.size(), buffer_.size()).get(doc) ||
      doc.get_object().get(object)) {
    return nullptr;
  }
  for (auto field : object) {
    std::string_view name;
    ondemand::value value;
    if (field.unescaped_key().get(name) || field.value().get(value)) return nullptr;
    if (!names_.contains(name)) continue;  // skipped unparsed
    ondemand::json_type type;
    if (value.type().get(type)) return nullptr;
    boost::json::value& slot = out[name];
    switch (type) {
      case ondemand::json_type::string: {
        std::string_view text;
        if (value.get_string().get(text)) return nullptr;
        slot = boost::json::string(text);
        break;
      }
      case ondemand::json_type::number: {
        ondemand::number number;
        if (value.get_number().get(number)) {
          // Beyond 64 bits: as Boost.JSON reads it.
          boost::system::error_code ec;
          slot = boost::json::parse(value.raw_json_token(), ec);
          if (ec) return nullptr;
          break;
        }
        if (number.is_int64()) {
          slot = number.get_int64();
        } else if (number.is_uint64()) {
          slot = number.get_uint64();
        } else {
          slot = number.get_double();
        }
        break;
      }
      case ondemand::json_type::boolean: {
        bool flag = false;
        if (value.get_bool().get(flag)) return nullptr;
        slot = flag;
        break;
      }
      case ondemand::json_type::null:
        slot = nullptr;
        break;
      default: {  // objects and arrays: for dotted paths and whole values
        std::string_view raw;
        if (simdjson::to_json_string(value).get(raw)) return nullptr;
        boost::system::error_code ec;
        slot = boost::json::parse(raw, ec);
        if (ec) return nullptr;
      }
    }
  }
  return &out_;
}

}  // namespace sluice::windows
