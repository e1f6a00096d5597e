#include "validation/formats.h"

#include <cstddef>

namespace sluice::validation {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Reads exactly `count` digits at `at` into `value`; false when they are not all digits.
bool digits(std::string_view text, std::size_t at, std::size_t count, int& value) {
  if (at + count > text.size()) return false;
  value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!is_digit(text[i])) return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

int days_in_month(int year, int month) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

bool is_date(std::string_view text) {
  int year = 0;
  int month = 0;
  int day = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  if (!digits(text, 0, 4, year) || !digits(text, 5, 2, month) || !digits(text, 8, 2, day)) {
    return false;
  }
  return month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

bool is_time(std::string_view text) {
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (text.size() < 9 || text[2] != ':' || text[5] != ':') return false;
  if (!digits(text, 0, 2, hour) || !digits(text, 3, 2, minute) || !digits(text, 6, 2, second)) {
    return false;
  }
  if (hour > 23 || minute > 59 || second > 60) return false;
  std::size_t at = 8;
  if (text[at] == '.') {
    const std::size_t start = ++at;
    while (at < text.size() && is_digit(text[at]))
      ++at;
    if (at == start) return false;
  }
  if (at >= text.size()) return false;
  if (text[at] == 'Z' || text[at] == 'z') return at + 1 == text.size();
  if (text[at] != '+' && text[at] != '-') return false;
  int offset_hour = 0;
  int offset_minute = 0;
  return text.size() == at + 6 && text[at + 3] == ':' && digits(text, at + 1, 2, offset_hour) &&
         digits(text, at + 4, 2, offset_minute) && offset_hour <= 23 && offset_minute <= 59;
}

bool is_date_time(std::string_view text) {
  return text.size() > 11 && (text[10] == 'T' || text[10] == 't') && is_date(text.substr(0, 10)) &&
         is_time(text.substr(11));
}

bool is_email(std::string_view text) {
  auto at = text.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= text.size()) return false;
  const std::string_view local = text.substr(0, at);
  const std::string_view domain = text.substr(at + 1);
  constexpr std::string_view kLocalSpecials = "!#$%&'*+/=?^_`{|}~-";
  char previous = '.';
  for (char c : local) {
    if (c == '.') {
      if (previous == '.') return false;  // leading or doubled dot
    } else if (!is_alpha(c) && !is_digit(c) && kLocalSpecials.find(c) == std::string_view::npos) {
      return false;
    }
    previous = c;
  }
  if (previous == '.') return false;
  std::size_t label = 0;
  previous = '.';
  for (char c : domain) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else if (is_alpha(c) || is_digit(c) || (c == '-' && label > 0)) {
      ++label;
    } else {
      return false;
    }
    previous = c;
  }
  return label > 0 && previous != '-';
}

bool is_uri(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || !is_alpha(text[0])) return false;
  for (char c : text.substr(0, colon)) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  constexpr std::string_view kAllowed = "-._~:/?#[]@!$&'()*+,;=";
  for (std::size_t i = colon + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) return false;
      i += 2;
    } else if (!is_alpha(c) && !is_digit(c) && kAllowed.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

FormatCheck format_check(std::string_view format) {
  if (format == "date") return is_date;
  if (format == "time") return is_time;
  if (format == "date-time") return is_date_time;
  if (format == "email") return is_email;
  if (format == "uri") return is_uri;
  return nullptr;
}

}  // namespace sluice::validation
