#pragma once
// JSON text for values Sluice computes (window results, alerts, transformed events, message
// templates). A number is written as the shortest decimal that reads back as the same double,
// without an exponent from 1e-7 up to 1e21 (98.50457626879135, where Boost.JSON writes
// 9.850457626879135E1), so that the same value reads the same wherever it shows. A number
// that is not finite is written as null.

#include <boost/json/value.hpp>
#include <string>

namespace sluice {

void append_json(std::string& out, const boost::json::value& value);
std::string json_text(const boost::json::value& value);
void append_json_number(std::string& out, double value);

}  // namespace sluice
