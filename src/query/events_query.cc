#include "query/events_query.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "core/json_text.h"
#include "core/time.h"

namespace sluice::query {
namespace {

constexpr const char* kValidParams =
    "stream, type, key, where, fields, from, to, order, limit, cursor";
constexpr std::size_t kMaxConditions = 8;

// where=<field>:<op>:<value>: a condition on a payload field, bound as parameters (the path
// too); the field is checked to be a dotted path of plain names.
struct Condition {
  std::string field;                                                      // a.b
  std::string op;                                                         // eq, ne, gt, …
  std::variant<std::monostate, std::int64_t, double, std::string> value;  // monostate: null
};

// A dotted path of plain names (letters, digits, _), at most 256 characters.
bool plain_field(std::string_view field) {
  bool plain = !field.empty() && field.size() <= 256 && field.front() != '.' &&
               field.back() != '.' && field.find("..") == std::string_view::npos;
  for (char c : field)
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.');
  return plain;
}

// fields=a,b.c: the payload fields a page keeps.
Result<std::vector<std::string>> fields_param(std::string_view value) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    const auto comma = value.find(',', start);
    const std::string_view field = value.substr(start, comma - start);
    if (!plain_field(field) || fields.size() == 64) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("parameter \"fields\": \"{}\" is not a field name (letters, "
                                    "digits and _, nested fields joined by dots; at most 64)",
                                    field));
    }
    fields.emplace_back(field);
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

// The payload as stored, or only `fields` of it: {"a":..,"b.c":..} (missing ones left out),
// each value's text as it was sent.
void append_payload(std::string& out, std::string_view payload,
                    const std::vector<std::string>& fields) {
  if (fields.empty()) {
    out += payload;  // stored exactly as received: valid JSON already
    return;
  }
  thread_local simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(payload);
  simdjson::ondemand::document doc;
  out += '{';
  bool first = true;
  if (!parser.iterate(padded).get(doc)) {
    for (const auto& field : fields) {
      std::string pointer = "/" + field;
      std::replace(pointer.begin(), pointer.end(), '.', '/');
      std::string_view raw;
      if (doc.at_pointer(pointer).get(raw) == simdjson::SUCCESS) {
        // A string: at_pointer gave its unescaped text; write it as JSON again.
        if (!first) out += ',';
        append_json_string(out, field);
        out += ':';
        append_json_string(out, raw);
        first = false;
        continue;
      }
      simdjson::ondemand::value value;
      if (doc.at_pointer(pointer).get(value) || simdjson::to_json_string(value).get(raw)) {
        continue;
      }
      if (!first) out += ',';
      append_json_string(out, field);
      out += ':';
      out += raw;
      first = false;
    }
  }
  out += '}';
}

// One row of SELECT seq, stream, id, ts, received_at, key, payload as the API writes an event.
void append_event(std::string& out, const Row& row, const std::vector<std::string>& fields) {
  out += "{\"id\":";
  append_json_string(out, row.text(2));
  out += ",\"stream\":";
  append_json_string(out, row.text(1));
  out += ",\"ts\":\"" + format_iso8601_ms(row.integer(3)) + "\"";
  out += ",\"received_at\":\"" + format_iso8601_ms(row.integer(4)) + "\"";
  out += ",\"key\":";
  if (row.is_null(5)) {
    out += "null";
  } else {
    append_json_string(out, row.text(5));
  }
  out += ",\"payload\":";
  append_payload(out, row.text(6), fields);
  out.push_back('}');
}

Result<Condition> parse_condition(std::string_view text) {
  const auto first = text.find(':');
  const auto second = first == std::string_view::npos ? first : text.find(':', first + 1);
  if (second == std::string_view::npos) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("parameter \"where\": \"{}\" is not field:op:value, such as "
                                  "severity:eq:high or value:gt:90",
                                  text));
  }
  const std::string_view field = text.substr(0, first);
  const std::string_view op = text.substr(first + 1, second - first - 1);
  const std::string_view value = text.substr(second + 1);
  if (!plain_field(field)) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("parameter \"where\": \"{}\" is not a field name (letters, "
                                  "digits and _, nested fields joined by dots, at most 256)",
                                  field));
  }
  static const std::map<std::string_view, const char*> kOps = {
      {"eq", "="}, {"ne", "<>"}, {"gt", ">"}, {"gte", ">="}, {"lt", "<"}, {"lte", "<="}};
  const auto found = kOps.find(op);
  if (found == kOps.end()) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("parameter \"where\": \"{}\" is not an operator; use eq, "
                                  "ne, gt, gte, lt or lte",
                                  op));
  }
  Condition c{std::string(field), std::string(op), std::string(value)};
  std::int64_t whole = 0;
  double number = 0;
  if (auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), whole);
      ec == std::errc() && end == value.data() + value.size() && !value.empty()) {
    c.value = whole;
  } else if (auto [end2, ec2] = std::from_chars(value.data(), value.data() + value.size(), number);
             ec2 == std::errc() && end2 == value.data() + value.size() && !value.empty()) {
    c.value = number;
  } else if (value == "true" || value == "false") {
    c.value = std::int64_t{value == "true" ? 1 : 0};  // as json_extract gives booleans
  } else if (value == "null") {
    if (op != "eq" && op != "ne") {
      return make_error(Errc::kInvalidInput,
                        "parameter \"where\": null is compared with eq or ne only");
    }
    c.value = std::monostate{};
  }
  return c;
}

