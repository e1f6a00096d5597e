#include "config/table.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <set>

#include "config/places.h"
#include "core/json_text.h"

namespace sluice::config {
namespace {

std::string join_path(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

void add_error(std::vector<ConfigError>& errors, const std::string& path, const YAML::Node* node,
               std::string message) {
  ConfigError e{.path = path, .message = std::move(message)};
  if (node && node->IsDefined() && node->Mark().line >= 0) {
    e.line = node->Mark().line + 1;
    e.column = node->Mark().column + 1;
  }
  errors.push_back(std::move(e));
}

std::string valid_keys(const Table& table) {
  std::string out;
  for (const auto& s : table.settings) {
    if (!out.empty()) out += ", ";
    out += s.name;
  }
  return out;
}

bool parse_int(const std::string& text, std::int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

struct Unit {
  std::string_view name;
  std::int64_t factor;
  bool shown;  // used when printing bounds; the others are accepted on input only
};

// A duration always carries its unit (is `600` seconds or milliseconds?); only 0 needs none.
constexpr Unit kDurationUnits[] = {{"d", 86'400'000, true},
                                   {"h", 3'600'000, true},
                                   {"m", 60'000, true},
                                   {"s", 1000, true},
                                   {"ms", 1, true}};

// Binary units are shown; decimal ones are accepted too. A bare number is bytes.
constexpr Unit kSizeUnits[] = {{"GiB", 1LL << 30, true},     {"MiB", 1LL << 20, true},
                               {"KiB", 1LL << 10, true},     {"B", 1, true},
                               {"GB", 1'000'000'000, false}, {"MB", 1'000'000, false},
                               {"KB", 1000, false},          {"", 1, false}};

// "250ms", "10MiB": digits followed by one of `units`.
template <std::size_t N>
bool parse_with_unit(const std::string& text, const Unit (&units)[N], std::int64_t& out) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  std::int64_t value;
  if (digits == 0 || !parse_int(text.substr(0, digits), value)) return false;
  const std::string_view unit = std::string_view(text).substr(digits);
  for (const auto& u : units) {
    if (u.name != unit) continue;
    if (value > std::numeric_limits<std::int64_t>::max() / u.factor) return false;
    out = value * u.factor;
    return true;
  }
  return false;
}

// The largest shown unit that divides `value` evenly: 3600000 ms is "1h".
template <std::size_t N>
std::string with_unit(std::int64_t value, const Unit (&units)[N]) {
  for (const auto& u : units) {
    if (u.shown && value != 0 && value % u.factor == 0) {
      return fmt::format("{}{}", value / u.factor, u.name);
    }
  }
  return std::to_string(value);
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "string";
    case Kind::kInt:
      return "integer";
    case Kind::kBool:
      return "boolean";
    case Kind::kDuration:
      return "duration";
    case Kind::kSize:
      return "size";
    case Kind::kStringList:
      return "list of strings";
    case Kind::kSection:
      return "section";
    case Kind::kMap:
      return "map";
    case Kind::kList:
      return "list";
    case Kind::kDocument:
      return "document";
  }
  return "?";
}

std::string bounds_text(const Setting& s) {
  const bool has_min = s.min != std::numeric_limits<std::int64_t>::min();
  const bool has_max = s.max != std::numeric_limits<std::int64_t>::max();
  auto show = [&](std::int64_t v) {
    if (s.kind == Kind::kDuration) return with_unit(v, kDurationUnits);
    if (s.kind == Kind::kSize) return with_unit(v, kSizeUnits);
    return std::to_string(v);
  };
  if (has_min && has_max) return fmt::format("{} to {}", show(s.min), show(s.max));
  if (has_min) return fmt::format("at least {}", show(s.min));
  if (has_max) return fmt::format("at most {}", show(s.max));
  return "";
}

// Parses and checks one scalar; returns the error message, if any.
std::optional<std::string> parse_scalar(const Setting& s, const std::string& text, Scalar& out) {
  out.text = text;
  switch (s.kind) {
    case Kind::kString:
      break;
    case Kind::kBool:
      if (text != "true" && text != "false") {
        return fmt::format("expected true or false, got \"{}\"", text);
      }
      out.flag = text == "true";
      break;
    case Kind::kInt:
      if (!parse_int(text, out.number)) return fmt::format("expected an integer, got \"{}\"", text);
      break;
    case Kind::kDuration:
      if (text == "0") {
        out.number = 0;
      } else if (std::int64_t bare; parse_int(text, bare)) {
        return fmt::format("\"{0}\" has no unit: write {0}s, {0}ms, {0}m…", text);
      } else if (!parse_with_unit(text, kDurationUnits, out.number)) {
        return fmt::format("expected a duration such as 250ms, 5s, 2m, 1h, got \"{}\"", text);
      }
      break;
    case Kind::kSize:
      if (!parse_with_unit(text, kSizeUnits, out.number)) {
        return fmt::format("expected a size such as 512, 64KiB, 10MiB, got \"{}\"", text);
      }
      break;
    case Kind::kStringList:
    case Kind::kSection:
    case Kind::kMap:
    case Kind::kList:
    case Kind::kDocument:
      return "internal: not a scalar";
  }
  if ((s.kind == Kind::kInt || s.kind == Kind::kDuration || s.kind == Kind::kSize) &&
      (out.number < s.min || out.number > s.max)) {
    return fmt::format("{} is out of range: must be {}", text, bounds_text(s));
  }
  if (s.check) return s.check(out);
  return std::nullopt;
}

// "; the defaults are a, b" for an error about a default that is not there.
std::string default_names(const YAML::Node& defaults) {
  std::string out;
  for (const auto& item : defaults)
    out += (out.empty() ? "; the defaults are " : ", ") + item.first.as<std::string>();
  return out.empty() ? "; there are no defaults here" : out;
}

void yaml_to_json_into(const YAML::Node& node, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      out.push_back('{');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, item.first.Scalar());
        out.push_back(':');
        yaml_to_json_into(item.second, out);
      }
      out.push_back('}');
      return;
    }
    case YAML::NodeType::Sequence: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out.push_back(',');
        first = false;
        yaml_to_json_into(item, out);
      }
      out.push_back(']');
      return;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      // Tag "!" marks a quoted scalar: always a string.
      if (node.Tag() != "!") {
        if (text == "true" || text == "false" || text == "null" || is_json_number(text)) {
          out += text;
          return;
        }
        if (text == "~") {
          out += "null";
          return;
        }
      }
      append_json_string(out, text);
      return;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out += "null";
      return;
  }
}

}  // namespace

