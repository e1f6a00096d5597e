#pragma once
// Declarative config tables: every configurable surface is one Table, a list of Settings with
// name, kind, default, bounds and description. The same table drives validation (with
// every error reported at once, with YAML path and line), defaults, and the reference docs
// (`sluice config reference`, docs/configuration.md). A setting binds to a member of the
// struct it fills, so nothing about a setting is written twice.
//
// Loading runs once at start-up on one thread.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::config {

enum class Kind {
  kString,
  kInt,
  kBool,
  kDuration,
  kSize,
  kStringList,
  kSection,
  kMap,
  kList,
  kDocument
};

struct Table;

// A scalar after parsing: kString uses text, kInt/kDuration (ms)/kSize (bytes) use number,
// kBool uses flag. kDocument (any YAML value) arrives as JSON text.
struct Scalar {
  std::string text;
  std::int64_t number = 0;
  bool flag = false;
};

struct Setting {
  std::string name;
  Kind kind = Kind::kString;
  std::string default_text;  // YAML text of the default; for kMap a YAML mapping of entries
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::string description;
  std::function<std::optional<std::string>(const Scalar&)> check;  // extra rule; returns the error
  std::function<void(void*, const Scalar&)> assign;                // scalar kinds
  std::function<void(void*, const std::vector<std::string>&)> assign_list;  // kStringList
  const Table* child = nullptr;                                             // kSection, kMap, kList
  // kSection: the key; kMap: the entry's name; kList: the entry's index.
  std::function<void*(void*, const std::string&)> child_target;
  // kSection: only filled (child_target called) when the key is given, for sections whose
  // presence means something (one of several kinds of sink or step).
  bool only_if_given = false;
};

struct Table {
  std::string name;
  std::string description;
  std::vector<Setting> settings;
  // When set, a scalar given where the table's mapping is expected fills this setting alone
  // (`- filter: 'x > 1'` for `- filter: {when: 'x > 1'}`).
  std::string shorthand;
};

struct ConfigError {
  std::string path;  // "streams.web.time_field"
  int line = 0;      // 1-based; 0 when the error is not tied to a place in the file
  int column = 0;
  std::string message;
};

// Fills `target` from `node` (which may be undefined: all defaults) following `table`.
// Appends every problem found to `errors` and keeps going.
void apply_table(const YAML::Node& node, const Table& table, void* target, const std::string& path,
                 std::vector<ConfigError>& errors);

// A name of a map entry (stream, sink, pipeline...): 1 to 64 letters, digits, '_', '-', '.'.
bool valid_entry_name(const std::string& name);

// Expands ${NAME} and ${NAME:-default} in a scalar; "$$" is a literal "$".
// Returns the error text when a variable is unset and has no default.
std::optional<std::string> expand_env(const std::string& in, std::string& out);

// "250ms", "30s", "5m", "1h", "2d" (or "0": no other bare number) as milliseconds.
std::optional<std::int64_t> parse_duration_ms(const std::string& text);

// Markdown reference for a table and its children (sections and map entries).
std::string reference_markdown(const Table& table, const std::string& path);

// ---- binding helpers ------------------------------------------------------------------------

template <class S>
Setting string_setting(std::string name, std::string S::*member, std::string def, std::string desc,
                       std::function<std::optional<std::string>(const Scalar&)> check = {}) {
  Setting s{.name = std::move(name),
            .kind = Kind::kString,
            .default_text = std::move(def),
            .description = std::move(desc),
            .check = std::move(check)};
  s.assign = [member](void* t, const Scalar& v) { static_cast<S*>(t)->*member = v.text; };
  return s;
}

template <class S, class I>
Setting int_setting(std::string name, I S::*member, std::int64_t def, std::int64_t min,
                    std::int64_t max, std::string desc) {
  Setting s{.name = std::move(name),
            .kind = Kind::kInt,
            .default_text = std::to_string(def),
            .min = min,
            .max = max,
            .description = std::move(desc)};
  s.assign = [member](void* t, const Scalar& v) {
    static_cast<S*>(t)->*member = static_cast<I>(v.number);
  };
  return s;
}

template <class S>
Setting bool_setting(std::string name, bool S::*member, bool def, std::string desc) {
  Setting s{.name = std::move(name),
            .kind = Kind::kBool,
            .default_text = def ? "true" : "false",
            .description = std::move(desc)};
  s.assign = [member](void* t, const Scalar& v) { static_cast<S*>(t)->*member = v.flag; };
  return s;
}