struct Filter {
  std::optional<std::string> stream;
  std::vector<std::string> streams;  // any of these (a view's streams); empty: no such condition
  std::optional<std::string> type;
  std::optional<std::string> key;
  std::vector<Condition> where;
  std::vector<std::string> fields;  // empty: the whole payload
  std::optional<std::int64_t> from_ms;
  std::optional<std::int64_t> to_ms;
  bool ascending = false;
  int limit = kDefaultLimit;
  std::optional<std::pair<std::int64_t, std::int64_t>> after;  // (ts, seq) of the last row seen
};

// Cursors are opaque to clients: "<order>:<ts>:<seq>" in hex, so nobody builds them by hand.
std::string encode_cursor(bool ascending, std::int64_t ts, std::int64_t seq) {
  std::string plain = fmt::format("{}:{}:{}", ascending ? 'a' : 'd', ts, seq);
  std::string out;
  for (unsigned char c : plain)
    out += fmt::format("{:02x}", c);
  return out;
}

std::optional<std::pair<std::int64_t, std::int64_t>> decode_cursor(std::string_view cursor,
                                                                   bool ascending) {
  if (cursor.size() % 2 != 0 || cursor.size() > 128) return std::nullopt;
  std::string plain;
  for (std::size_t i = 0; i < cursor.size(); i += 2) {
    unsigned value;
    auto [end, ec] = std::from_chars(cursor.data() + i, cursor.data() + i + 2, value, 16);
    if (ec != std::errc() || end != cursor.data() + i + 2) return std::nullopt;
    plain.push_back(static_cast<char>(value));
  }
  if (plain.size() < 5 || plain[0] != (ascending ? 'a' : 'd') || plain[1] != ':') {
    return std::nullopt;
  }
  auto colon = plain.find(':', 2);
  if (colon == std::string::npos) return std::nullopt;
  std::int64_t ts, seq;
  const char* p = plain.data();
  auto r1 = std::from_chars(p + 2, p + colon, ts);
  auto r2 = std::from_chars(p + colon + 1, p + plain.size(), seq);
  if (r1.ec != std::errc() || r1.ptr != p + colon || r2.ec != std::errc() ||
      r2.ptr != p + plain.size()) {
    return std::nullopt;
  }
  return std::make_pair(ts, seq);
}

}  // namespace

Result<std::int64_t> time_param(const std::string& name, const std::string& value) {
  auto ms = parse_time_text(value);
  if (!ms) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("parameter \"{}\": \"{}\" is not an ISO-8601 time or an "
                                  "epoch number",
                                  name, value));
  }
  return *ms;
}

Result<int> limit_param(const std::string& value) {
  int limit = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
  if (ec != std::errc() || end != value.data() + value.size() || limit < 1 || limit > kMaxLimit) {
    return make_error(
        Errc::kInvalidInput,
        fmt::format("parameter \"limit\" must be an integer from 1 to {}", kMaxLimit));
  }
  return limit;
}

