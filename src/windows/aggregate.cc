#include "windows/aggregate.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <bit>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "pipeline/field_path.h"

namespace sluice::windows {
namespace {

namespace json = boost::json;

constexpr std::size_t kExactDistinct = 1024;
constexpr int kRegisterBits = 12;
constexpr std::size_t kRegisters = std::size_t{1} << kRegisterBits;
constexpr double kSketchAccuracy = 0.01;
constexpr std::size_t kSketchBuckets = 2048;  // per sign; the lowest merge beyond that
constexpr __int128 kMicros = 1'000'000;

const double kGamma = (1 + kSketchAccuracy) / (1 - kSketchAccuracy);
const double kLogGamma = std::log(kGamma);

std::optional<double> number_of(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_double()) return v->get_double();
  return std::nullopt;
}

std::string text_of(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return json::serialize(v);
}

__int128 to_micros(double x) {
  const double whole = std::trunc(x);
  return static_cast<__int128>(whole) * kMicros + std::llround((x - whole) * 1e6);
}

std::string int128_text(__int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  unsigned __int128 u = negative ? -static_cast<unsigned __int128>(v) : v;
  std::string out;
  while (u > 0) {
    out += static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  }
  if (negative) out += '-';
  return {out.rbegin(), out.rend()};
}

std::optional<__int128> int128_parse(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const bool negative = text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  __int128 v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return negative ? -v : v;
}

void hll_add(std::vector<std::uint8_t>& registers, std::uint64_t hash) {
  const std::size_t index = hash >> (64 - kRegisterBits);
  const std::uint64_t rest = hash << kRegisterBits;
  const auto rank =
      static_cast<std::uint8_t>(std::min(std::countl_zero(rest), 64 - kRegisterBits) + 1);
  registers[index] = std::max(registers[index], rank);
}

std::int64_t hll_estimate(const std::vector<std::uint8_t>& registers) {
  const double m = static_cast<double>(kRegisters);
  double sum = 0;
  int zeros = 0;
  for (std::uint8_t r : registers) {
    sum += std::ldexp(1.0, -r);
    zeros += r == 0;
  }
  double estimate = 0.7213 / (1 + 1.079 / m) * m * m / sum;
  if (estimate <= 2.5 * m && zeros > 0) estimate = m * std::log(m / zeros);
  return std::llround(estimate);
}

void sketch_add_bucket(SketchBuckets& side, int index, std::uint64_t count) {
  side[index] += count;
  while (side.size() > kSketchBuckets) {
    auto lowest = side.begin();
    std::next(lowest)->second += lowest->second;
    side.erase(lowest);
  }
}

void sketch_add(SketchState& s, double x) {
  if (x == 0) {
    ++s.zeros;
    return;
  }
  if (!std::isfinite(x)) return;
  const int index = static_cast<int>(std::ceil(std::log(std::fabs(x)) / kLogGamma));
  sketch_add_bucket(x > 0 ? s.positive : s.negative, index, 1);
}

double bucket_value(int index) {
  return 2 * std::pow(kGamma, index) / (kGamma + 1);
}

std::optional<double> sketch_quantile(const SketchState& s, double q) {
  std::uint64_t total = s.zeros;
  for (const auto& [k, c] : s.positive)
    total += c;
  for (const auto& [k, c] : s.negative)
    total += c;
  if (total == 0) return std::nullopt;
  const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1));
  std::uint64_t seen = 0;
  for (auto it = s.negative.rbegin(); it != s.negative.rend(); ++it) {
    seen += it->second;
    if (seen > rank) return -bucket_value(it->first);
  }
  seen += s.zeros;
  if (seen > rank) return 0.0;
  for (const auto& [k, c] : s.positive) {
    seen += c;
    if (seen > rank) return bucket_value(k);
  }
  return bucket_value(s.positive.rbegin()->first);
}

AggregateState initial_state(const AggregateSpec& spec) {
  switch (spec.kind) {
    case AggregateKind::kCount:
      return CountState{};
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      return SumState{};
    case AggregateKind::kMin:
    case AggregateKind::kMax:
      return ExtremeState{};
    case AggregateKind::kCountDistinct:
      return DistinctState{};
    case AggregateKind::kCollectSet:
      return SetState{};
    case AggregateKind::kPercentile:
      return SketchState{};
  }
  return CountState{};
}

void distinct_add(DistinctState& s, std::uint64_t hash) {
  if (!s.registers.empty()) return hll_add(s.registers, hash);
  s.hashes.insert(hash);
  if (s.hashes.size() > kExactDistinct) {
    s.registers.assign(kRegisters, 0);
    for (std::uint64_t h : s.hashes)
      hll_add(s.registers, h);
    s.hashes.clear();
  }
}

