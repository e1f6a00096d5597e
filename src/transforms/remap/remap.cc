#include "transforms/remap/remap.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "core/json_write.h"
#include "pipeline/field_path.h"

namespace sluice::transforms {
namespace {

namespace json = boost::json;

// The document settings are JSON objects whose values are strings.
Result<std::vector<std::pair<std::string, std::string>>> string_pairs(const std::string& text,
                                                                      const char* what) {
  std::vector<std::pair<std::string, std::string>> out;
  if (text.empty()) return out;
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return make_error(Errc::kInvalidInput, fmt::format("{}: expected a mapping", what));
  }
  for (const auto& [key, item] : value.get_object()) {
    if (!item.is_string()) {
      return make_error(Errc::kInvalidInput, fmt::format("{}.{}: expected a string (quote it)",
                                                         what, std::string_view(key)));
    }
    out.emplace_back(std::string(key), std::string(item.get_string()));
  }
  return out;
}

std::optional<Remap::Type> type_named(std::string_view name) {
  if (name == "string") return Remap::Type::kString;
  if (name == "number") return Remap::Type::kNumber;
  if (name == "integer") return Remap::Type::kInteger;
  if (name == "boolean") return Remap::Type::kBoolean;
  return std::nullopt;
}

Result<Remap::Plan> plan_of(const Remap::Settings& settings) {
  Remap::Plan plan;
  auto rename = string_pairs(settings.rename, "rename");
  if (!rename) return rename.error();
  plan.rename = std::move(rename.value());
  auto set = string_pairs(settings.set, "set");
  if (!set) return set.error();
  for (auto& [path, text] : set.value()) {
    auto parsed = expr::Expression::parse(text);
    if (!parsed) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("set.{}: {}", path, parsed.error().message));
    }
    plan.set.emplace_back(path, std::move(parsed.value()));
  }
  auto cast = string_pairs(settings.cast, "cast");
  if (!cast) return cast.error();
  for (auto& [path, name] : cast.value()) {
    auto type = type_named(name);
    if (!type) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("cast.{}: \"{}\" is not a type: use string, number, integer "
                                    "or boolean",
                                    path, name));
    }
    plan.cast.emplace_back(path, *type);
  }
  plan.drop = settings.drop;
  return plan;
}

std::optional<std::string> check_plan_part(const Remap::Settings& settings) {
  auto plan = plan_of(settings);
  if (!plan) return plan.error().message;
  return std::nullopt;
}

json::value as_number(const json::value& v, bool integer) {
  double number;
  if (v.is_int64() || v.is_uint64()) {
    return v;
  } else if (v.is_double()) {
    number = v.get_double();
  } else if (v.is_bool()) {
    return json::value(static_cast<std::int64_t>(v.get_bool() ? 1 : 0));
  } else if (v.is_string()) {
    std::string_view text = v.get_string();
    while (!text.empty() && text.front() == ' ')
      text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ')
      text.remove_suffix(1);
    std::int64_t whole = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), whole);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
      return json::value(whole);
    }
    auto [dend, dec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (dec != std::errc() || dend != text.data() + text.size() || text.empty()) return nullptr;
  } else {
    return nullptr;
  }
  if (!std::isfinite(number)) return nullptr;
  if (integer) return json::value(static_cast<std::int64_t>(std::trunc(number)));
  return json::value(number);
}

json::value converted(const json::value& v, Remap::Type type) {
  switch (type) {
    case Remap::Type::kString:
      if (v.is_string()) return v;
      if (v.is_null()) return nullptr;
      return json::value(json_text(v));
    case Remap::Type::kNumber:
      return as_number(v, false);
    case Remap::Type::kInteger: {
      json::value n = as_number(v, true);
      if (n.is_double()) return json::value(static_cast<std::int64_t>(std::trunc(n.get_double())));
      return n;
    }
    case Remap::Type::kBoolean:
      if (v.is_bool()) return v;
      if (v.is_string()) {
        if (v.get_string() == "true") return true;
        if (v.get_string() == "false") return false;
      }
      if (v.is_int64()) return v.get_int64() != 0;
      return nullptr;
  }
  return nullptr;
}

}  // namespace

const config::Table& Remap::settings_table() {
  static const config::Table table{
      "remap",
      "Changes fields, in this order: `rename`, `cast`, `set`, `drop`. Field names are dotted "
      "paths into nested objects.",
      {
          config::document_setting(
              "rename", &Settings::rename, "Mapping of field to its new name (path to path).",
              [](const config::Scalar& v) { return check_plan_part(Settings{.rename = v.text}); }),
          config::document_setting(
              "set", &Settings::set,
              "Mapping of field to an expression computing its value from the event as renamed "
              "and cast (docs/expressions.md); a string literal is written in quotes inside "
              "the YAML string: `'\"web\"'`.",
              [](const config::Scalar& v) { return check_plan_part(Settings{.set = v.text}); }),
          config::document_setting(
              "cast", &Settings::cast,
              "Mapping of field to `string`, `number`, `integer` or `boolean`; a value that "
              "does not convert becomes null.",
              [](const config::Scalar& v) { return check_plan_part(Settings{.cast = v.text}); }),
          config::string_list_setting("drop", &Settings::drop, "[]", "Fields to remove."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Transform>> Remap::build(const pipeline::TransformContext&,
                                                          const Settings& settings) {
  auto plan = plan_of(settings);
  if (!plan) return plan.error();
  return std::unique_ptr<pipeline::Transform>(std::make_unique<Remap>(std::move(plan.value())));
}

bool Remap::apply(pipeline::PipelineEvent& event) {
  json::value& root = event.mutable_json();
  for (const auto& [from, to] : plan_.rename) {
    if (auto value = pipeline::take_field(root, from)) pipeline::set_field(root, to, *value);
  }
  for (const auto& [path, type] : plan_.cast) {
    if (const auto* value = pipeline::find_field(root, path)) {
      pipeline::set_field(root, path, converted(*value, type));
    }
  }
  for (const auto& [path, expression] : plan_.set)
    pipeline::set_field(root, path, expression.evaluate(root));
  for (const auto& path : plan_.drop)
    pipeline::take_field(root, path);
  return true;
}

}  // namespace sluice::transforms