template <class S>
Setting duration_setting(std::string name, std::chrono::milliseconds S::*member, std::string def,
                         std::int64_t min_ms, std::int64_t max_ms, std::string desc) {
  Setting s{.name = std::move(name),
            .kind = Kind::kDuration,
            .default_text = std::move(def),
            .min = min_ms,
            .max = max_ms,
            .description = std::move(desc)};
  s.assign = [member](void* t, const Scalar& v) {
    static_cast<S*>(t)->*member = std::chrono::milliseconds{v.number};
  };
  return s;
}

template <class S>
Setting size_setting(std::string name, std::uint64_t S::*member, std::string def, std::int64_t min,
                     std::int64_t max, std::string desc) {
  Setting s{.name = std::move(name),
            .kind = Kind::kSize,
            .default_text = std::move(def),
            .min = min,
            .max = max,
            .description = std::move(desc)};
  s.assign = [member](void* t, const Scalar& v) {
    static_cast<S*>(t)->*member = static_cast<std::uint64_t>(v.number);
  };
  return s;
}

// A YAML sequence of strings; `def` is the default as YAML text, such as "[]".
template <class S>
Setting string_list_setting(std::string name, std::vector<std::string> S::*member, std::string def,
                            std::string desc) {
  Setting s{.name = std::move(name),
            .kind = Kind::kStringList,
            .default_text = std::move(def),
            .description = std::move(desc)};
  s.assign_list = [member](void* t, const std::vector<std::string>& v) {
    static_cast<S*>(t)->*member = v;
  };
  return s;
}

// Any YAML value (a mapping, usually), kept as JSON text; empty when absent. `check` sees the
// JSON text.
template <class S>
Setting document_setting(std::string name, std::string S::*member, std::string desc,
                         std::function<std::optional<std::string>(const Scalar&)> check = {}) {
  Setting s{.name = std::move(name),
            .kind = Kind::kDocument,
            .description = std::move(desc),
            .check = std::move(check)};
  s.assign = [member](void* t, const Scalar& v) { static_cast<S*>(t)->*member = v.text; };
  return s;
}

// YAML as JSON text: plain scalars that read as numbers, booleans or null become those; quoted
// scalars stay strings. ${VAR} is not expanded inside documents.
std::string yaml_to_json(const YAML::Node& node);

template <class S, class C>
Setting section_setting(std::string name, C S::*member, const Table& table) {
  Setting s{.name = std::move(name), .kind = Kind::kSection, .description = table.description};
  s.child = &table;
  s.child_target = [member](void* t, const std::string&) -> void* {
    return &(static_cast<S*>(t)->*member);
  };
  return s;
}

// A section that is filled only when given; `fill` is called once, then, and returns the object
// the section's settings go into (a sink's or a step's settings, chosen by the key).
template <class S>
Setting variant_setting(std::string name, const Table& table,
                        std::function<void*(S&, const std::string& key)> fill) {
  Setting s{.name = std::move(name), .kind = Kind::kSection, .description = table.description};
  s.child = &table;
  s.only_if_given = true;
  s.child_target = [fill = std::move(fill)](void* t, const std::string& key) -> void* {
    return fill(*static_cast<S*>(t), key);
  };
  return s;
}

// A YAML sequence of mappings, each an entry of `table`, appended in order.
template <class S, class E>
Setting list_setting(std::string name, std::vector<E> S::*member, const Table& table,
                     std::string desc) {
  Setting s{.name = std::move(name),
            .kind = Kind::kList,
            .default_text = "[]",
            .description = std::move(desc)};
  s.child = &table;
  s.child_target = [member](void* t, const std::string&) -> void* {
    return &(static_cast<S*>(t)->*member).emplace_back();
  };
  return s;
}

// A mapping from names to entries of `table`; each new entry's `name` member gets its key.
template <class S, class E>
Setting map_setting(std::string name, std::map<std::string, E> S::*member, const Table& table,
                    std::string default_yaml, std::string desc) {
  Setting s{.name = std::move(name),
            .kind = Kind::kMap,
            .default_text = std::move(default_yaml),
            .description = std::move(desc)};
  s.child = &table;
  s.child_target = [member](void* t, const std::string& key) -> void* {
    E& entry = (static_cast<S*>(t)->*member)[key];
    entry.name = key;
    return &entry;
  };
  return s;
}

}  // namespace sluice::config