void set_add(SetState& s, std::string value, std::size_t limit) {
  s.values.insert(std::move(value));
  if (s.values.size() > limit) s.values.erase(std::prev(s.values.end()));
}

json::value sum_value(const SumState& s) {
  if (s.micros % kMicros == 0) {
    const __int128 whole = s.micros / kMicros;
    if (whole >= INT64_MIN && whole <= INT64_MAX) return static_cast<std::int64_t>(whole);
  }
  return static_cast<double>(s.micros) / 1e6;
}

}  // namespace

Result<AggregateSpec> parse_aggregate(std::string name, std::string_view text) {
  AggregateSpec spec;
  spec.name = std::move(name);
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ')
      s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ')
      s.remove_suffix(1);
    return s;
  };
  text = trim(text);
  const auto open = text.find('(');
  const std::string_view function = trim(text.substr(0, open));
  std::string_view argument;
  if (open != std::string_view::npos) {
    if (text.back() != ')') {
      return make_error(Errc::kInvalidInput, fmt::format("\"{}\": missing )", text));
    }
    argument = trim(text.substr(open + 1, text.size() - open - 2));
  }
  std::string_view limit;
  if (auto comma = argument.find(','); comma != std::string_view::npos) {
    limit = trim(argument.substr(comma + 1));
    argument = trim(argument.substr(0, comma));
  }
  static const std::map<std::string_view, std::pair<AggregateKind, double>> kFunctions{
      {"count", {AggregateKind::kCount, 0}},
      {"sum", {AggregateKind::kSum, 0}},
      {"avg", {AggregateKind::kAvg, 0}},
      {"min", {AggregateKind::kMin, 0}},
      {"max", {AggregateKind::kMax, 0}},
      {"count_distinct", {AggregateKind::kCountDistinct, 0}},
      {"collect_set", {AggregateKind::kCollectSet, 0}},
      {"p50", {AggregateKind::kPercentile, 0.5}},
      {"p90", {AggregateKind::kPercentile, 0.9}},
      {"p95", {AggregateKind::kPercentile, 0.95}},
      {"p99", {AggregateKind::kPercentile, 0.99}},
  };
  auto found = kFunctions.find(function);
  if (found == kFunctions.end()) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("\"{}\" is not an aggregate; use count, sum(f), avg(f), min(f), "
                                  "max(f), count_distinct(f), collect_set(f[, limit]), p50(f), "
                                  "p90(f), p95(f) or p99(f)",
                                  text));
  }
  spec.kind = found->second.first;
  spec.quantile = found->second.second;
  spec.field = std::string(argument);
  if (spec.kind == AggregateKind::kCount) {
    if (!spec.field.empty()) {
      return make_error(Errc::kInvalidInput,
                        "count takes no field (filter the window's events instead)");
    }
  } else if (spec.field.empty()) {
    return make_error(Errc::kInvalidInput, fmt::format("{}: which field?", function));
  }
  // The argument is a field, not an expression: `p95(number(value))` would look for a field
  // named "number(value)" and find none in any event.
  const bool path =
      spec.field.empty() || (spec.field.front() != '.' && spec.field.back() != '.' &&
                             spec.field.find("..") == std::string::npos &&
                             spec.field.find_first_of("()[]{}\"' +*/<>=!&|") == std::string::npos);
  if (!path) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("{}(…) takes a field, such as value or reading.temp; \"{}\" is "
                                  "not one (aggregates do not compute: the field must hold a "
                                  "number in the events)",
                                  function, spec.field));
  }
  if (!limit.empty()) {
    if (spec.kind != AggregateKind::kCollectSet) {
      return make_error(Errc::kInvalidInput, fmt::format("{} takes one field", function));
    }
    std::size_t n = 0;
    for (char c : limit) {
      if (c < '0' || c > '9' || n > 100'000) {
        return make_error(Errc::kInvalidInput, "collect_set's limit is a number from 1 to 100000");
      }
      n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (n == 0 || n > 100'000) {
      return make_error(Errc::kInvalidInput, "collect_set's limit is a number from 1 to 100000");
    }
    spec.limit = n;
  }
  return spec;
}

Accumulator::Accumulator(const std::vector<AggregateSpec>& specs) {
  states_.reserve(specs.size());
  for (const auto& spec : specs)
    states_.push_back(initial_state(spec));
}

