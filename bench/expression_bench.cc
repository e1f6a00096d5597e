// Evaluating conditions of the expression language (src/expr/) on one event, against the same
// test written by hand in C++ over the same Boost.JSON object: the ceiling for a tree-walking
// evaluator.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>

#include "expr/expression.h"

namespace {

namespace json = boost::json;

const json::value& event() {
  static const json::value e = json::parse(
      R"({"type":"TEMP","device":"sensor-7","value":93,"city":"NYC","severity":"critical",)"
      R"("page":"/docs/intro","user":{"id":42,"country":"NO"},"timestamp":"2025-10-13T11:30:00Z"})");
  return e;
}

void BM_HandWrittenCondition(benchmark::State& state) {
  const json::value& e = event();
  for (auto _ : state) {
    const auto& o = e.get_object();
    const auto* type = o.if_contains("type");
    const auto* value = o.if_contains("value");
    const auto* severity = o.if_contains("severity");
    const bool hit = type && type->is_string() && type->get_string() == "TEMP" && value &&
                     value->is_int64() && value->get_int64() > 90 && severity &&
                     severity->is_string() &&
                     (severity->get_string() == "high" || severity->get_string() == "critical");
    benchmark::DoNotOptimize(hit);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ExpressionCondition(benchmark::State& state) {
  auto parsed = sluice::expr::Expression::parse(
      R"(type == "TEMP" && value > 90 && severity in ["high", "critical"])");
  const auto& expression = parsed.value();
  const json::value& e = event();
  for (auto _ : state)
    benchmark::DoNotOptimize(expression.matches(e));
  state.SetItemsProcessed(state.iterations());
}

void BM_ExpressionRegexAndPath(benchmark::State& state) {
  auto parsed = sluice::expr::Expression::parse(
      R"(page matches "^/docs/" and user.country == "NO" and exists(device))");
  const auto& expression = parsed.value();
  const json::value& e = event();
  for (auto _ : state)
    benchmark::DoNotOptimize(expression.matches(e));
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_HandWrittenCondition);
BENCHMARK(BM_ExpressionCondition);
BENCHMARK(BM_ExpressionRegexAndPath);

}  // namespace

BENCHMARK_MAIN();