bool valid_entry_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::int64_t> parse_duration_ms(const std::string& text) {
  std::int64_t ms = 0;
  if (text == "0") return 0;
  if (!parse_with_unit(text, kDurationUnits, ms)) return std::nullopt;
  return ms;
}

std::string yaml_to_json(const YAML::Node& node) {
  std::string out;
  yaml_to_json_into(node, out);
  return out;
}

std::optional<std::string> expand_env(const std::string& in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out.push_back(in[i]);
      continue;
    }
    if (in[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (in[i + 1] != '{') {
      out.push_back('$');
      continue;
    }
    auto close = in.find('}', i + 2);
    if (close == std::string::npos) return "unterminated ${ in value";
    std::string inner = in.substr(i + 2, close - i - 2);
    std::optional<std::string> fallback;
    if (auto sep = inner.find(":-"); sep != std::string::npos) {
      fallback = inner.substr(sep + 2);
      inner = inner.substr(0, sep);
    }
    // Config is loaded once at start-up, before any other thread exists.
    const char* value = std::getenv(inner.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value && *value) {
      out += value;
    } else if (fallback) {
      out += *fallback;
    } else {
      return fmt::format(
          "environment variable {} is not set (write ${{{}:-default}} to give a "
          "default)",
          inner, inner);
    }
    i = close;
  }
  return std::nullopt;
}

