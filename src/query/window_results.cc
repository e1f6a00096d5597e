#include "query/window_results.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "core/json_text.h"
#include "core/json_write.h"
#include "core/time.h"
#include "store/sqlite_db.h"
#include "windows/postgres_window_store.h"

namespace sluice::query {
namespace {

namespace json = boost::json;

// A key value as written in a URL: text, or a number, true, false or null when it reads as one.
json::value key_part(std::string_view text) {
  boost::system::error_code ec;
  auto parsed = json::parse(text, ec);
  if (!ec && !parsed.is_structured() && !parsed.is_string()) return parsed;
  return json::value(text);
}

// key=NYC (one key field), key=NYC,fire (the fields in order) or key=["NYC","fire"] (a JSON
// array, for values holding commas), as the stored key: a JSON array.
std::string key_text(std::string_view value, std::size_t fields) {
  boost::system::error_code ec;
  if (value.starts_with('[')) {
    auto parsed = json::parse(value, ec);
    if (!ec && parsed.is_array()) return json::serialize(parsed);
  }
  json::array parts;
  if (fields <= 1) {
    parts.push_back(key_part(value));
  } else {
    std::size_t start = 0;
    for (;;) {
      const auto comma = value.find(',', start);
      parts.push_back(key_part(value.substr(start, comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  return json::serialize(parts);
}

// Cursors are opaque: "<a|d>:<end>:<start>:<key>" in hex (the key last: it may hold colons).
std::string encode_cursor(bool ascending, const windows::PostgresWindowStore::After& at) {
  const std::string plain =
      fmt::format("{}:{}:{}:{}", ascending ? 'a' : 'd', at.end_ms, at.start_ms, at.key);
  std::string out;
  for (unsigned char c : plain)
    out += fmt::format("{:02x}", c);
  return out;
}

std::optional<windows::PostgresWindowStore::After> decode_cursor(std::string_view cursor,
                                                                 bool ascending) {
  if (cursor.size() % 2 != 0 || cursor.size() > 8192) return std::nullopt;
  std::string plain;
  for (std::size_t i = 0; i < cursor.size(); i += 2) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(cursor.data() + i, cursor.data() + i + 2, value, 16);
    if (ec != std::errc() || end != cursor.data() + i + 2) return std::nullopt;
    plain.push_back(static_cast<char>(value));
  }
  if (plain.size() < 2 || plain[0] != (ascending ? 'a' : 'd') || plain[1] != ':') {
    return std::nullopt;
  }
  const auto c1 = plain.find(':', 2);
  const auto c2 = c1 == std::string::npos ? c1 : plain.find(':', c1 + 1);
  if (c2 == std::string::npos) return std::nullopt;
  windows::PostgresWindowStore::After at;
  const char* p = plain.data();
  auto r1 = std::from_chars(p + 2, p + c1, at.end_ms);
  auto r2 = std::from_chars(p + c1 + 1, p + c2, at.start_ms);
  if (r1.ec != std::errc() || r1.ptr != p + c1 || r2.ec != std::errc() || r2.ptr != p + c2) {
    return std::nullopt;
  }
  at.key = plain.substr(c2 + 1);
  return at;
}

}  // namespace

Result<std::string> query_window_results(const std::string& windows_db, const WindowConfig& window,
                                         const Params& params) {
  std::optional<std::string> key;
  std::optional<std::int64_t> from_ms, to_ms;
  std::optional<bool> final;
  int limit = kDefaultLimit;
  bool ascending = false;
  std::optional<std::string> cursor;
  for (const auto& [name, value] : params) {
    if (name == "key") {
      key = key_text(value, window.key.size());
    } else if (name == "from" || name == "to") {
      auto ms = time_param(name, value);
      if (!ms) return ms.error();
      (name == "from" ? from_ms : to_ms) = ms.value();
    } else if (name == "final") {
      if (value != "true" && value != "false") {
        return make_error(Errc::kInvalidInput, "parameter \"final\" must be true or false");
      }
      final = value == "true";
    } else if (name == "limit") {
      auto parsed = limit_param(value);
      if (!parsed) return parsed.error();
      limit = parsed.value();
    } else if (name == "order") {
      if (value != "asc" && value != "desc") {
        return make_error(Errc::kInvalidInput, "parameter \"order\" must be asc or desc");
      }
      ascending = value == "asc";
    } else if (name == "cursor") {
      cursor = value;
    } else {
      return make_error(Errc::kInvalidInput,
                        fmt::format("unknown parameter \"{}\"; valid: key, from, to, final, "
                                    "order, limit, cursor",
                                    name));
    }
  }
  std::optional<windows::PostgresWindowStore::After> after;
  if (cursor && !cursor->empty()) {
    after = decode_cursor(*cursor, ascending);
    if (!after) {
      return make_error(Errc::kInvalidInput,
                        "parameter \"cursor\" is not a cursor returned by this query (cursors "
                        "keep the order they were made with)");
    }
  }
  // Each result is written as text around its stored values, which are spliced in as they
  // were written: parsing and writing them again could change a number's last digit.
  std::vector<std::string> results;
  std::optional<windows::PostgresWindowStore::After> last;  // of the page
  bool more = false;
  auto add = [&](std::string_view key_text, std::int64_t start, std::int64_t end,
                 std::int64_t events, std::string_view value, bool is_final) {
    // One row more than the page tells that a next page exists.
    if (static_cast<int>(results.size()) == limit) {
      more = true;
      return;
    }
    last = windows::PostgresWindowStore::After{end, std::string(key_text), start};
    json::object key_object;
    const json::value key_values = json::parse(key_text);
    for (std::size_t i = 0; i < window.key.size() && i < key_values.as_array().size(); ++i)
      key_object[window.key[i]] = key_values.as_array()[i];
    std::string result = "{\"key\":";
    append_json(result, key_object);
    result += fmt::format(R"(,"start":"{}","end":"{}","events":{},"final":{},"values":)",
                          format_iso8601_ms(start), format_iso8601_ms(end), events,
                          is_final ? "true" : "false");
    result += value;
    result += '}';
    results.push_back(std::move(result));
  };
  auto page = [&](const json::value& next) {
    std::string out = "{\"window\":";
    append_json_string(out, window.name);
    out += ",\"results\":[";
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (i > 0) out += ',';
      out += results[i];
    }
    out += "],\"next_cursor\":";
    append_json(out, next);
    out += '}';
    return out;
  };
  if (windows::is_postgres_url(windows_db)) {
    // One connection for every GET of the process, made on first use (it reconnects by itself
    // after a lost connection): a connection per request cost a TCP and auth handshake each.
    static std::mutex mutex;
    static std::map<std::string, std::unique_ptr<windows::PostgresWindowStore>> stores;
    std::lock_guard lock(mutex);
    auto& store = stores[windows_db];
    if (!store) {
      try {
        store = std::make_unique<windows::PostgresWindowStore>(windows_db);
      } catch (const std::exception& e) {
        return make_error(Errc::kUnavailable, e.what());
      }
    }
    auto rows =
        store->results(window.name, {key, from_ms, to_ms, final, limit + 1, ascending, after});
    if (!rows) return rows.error();
    for (const auto& r : rows.value())
      add(r.key, r.start_ms, r.end_ms, r.events, r.value, r.final);
  } else if (std::filesystem::exists(windows_db)) {
    sqlite::Db db(windows_db, /*read_only=*/true);
    std::string sql =
        "SELECT key, start, end, events, value, final FROM window_results WHERE window = ?1";
    if (key) sql += " AND key = ?2";
    if (from_ms) sql += " AND start >= ?3";
    if (to_ms) sql += " AND end <= ?4";
    if (final) sql += " AND final = ?5";
    if (after) {
      sql += fmt::format(
          " AND (end {0} ?7 OR (end = ?7 AND (key > ?8 OR (key = ?8 AND start {0} ?9))))",
          ascending ? ">" : "<");
    }
    sql += ascending ? " ORDER BY end, key, start LIMIT ?6"
                     : " ORDER BY end DESC, key, start DESC LIMIT ?6";
    sqlite::Stmt stmt;
    try {
      stmt = db.prepare(sql);
    } catch (const std::exception&) {
      // No window has stored anything yet: the tables are made by the first checkpoint.
      return page(nullptr);
    }
    stmt.bind(1, std::string_view(window.name));
    if (key) stmt.bind(2, std::string_view(*key));
    if (from_ms) stmt.bind(3, *from_ms);
    if (to_ms) stmt.bind(4, *to_ms);
    if (final) stmt.bind(5, std::int64_t{*final ? 1 : 0});
    stmt.bind(6, std::int64_t{limit} + 1);
    if (after) {
      stmt.bind(7, after->end_ms);
      stmt.bind(8, std::string_view(after->key));
      stmt.bind(9, after->start_ms);
    }
    int rc;
    while ((rc = stmt.step()) == SQLITE_ROW) {
      add(stmt.column_text(0), stmt.column_int(1), stmt.column_int(2), stmt.column_int(3),
          stmt.column_text(4), stmt.column_int(5) != 0);
    }
    if (rc != SQLITE_DONE) {
      return make_error(Errc::kUnavailable, "windows.db: " + db.error_message());
    }
  }
  json::value next = nullptr;
  if (more && last) next = json::string(encode_cursor(ascending, *last));
  return page(next);
}

}  // namespace sluice::query
