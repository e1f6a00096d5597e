#pragma once
// `start: earliest | latest`: where a consumer with no stored positions begins reading (a new
// pipeline or per-event alert rule).

#include <fmt/format.h>

#include <optional>
#include <string>

#include "config/table.h"

namespace sluice::consume {

inline std::optional<std::string> check_start(const config::Scalar& v) {
  if (v.text == "earliest" || v.text == "latest") return std::nullopt;
  return fmt::format("\"{}\" is not a start: use earliest or latest", v.text);
}

}  // namespace sluice::consume