void Accumulator::add(const std::vector<AggregateSpec>& specs, const json::value& event,
                      std::string_view id) {
  // With thousands of keys the state is rarely in cache: ask for all its lines at once rather
  // than one miss after another as the aggregates reach them.
  const char* bytes = reinterpret_cast<const char*>(this);
  for (std::size_t at = 0; at < sizeof(*this); at += 64)
    __builtin_prefetch(bytes + at, 1);
  ++events_;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const AggregateSpec& spec = specs[i];
    const json::value* value =
        spec.field.empty() ? nullptr : pipeline::find_field(event, spec.field);
    std::visit(
        [&](auto& state) {
          using State = std::decay_t<decltype(state)>;
          if constexpr (std::is_same_v<State, CountState>) {
            ++state.n;
          } else if constexpr (std::is_same_v<State, SumState>) {
            if (auto x = number_of(value); x && std::isfinite(*x) && std::fabs(*x) < 1e30) {
              state.micros += to_micros(*x);
              ++state.n;
            }
          } else if constexpr (std::is_same_v<State, ExtremeState>) {
            if (auto x = number_of(value); x && !std::isnan(*x)) {
              const bool better =
                  spec.kind == AggregateKind::kMin ? *x < state.value : *x > state.value;
              if (!state.seen || better) state.value = *x;
              state.seen = true;
            }
          } else if constexpr (std::is_same_v<State, DistinctState>) {
            if (value && !value->is_null()) {
              const std::string text = text_of(*value);
              distinct_add(state, XXH3_64bits(text.data(), text.size()));
            }
          } else if constexpr (std::is_same_v<State, SetState>) {
            if (spec.of_event_ids) {
              if (!id.empty()) set_add(state, std::string(id), spec.limit);
            } else if (value && !value->is_null()) {
              set_add(state, text_of(*value), spec.limit);
            }
          } else if constexpr (std::is_same_v<State, SketchState>) {
            if (auto x = number_of(value)) sketch_add(state, *x);
          }
        },
        states_[i]);
  }
}

void Accumulator::merge(const std::vector<AggregateSpec>& specs, const Accumulator& other) {
  events_ += other.events_;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const AggregateSpec& spec = specs[i];
    std::visit(
        [&](auto& state) {
          using State = std::decay_t<decltype(state)>;
          const auto& theirs = std::get<State>(other.states_[i]);
          if constexpr (std::is_same_v<State, CountState>) {
            state.n += theirs.n;
          } else if constexpr (std::is_same_v<State, SumState>) {
            state.micros += theirs.micros;
            state.n += theirs.n;
          } else if constexpr (std::is_same_v<State, ExtremeState>) {
            if (theirs.seen) {
              const bool better = spec.kind == AggregateKind::kMin ? theirs.value < state.value
                                                                   : theirs.value > state.value;
              if (!state.seen || better) state.value = theirs.value;
              state.seen = true;
            }
          } else if constexpr (std::is_same_v<State, DistinctState>) {
            for (std::uint64_t h : theirs.hashes)
              distinct_add(state, h);
            if (!theirs.registers.empty()) {
              if (state.registers.empty()) {
                state.registers.assign(kRegisters, 0);
                for (std::uint64_t h : state.hashes)
                  hll_add(state.registers, h);
                state.hashes.clear();
              }
              for (std::size_t r = 0; r < kRegisters; ++r)
                state.registers[r] = std::max(state.registers[r], theirs.registers[r]);
            }
          } else if constexpr (std::is_same_v<State, SetState>) {
            for (const auto& v : theirs.values)
              set_add(state, v, spec.limit);
          } else if constexpr (std::is_same_v<State, SketchState>) {
            state.zeros += theirs.zeros;
            for (const auto& [k, c] : theirs.positive)
              sketch_add_bucket(state.positive, k, c);
            for (const auto& [k, c] : theirs.negative)
              sketch_add_bucket(state.negative, k, c);
          }
        },
        states_[i]);
  }
}

json::object Accumulator::result(const std::vector<AggregateSpec>& specs) const {
  json::object out;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const AggregateSpec& spec = specs[i];
    json::value value;
    std::visit(
        [&](const auto& state) {
          using State = std::decay_t<decltype(state)>;
          if constexpr (std::is_same_v<State, CountState>) {
            value = state.n;
          } else if constexpr (std::is_same_v<State, SumState>) {
            if (spec.kind == AggregateKind::kSum) {
              value = sum_value(state);
            } else if (state.n > 0) {
              value = static_cast<double>(state.micros) / 1e6 / static_cast<double>(state.n);
            }
          } else if constexpr (std::is_same_v<State, ExtremeState>) {
            if (state.seen) value = state.value;
          } else if constexpr (std::is_same_v<State, DistinctState>) {
            value = state.registers.empty() ? static_cast<std::int64_t>(state.hashes.size())
                                            : hll_estimate(state.registers);
          } else if constexpr (std::is_same_v<State, SetState>) {
            json::array values;
            for (const auto& v : state.values)
              values.emplace_back(v);
            value = std::move(values);
          } else if constexpr (std::is_same_v<State, SketchState>) {
            if (auto q = sketch_quantile(state, spec.quantile)) value = *q;
          }
        },
        states_[i]);
    out[spec.name] = std::move(value);
  }
  return out;
}