namespace {

Result<Filter> parse_filter(const Params& params) {
  Filter filter;
  std::optional<std::string> cursor;
  for (const auto& [name, value] : params) {
    if (name == "stream") {
      filter.stream = value;
    } else if (name == "type") {
      filter.type = value;
    } else if (name == "key") {
      filter.key = value;
    } else if (name == "fields") {
      auto fields = fields_param(value);
      if (!fields) return fields.error();
      filter.fields = std::move(fields.value());
    } else if (name == "where") {
      if (filter.where.size() == kMaxConditions) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("at most {} where conditions", kMaxConditions));
      }
      auto condition = parse_condition(value);
      if (!condition) return condition.error();
      filter.where.push_back(std::move(condition.value()));
    } else if (name == "from" || name == "to") {
      auto ms = time_param(name, value);
      if (!ms) return ms.error();
      (name == "from" ? filter.from_ms : filter.to_ms) = ms.value();
    } else if (name == "order") {
      if (value != "asc" && value != "desc") {
        return make_error(Errc::kInvalidInput, "parameter \"order\" must be asc or desc");
      }
      filter.ascending = value == "asc";
    } else if (name == "limit") {
      auto limit = limit_param(value);
      if (!limit) return limit.error();
      filter.limit = limit.value();
    } else if (name == "cursor") {
      cursor = value;
    } else {
      return make_error(Errc::kInvalidInput, fmt::format("unknown parameter \"{}\"; valid "
                                                         "parameters: {}",
                                                         name, kValidParams));
    }
  }
  if (cursor && !cursor->empty()) {
    filter.after = decode_cursor(*cursor, filter.ascending);
    if (!filter.after) {
      return make_error(Errc::kInvalidInput,
                        "parameter \"cursor\" is not a cursor returned by this query (cursors "
                        "keep the order they were made with)");
    }
  }
  return filter;
}

}  // namespace

namespace {

Result<std::string> run_query(StoreReader& reader, const Filter& f);

}  // namespace

Result<std::string> query_events(StoreReader& reader, const Params& params) {
  auto parsed = parse_filter(params);
  if (!parsed) return parsed.error();
  return run_query(reader, parsed.value());
}

Result<std::string> query_view(StoreReader& reader, const StreamView& view, const Params& params) {
  Params rewritten;
  for (const auto& [name, value] : params) {
    auto shortcut = std::find_if(view.shortcuts.begin(), view.shortcuts.end(),
                                 [&](const auto& s) { return s.first == name; });
    if (shortcut != view.shortcuts.end()) {
      // Bound as a parameter like any condition; ':' in the value is kept (split at the first
      // two colons only).
      rewritten.emplace_back("where", shortcut->second + ":eq:" + value);
    } else if (name == "stream" &&
               std::find(view.streams.begin(), view.streams.end(), value) == view.streams.end()) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("parameter \"stream\": \"{}\" is not one of {}", value,
                                    fmt::join(view.streams, ", ")));
    } else {
      rewritten.emplace_back(name, value);
    }
  }
  auto parsed = parse_filter(rewritten);
  if (!parsed) return parsed.error();
  Filter& f = parsed.value();
  if (view.streams.empty()) return std::string(R"({"events":[],"next_cursor":null})");
  if (!f.stream) f.streams = view.streams;
  return run_query(reader, f);
}

