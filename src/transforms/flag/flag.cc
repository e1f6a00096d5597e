#include "transforms/flag/flag.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "pipeline/field_path.h"

namespace sluice::transforms {
namespace {

namespace json = boost::json;

constexpr std::string_view kBuiltin = "builtin:";
constexpr std::uintmax_t kMaxListBytes = 16 << 20;

Result<std::string> list_text(const std::string& source) {
  if (source.starts_with(kBuiltin)) {
    const auto name = std::string_view(source).substr(kBuiltin.size());
    const auto text = builtin_word_list(name);
    if (text.empty()) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("\"{}\": no such built-in list (there are: {})", source,
                                    fmt::join(builtin_word_list_names(), ", ")));
    }
    return std::string(text);
  }
  std::ifstream in(source, std::ios::binary);
  if (!in) {
    return make_error(Errc::kInvalidInput, fmt::format("cannot read word list {}", source));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxListBytes) {
    return make_error(Errc::kInvalidInput, fmt::format("word list {} is over {} bytes", source,
                                                       static_cast<std::size_t>(kMaxListBytes)));
  }
  return text.str();
}

Result<std::vector<Flag::NamedList>> lists_of(const std::string& document) {
  std::vector<Flag::NamedList> out;
  boost::system::error_code ec;
  auto value = document.empty() ? json::value(json::object()) : json::parse(document, ec);
  if (ec || !value.is_object()) {
    return make_error(Errc::kInvalidInput, "lists: expected a mapping of name to word list");
  }
  for (const auto& [name, source] : value.get_object()) {
    if (!source.is_string()) {
      return make_error(
          Errc::kInvalidInput,
          fmt::format("lists.{}: expected a file path or builtin:NAME", std::string_view(name)));
    }
    const std::string path(source.get_string());
    auto text = list_text(path);
    if (!text) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("lists.{}: {}", std::string_view(name), text.error().message));
    }
    auto list = WordList::parse(text.value(), path);
    if (!list) return list.error();
    out.push_back({std::string(name), std::move(list.value())});
  }
  if (out.empty()) return make_error(Errc::kInvalidInput, "lists: at least one list is needed");
  return out;
}

// Every string in `value`, depth first (the collector bounds the depth).
void strings_in(const json::value& value, std::vector<std::string_view>& out) {
  if (value.is_string()) {
    out.push_back(value.get_string());
  } else if (value.is_array()) {
    for (const auto& item : value.get_array())
      strings_in(item, out);
  } else if (value.is_object()) {
    for (const auto& [key, item] : value.get_object())
      strings_in(item, out);
  }
}

}  // namespace

const config::Table& Flag::settings_table() {
  static const config::Table table{
      "flag",
      "Finds the words of word lists in the event's text (whole words and phrases, whatever "
      "their case, accents or leetspeak) and labels the event with them, routes it, or both.",
      {
          config::string_list_setting("fields", &Settings::fields, "[]",
                                      "Text fields to check (dotted paths); empty: every string "
                                      "in the event."),
          config::document_setting(
              "lists", &Settings::lists,
              "Mapping of list name to a word list: a file (one word or phrase per line, `#` "
              "comments) or `builtin:slang`, the starter list. Required.",
              [](const config::Scalar& v) -> std::optional<std::string> {
                auto lists = lists_of(v.text);
                if (!lists) return lists.error().message;
                return std::nullopt;
              }),
          config::string_setting("label", &Settings::label, "flags",
                                 "Field (dotted path) that gets `{list: [entries found]}` when "
                                 "something is found; empty: no label."),
          config::string_list_setting("to", &Settings::to, "[]",
                                      "Sinks (of the pipeline's `to`) that get flagged events "
                                      "only; the pipeline's other sinks are not affected."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Transform>> Flag::build(const pipeline::TransformContext& context,
                                                         const Settings& settings) {
  auto lists = lists_of(settings.lists);
  if (!lists) return lists.error();
  if (settings.label.empty() && settings.to.empty()) {
    return make_error(Errc::kInvalidInput, "flag needs a `label`, a `to` or both");
  }
  std::uint64_t to_mask = 0;
  for (const auto& name : settings.to) {
    auto it = std::find(context.sinks.begin(), context.sinks.end(), name);
    if (it == context.sinks.end()) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("\"{}\" is not one of the pipeline's sinks (its `to`: {})",
                                    name, fmt::join(context.sinks, ", ")));
    }
    to_mask |= std::uint64_t{1} << (it - context.sinks.begin());
  }
  return std::unique_ptr<pipeline::Transform>(
      std::make_unique<Flag>(settings.fields, std::move(lists.value()), settings.label, to_mask));
}

std::vector<std::string> Flag::files(const Settings& settings) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto value = json::parse(settings.lists, ec);
  if (ec || !value.is_object()) return out;
  for (const auto& [name, source] : value.get_object()) {
    if (source.is_string() && !source.get_string().starts_with(kBuiltin)) {
      out.emplace_back(source.get_string());
    }
  }
  return out;
}

bool Flag::apply(pipeline::PipelineEvent& event) {
  std::vector<std::string_view> texts;
  const json::value& root = event.json();
  if (fields_.empty()) {
    strings_in(root, texts);
  } else {
    for (const auto& path : fields_) {
      if (const auto* value = pipeline::find_field(root, path)) strings_in(*value, texts);
    }
  }
  json::object labels;
  std::vector<std::string> found;
  for (const auto& [name, list] : lists_) {
    found.clear();
    for (const auto text : texts)
      list.find(text, found);
    if (found.empty()) continue;
    json::array entries;
    for (auto& entry : found)
      entries.emplace_back(entry);
    labels[name] = std::move(entries);
  }
  if (labels.empty()) {
    event.sinks &= ~to_mask_;
    return true;
  }
  if (!label_.empty()) pipeline::set_field(event.mutable_json(), label_, std::move(labels));
  return true;
}

}  // namespace sluice::transforms
