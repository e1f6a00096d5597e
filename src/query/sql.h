#pragma once
// A query for the store in the dialect of its database, with its parameters: the read side
// builds its SQL once for SQLite and PostgreSQL, and every value a client sent is bound as a
// parameter, never spliced into the text.

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::query {

enum class Dialect { kSqlite, kPostgres };

using SqlValue = std::variant<std::monostate, std::int64_t, double, std::string>;

class Sql {
 public:
  explicit Sql(Dialect dialect) : dialect_(dialect) {}

  Sql& operator+=(std::string_view text) {
    text_ += text;
    return *this;
  }
  // A placeholder bound to `value` (?N in SQLite, $N in PostgreSQL), to write once or more.
  // `value`: a SqlValue or what makes one (constructed in place: GCC 12 warns of moved
  // variants as maybe uninitialised).
  template <class T>
  std::string param(T&& value) {
    params_.emplace_back(std::forward<T>(value));
    return fmt::format("{}{}", dialect_ == Dialect::kSqlite ? '?' : '$', params_.size());
  }
  // Appends a placeholder bound to `value`.
  template <class T>
  Sql& bind(T&& value) {
    return *this += param(std::forward<T>(value));
  }

  Dialect dialect() const { return dialect_; }
  const std::string& text() const { return text_; }
  const std::vector<SqlValue>& params() const { return params_; }

 private:
  Dialect dialect_;
  std::string text_;
  std::vector<SqlValue> params_;
};

// One row of a result, valid only during the callback that gets it.
class Row {
 public:
  virtual ~Row() = default;
  virtual bool is_null(int column) const = 0;
  virtual std::int64_t integer(int column) const = 0;
  virtual std::string_view text(int column) const = 0;
};

}  // namespace sluice::query
