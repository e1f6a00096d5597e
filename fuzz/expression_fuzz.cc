// Fuzzes the expression language: parsing any text, and evaluating whatever parses against an
// event with every kind of value. Neither may crash, hang or leak; evaluation never fails, and
// its value is always JSON that can be written.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/json_finite.h"
#include "expr/expression.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const boost::json::value event = boost::json::parse(R"({
    "type": "TEMP", "value": 93, "ratio": 0.5, "big": 9223372036854775807, "neg": -9223372036854775807,
    "tags": ["a", 1, null, {"x": [true]}], "user": {"id": 42, "name": "Ann"}, "none": null,
    "flag": false, "text": "ALERT:90 h\u00e9llo"})");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = sluice::expr::Expression::parse(text);
  if (!parsed) return 0;
  (void)parsed.value().matches(event);
  // What a remap writes into an event: it must be writable as JSON (no infinity or NaN).
  if (!sluice::finite_numbers(parsed.value().evaluate(event))) std::abort();
  (void)parsed.value().matches(boost::json::value(nullptr));
  return 0;
}