namespace {

// The condition in the store's dialect. SQLite's json_extract gives numbers as numbers, strings
// as text, true/false as 1/0 and null or a missing field as NULL; the PostgreSQL form gives the
// same answers with json operators.
void append_condition(Sql& sql, const Condition& c) {
  const bool equality = c.op == "eq" || c.op == "ne";
  static const std::map<std::string_view, const char*> kOrdering = {
      {"gt", ">"}, {"gte", ">="}, {"lt", "<"}, {"lte", "<="}};
  const bool is_null = std::holds_alternative<std::monostate>(c.value);
  const bool is_text = std::holds_alternative<std::string>(c.value);
  if (sql.dialect() == Dialect::kSqlite) {
    const auto path = sql.param("$." + c.field);
    if (equality) {
      sql +=
          fmt::format(" AND json_extract(payload, {}) {} ", path, c.op == "eq" ? "IS" : "IS NOT");
      sql.bind(c.value);
      return;
    }
    // Ordering compares like with like: numbers with numbers, text with text (SQLite would
    // rank any text above any number).
    sql += fmt::format(" AND json_extract(payload, {}) {} ", path, kOrdering.at(c.op));
    sql.bind(c.value);
    sql += fmt::format(" AND json_type(payload, {}) IN ({})", path,
                       is_text ? "'text'" : "'integer', 'real'");
    return;
  }
  std::string elements = c.field;
  std::replace(elements.begin(), elements.end(), '.', ',');  // plain names: no quoting needed
  const auto path = sql.param("{" + elements + "}");
  const auto json = fmt::format("payload #> {}", path);
  const auto text = fmt::format("payload #>> {}", path);
  if (is_null) {
    sql += fmt::format(" AND {} IS {}NULL", text, c.op == "eq" ? "" : "NOT ");
    return;
  }
  std::string value;
  if (is_text) {
    value =
        fmt::format("(CASE WHEN json_typeof({}) = 'string' THEN {} END) COLLATE \"C\"", json, text);
  } else if (equality) {
    value = fmt::format(
        "(CASE json_typeof({0}) WHEN 'number' THEN ({1})::numeric WHEN 'boolean' THEN CASE {1} "
        "WHEN 'true' THEN 1 ELSE 0 END END)",
        json, text);
  } else {
    value =
        fmt::format("(CASE WHEN json_typeof({}) = 'number' THEN ({})::numeric END)", json, text);
  }
  const char* op =
      equality ? (c.op == "eq" ? "IS NOT DISTINCT FROM" : "IS DISTINCT FROM") : kOrdering.at(c.op);
  sql += fmt::format(" AND {} {} {}{}", value, op, sql.param(c.value), is_text ? "" : "::numeric");
}

Result<std::string> run_query(StoreReader& reader, const Filter& f) {
  Sql sql = reader.sql();
  sql += "SELECT seq, stream, id, ts, received_at, key, payload FROM events WHERE 1=1";
  if (f.stream) sql += " AND stream = " + sql.param(*f.stream);
  if (!f.streams.empty()) {
    sql += " AND stream IN (";
    for (std::size_t i = 0; i < f.streams.size(); ++i)
      sql += (i ? ", " : "") + sql.param(f.streams[i]);
    sql += ")";
  }
  if (f.type) sql += " AND type = " + sql.param(*f.type);
  if (f.from_ms) sql += " AND ts >= " + sql.param(*f.from_ms);
  if (f.to_ms) sql += " AND ts < " + sql.param(*f.to_ms);
  if (f.key) sql += " AND key = " + sql.param(*f.key);
  for (const auto& c : f.where)
    append_condition(sql, c);
  if (f.after) {
    const auto ts = sql.param(f.after->first);
    const auto seq = sql.param(f.after->second);
    sql += fmt::format(" AND (ts, seq) {} ({}, {})", f.ascending ? ">" : "<", ts, seq);
  }
  sql += f.ascending ? " ORDER BY ts ASC, seq ASC" : " ORDER BY ts DESC, seq DESC";
  // One more row than asked tells if a next page exists.
  sql += " LIMIT " + sql.param(static_cast<std::int64_t>(f.limit) + 1);

  std::string out = "{\"events\":[";
  int rows = 0;
  std::int64_t last_ts = 0, last_seq = 0;
  bool more = false;
  auto read = reader.query(sql, [&](const Row& row) {
    if (rows == f.limit) {
      more = true;
      return false;
    }
    if (rows++ > 0) out.push_back(',');
    last_seq = row.integer(0);
    last_ts = row.integer(3);
    append_event(out, row, f.fields);
    return true;
  });
  if (!read) return read.error();
  out += "],\"next_cursor\":";
  if (more) {
    out += "\"" + encode_cursor(f.ascending, last_ts, last_seq) + "\"";
  } else {
    out += "null";
  }
  out += "}";
  return out;
}

}  // namespace

Result<std::string> query_event(StoreReader& reader, const std::string& id, const Params& params,
                                const std::vector<std::string>& streams) {
  std::optional<std::string> stream;
  std::vector<std::string> fields;
  for (const auto& [name, value] : params) {
    if (name == "stream") {
      stream = value;
    } else if (name == "fields") {
      auto parsed = fields_param(value);
      if (!parsed) return parsed.error();
      fields = std::move(parsed.value());
    } else {
      return make_error(
          Errc::kInvalidInput,
          fmt::format("unknown parameter \"{}\"; valid parameters: stream, fields", name));
    }
  }
  Sql sql = reader.sql();
  sql += "SELECT seq, stream, id, ts, received_at, key, payload FROM events WHERE id = ";
  sql.bind(id);
  if (stream) {
    sql += " AND stream = " + sql.param(*stream);
  } else {
    if (streams.empty())
      return make_error(Errc::kNotFound, fmt::format("no event with id \"{}\"", id));
    sql += " AND stream IN (";
    for (std::size_t i = 0; i < streams.size(); ++i)
      sql += (i > 0 ? ", " : "") + sql.param(streams[i]);
    sql += ")";
  }
  sql += " ORDER BY seq LIMIT 1";
  std::string out;
  auto read = reader.query(sql, [&](const Row& row) {
    append_event(out, row, fields);
    return false;
  });
  if (!read) return read.error();
  if (out.empty()) {
    return make_error(Errc::kNotFound, fmt::format("no event with id \"{}\"{}", id,
                                                   stream ? " in stream " + *stream : ""));
  }
  return out;
}

}  // namespace sluice::query