void apply_table(const YAML::Node& given_node, const Table& table, void* target,
                 const std::string& path, std::vector<ConfigError>& errors) {
  // (yaml-cpp nodes are handles: assigning to one that refers to given_node would change
  // given_node itself, so the shorthand mapping is a new node.)
  const bool shorthand =
      !table.shorthand.empty() && given_node.IsDefined() && given_node.IsScalar();
  YAML::Node node = shorthand ? YAML::Node(YAML::NodeType::Map) : given_node;
  if (shorthand) node[table.shorthand] = given_node;
  const bool present = node.IsDefined() && !node.IsNull();
  if (present && !node.IsMap()) {
    add_error(errors, path, &node, "expected a mapping of settings");
    return;
  }
  if (present) {
    for (const auto& item : node) {
      auto key = item.first.as<std::string>();
      bool known = false;
      for (const auto& s : table.settings)
        known = known || s.name == key;
      if (!known) {
        std::vector<std::string> names;
        names.reserve(table.settings.size());
        for (const auto& setting : table.settings)
          names.push_back(setting.name);
        const std::string hint = did_you_mean(key, names);
        add_error(errors, join_path(path, key), &item.first,
                  fmt::format("unknown key \"{}\"{} valid keys: {}", key, hint.empty() ? ";" : hint,
                              valid_keys(table)));
      }
    }
  }
  for (const auto& s : table.settings) {
    const std::string here = join_path(path, s.name);
    YAML::Node value = present ? node[s.name] : YAML::Node(YAML::NodeType::Undefined);
    const bool given = value.IsDefined() && !value.IsNull();
    switch (s.kind) {
      case Kind::kSection:
        if (s.only_if_given && !value.IsDefined()) break;
        apply_table(value, *s.child, s.child_target(target, s.name), here, errors);
        break;
      case Kind::kList: {
        if (!given) break;
        if (!value.IsSequence()) {
          add_error(errors, here, &value, "expected a list (YAML sequence) of mappings");
          break;
        }
        for (std::size_t i = 0; i < value.size(); ++i) {
          const std::string index = std::to_string(i);
          apply_table(value[i], *s.child, s.child_target(target, index),
                      fmt::format("{}[{}]", here, i), errors);
        }
        break;
      }
      case Kind::kStringList: {
        YAML::Node items = given ? value : YAML::Load(s.default_text);
        if (!items.IsSequence()) {
          add_error(errors, here, &value, "expected a list of strings, such as [a, b]");
          break;
        }
        std::vector<std::string> list;
        bool ok = true;
        for (const auto& item : items) {
          std::string expanded;
          if (!item.IsScalar()) {
            add_error(errors, here, &item, "expected a string");
            ok = false;
          } else if (auto err = expand_env(item.Scalar(), expanded)) {
            add_error(errors, here, &item, *err);
            ok = false;
          } else {
            list.push_back(std::move(expanded));
          }
        }
        if (ok) s.assign_list(target, list);
        break;
      }
      case Kind::kMap: {
        if (given && !value.IsMap()) {
          add_error(errors, here, &value, "expected a mapping of names to settings");
          break;
        }
        // Given entries add to the defaults and replace a default of the same name whole;
        // `name: false` removes that default, and an empty mapping removes them all.
        const YAML::Node defaults = YAML::Load(s.default_text);
        std::set<std::string> given_names;
        std::vector<std::pair<std::string, YAML::Node>> entries;
        if (given) {
          for (const auto& item : value) {
            auto key = item.first.as<std::string>();
            given_names.insert(key);
            if (item.second.IsScalar() && item.second.Scalar() == "false") {
              if (!defaults[key].IsDefined()) {
                add_error(errors, join_path(here, key), &item.second,
                          fmt::format("false removes a default entry, and there is none named "
                                      "\"{}\"{}",
                                      key, default_names(defaults)));
              }
              continue;
            }
            if (!valid_entry_name(key)) {
              add_error(errors, join_path(here, key), &item.first,
                        fmt::format("invalid name \"{}\": use 1 to 64 letters, digits, '_', "
                                    "'-', '.'",
                                    key));
              continue;
            }
            entries.emplace_back(key, item.second);
          }
        }
        if (!given || value.size() > 0) {
          for (const auto& item : defaults) {
            auto key = item.first.as<std::string>();
            if (!given_names.contains(key)) entries.emplace_back(key, item.second);
          }
        }
        for (const auto& [key, entry] : entries) {
          apply_table(entry, *s.child, s.child_target(target, key), join_path(here, key), errors);
        }
        break;
      }
      case Kind::kDocument: {
        Scalar parsed;
        if (given) parsed.text = yaml_to_json(value);
        if (given && s.check) {
          if (auto err = s.check(parsed)) {
            add_error(errors, here, &value, *err);
            break;
          }
        }
        s.assign(target, parsed);
        break;
      }
      default: {
        std::string raw;
        if (given) {
          if (!value.IsScalar()) {
            add_error(errors, here, &value, fmt::format("expected a {}", kind_name(s.kind)));
            break;
          }
          if (auto err = expand_env(value.Scalar(), raw)) {
            add_error(errors, here, &value, *err);
            break;
          }
        } else {
          raw = s.default_text;
        }
        Scalar parsed;
        if (auto err = parse_scalar(s, raw, parsed)) {
          add_error(errors, here, given ? &value : nullptr, *err);
          break;
        }
        s.assign(target, parsed);
      }
    }
  }
}

std::string reference_markdown(const Table& table, const std::string& path) {
  std::string out = path.empty() ? fmt::format("### Top level\n\n")
                                 : fmt::format("### `{}`\n\n{}\n\n", path, table.description);
  out += "| key | type | default | allowed | description |\n|---|---|---|---|---|\n";
  std::vector<std::pair<const Setting*, std::string>> children;
  for (const auto& s : table.settings) {
    std::string def = s.default_text;
    if (s.kind == Kind::kSection) def = "";
    if (s.kind == Kind::kMap) def = def == "{}" ? "none" : "see below";
    if (s.kind == Kind::kList) def = "";
    std::string shown = def.empty() ? "" : "`" + def + "`";
    if (s.kind == Kind::kString && def.empty()) shown = "empty";
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", s.name, kind_name(s.kind), shown,
                       bounds_text(s), s.description);
    if (s.child) {
      std::string child_path = join_path(path, s.name);
      if (s.kind == Kind::kMap) child_path += ".<name>";
      if (s.kind == Kind::kList) child_path += "[]";
      children.emplace_back(&s, child_path);
    }
  }
  out += "\n";
  for (const auto& [s, child_path] : children) {
    if (s->kind == Kind::kMap && s->default_text != "{}") {
      out += fmt::format(
          "Default `{}`. Entries you declare are added to these (one with the same name "
          "replaces it); `<name>: false` removes one, and `{}: {{}}` removes them all:\n\n"
          "```yaml\n{}\n```\n\n",
          join_path(path, s->name), s->name, s->default_text);
    }
    out += reference_markdown(*s->child, child_path);
  }
  return out;
}

}  // namespace sluice::config
