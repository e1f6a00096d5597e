#include "core/time.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cmath>

namespace sluice {
namespace {

// Reads exactly `width` digits at `pos`, advancing it.
bool read_digits(std::string_view text, std::size_t& pos, int width, int& out) {
  if (pos + width > text.size()) return false;
  int value = 0;
  for (int i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  out = value;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::optional<std::int64_t> parse_iso8601_ms(std::string_view text) {
  using namespace std::chrono;
  std::size_t pos = 0;
  int y, mo, d, h = 0, mi = 0, s = 0;
  if (!read_digits(text, pos, 4, y) || !expect(text, pos, '-') || !read_digits(text, pos, 2, mo) ||
      !expect(text, pos, '-') || !read_digits(text, pos, 2, d)) {
    return std::nullopt;
  }
  year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  std::int64_t millis = 0;
  int offset_minutes = 0;
  if (pos < text.size()) {
    if (!(expect(text, pos, 'T') || expect(text, pos, 't') || expect(text, pos, ' '))) {
      return std::nullopt;
    }
    if (!read_digits(text, pos, 2, h) || !expect(text, pos, ':') ||
        !read_digits(text, pos, 2, mi)) {
      return std::nullopt;
    }
    if (expect(text, pos, ':') && !read_digits(text, pos, 2, s)) return std::nullopt;
    if (h > 23 || mi > 59 || s > 60) return std::nullopt;  // 60: a leap second
    if (expect(text, pos, '.') || expect(text, pos, ',')) {
      int digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (digits < 3) millis = millis * 10 + (text[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      for (int i = digits; i < 3; ++i)
        millis *= 10;
    }
    if (expect(text, pos, 'Z') || expect(text, pos, 'z')) {
      // UTC
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      int sign = text[pos] == '-' ? -1 : 1;
      ++pos;
      int oh, om = 0;
      if (!read_digits(text, pos, 2, oh)) return std::nullopt;
      if (expect(text, pos, ':')) {
        if (!read_digits(text, pos, 2, om)) return std::nullopt;
      } else if (pos < text.size() && !read_digits(text, pos, 2, om)) {
        return std::nullopt;
      }
      if (oh > 23 || om > 59) return std::nullopt;
      offset_minutes = sign * (oh * 60 + om);
    } else if (pos != text.size()) {
      return std::nullopt;
    }
    // A time with no zone designator is taken as UTC.
  }
  if (pos != text.size()) return std::nullopt;
  auto day_ms = duration_cast<milliseconds>(sys_days{date}.time_since_epoch()).count();
  return day_ms + ((h * 60 + mi - offset_minutes) * 60 + s) * 1000LL + millis;
}

std::optional<std::int64_t> epoch_number_to_ms(double value) {
  if (!std::isfinite(value) || value < 0 || value > 9.0e15) return std::nullopt;
  double ms = value > 1e11 ? value : value * 1000.0;
  return static_cast<std::int64_t>(std::llround(ms));
}

std::optional<std::int64_t> parse_time_text(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc() && end == text.data() + text.size()) return epoch_number_to_ms(number);
  return parse_iso8601_ms(text);
}

std::string format_iso8601_ms(std::int64_t ms) {
  using namespace std::chrono;
  auto tp = sys_time<milliseconds>{milliseconds{ms}};
  auto days = floor<std::chrono::days>(tp);
  year_month_day date{days};
  hh_mm_ss<milliseconds> tod{tp - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     tod.hours().count(), tod.minutes().count(), tod.seconds().count(),
                     tod.subseconds().count());
}

}  // namespace sluice