json::value Accumulator::save(const std::vector<AggregateSpec>& specs) const {
  json::array saved;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    std::visit(
        [&](const auto& state) {
          using State = std::decay_t<decltype(state)>;
          if constexpr (std::is_same_v<State, CountState>) {
            saved.emplace_back(state.n);
          } else if constexpr (std::is_same_v<State, SumState>) {
            saved.emplace_back(json::array{json::value(int128_text(state.micros)), state.n});
          } else if constexpr (std::is_same_v<State, ExtremeState>) {
            // The bits: a double printed as text does not always read back the same.
            saved.emplace_back(state.seen ? json::value(std::bit_cast<std::uint64_t>(state.value))
                                          : json::value(nullptr));
          } else if constexpr (std::is_same_v<State, DistinctState>) {
            if (state.registers.empty()) {
              json::array hashes;
              for (std::uint64_t h : state.hashes)
                hashes.emplace_back(h);
              saved.emplace_back(json::object{{"h", std::move(hashes)}});
            } else {
              std::string hex;
              for (std::uint8_t r : state.registers)
                hex += fmt::format("{:02x}", r);
              saved.emplace_back(json::object{{"r", hex}});
            }
          } else if constexpr (std::is_same_v<State, SetState>) {
            json::array values;
            for (const auto& v : state.values)
              values.emplace_back(v);
            saved.emplace_back(std::move(values));
          } else if constexpr (std::is_same_v<State, SketchState>) {
            auto buckets = [](const SketchBuckets& side) {
              json::array out;
              for (const auto& [k, c] : side)
                out.emplace_back(json::array{k, c});
              return out;
            };
            saved.emplace_back(json::object{{"p", buckets(state.positive)},
                                            {"n", buckets(state.negative)},
                                            {"z", state.zeros}});
          }
        },
        states_[i]);
  }
  return json::object{{"events", events_}, {"states", std::move(saved)}};
}

Result<Accumulator> Accumulator::load(const std::vector<AggregateSpec>& specs,
                                      const json::value& saved) {
  auto corrupt = [] {
    return make_error(Errc::kCorrupt, "window state does not fit its aggregates");
  };
  const auto* object = saved.if_object();
  const json::value* events = object ? object->if_contains("events") : nullptr;
  const json::value* states = object ? object->if_contains("states") : nullptr;
  if (!events || !events->is_int64() || !states || !states->is_array() ||
      states->get_array().size() != specs.size()) {
    return corrupt();
  }
  Accumulator acc(specs);
  acc.events_ = events->get_int64();
  try {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const json::value& s = states->get_array()[i];
      std::visit(
          [&](auto& state) {
            using State = std::decay_t<decltype(state)>;
            if constexpr (std::is_same_v<State, CountState>) {
              state.n = s.as_int64();
            } else if constexpr (std::is_same_v<State, SumState>) {
              auto micros = int128_parse(s.as_array().at(0).as_string());
              if (!micros) throw std::invalid_argument("sum");
              state.micros = *micros;
              state.n = s.as_array().at(1).as_int64();
            } else if constexpr (std::is_same_v<State, ExtremeState>) {
              state.seen = !s.is_null();
              if (state.seen) state.value = std::bit_cast<double>(s.to_number<std::uint64_t>());
            } else if constexpr (std::is_same_v<State, DistinctState>) {
              const auto& o = s.as_object();
              if (const auto* h = o.if_contains("h")) {
                for (const auto& v : h->as_array())
                  state.hashes.insert(v.to_number<std::uint64_t>());
              } else {
                const std::string_view hex = o.at("r").as_string();
                if (hex.size() != kRegisters * 2) throw std::invalid_argument("registers");
                state.registers.resize(kRegisters);
                for (std::size_t r = 0; r < kRegisters; ++r) {
                  state.registers[r] = static_cast<std::uint8_t>(
                      std::stoi(std::string(hex.substr(r * 2, 2)), nullptr, 16));
                }
              }
            } else if constexpr (std::is_same_v<State, SetState>) {
              for (const auto& v : s.as_array())
                state.values.emplace(v.as_string());
            } else if constexpr (std::is_same_v<State, SketchState>) {
              const auto& o = s.as_object();
              for (const auto& b : o.at("p").as_array()) {
                state.positive[static_cast<int>(b.as_array().at(0).as_int64())] =
                    b.as_array().at(1).to_number<std::uint64_t>();
              }
              for (const auto& b : o.at("n").as_array()) {
                state.negative[static_cast<int>(b.as_array().at(0).as_int64())] =
                    b.as_array().at(1).to_number<std::uint64_t>();
              }
              state.zeros = o.at("z").to_number<std::uint64_t>();
            }
          },
          acc.states_[i]);
    }
  } catch (const std::exception&) {
    return corrupt();
  }
  return acc;
}

}  // namespace sluice::windows
