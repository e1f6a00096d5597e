// Windows: a keyed 1-minute tumbling count + avg + p99 over 10 000 keys.
//   1. The window operator alone (src/windows/window_operator.cc), events already parsed, on one
//      thread: events/s.
//   2. End to end from the embedded log: a window job (reading, decoding, parsing the payload,
//      the operator, checkpoints) against a pass-through pipeline over the same log (reading and
//      decoding, into a sink that keeps nothing) as the baseline, each until it has read all.
//
// usage: bench_windows DIR EVENTS

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "config/config.h"
#include "log/embedded/embedded_log.h"
#include "pipeline/pipeline.h"
#include "windows/window_set.h"
#include "windows/window_spec.h"

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
constexpr int kKeys = 10'000;
constexpr std::int64_t kBase = 1'767'225'600'000;

struct Sample {
  std::int64_t ts;
  std::string payload;
};

std::vector<Sample> make_samples(int count) {
  std::mt19937 rng(1);
  std::vector<Sample> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    // 1 000 events per second of event time, up to 2 s out of order.
    const std::int64_t ts = kBase + i - std::uniform_int_distribution<int>(0, 2000)(rng);
    out.push_back({ts, fmt::format(R"({{"device":"d-{}","value":{:.2f},"unit":"C"}})",
                                   std::uniform_int_distribution<int>(0, kKeys - 1)(rng),
                                   std::uniform_real_distribution<double>(0, 120)(rng))});
  }
  return out;
}

constexpr const char* kWindowYaml =
    "streams: {readings: {}, dead_letters: {}}\n"
    "windows:\n"
    "  per_device:\n"
    "    from: [readings]\n"
    "    key: [device]\n"
    "    tumbling: 1m\n"
    "    allowed_lateness: 5s\n"
    "    aggregates: {events: count, mean: avg(value), p99: p99(value)}\n";

sluice::Config load(const std::string& data_dir, const std::string& extra = "") {
  auto loaded = sluice::config::load_text(
      fmt::format("storage: {{data_dir: {}}}\n{}{}", data_dir, kWindowYaml, extra));
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s", sluice::config::format_errors(loaded.errors, "bench").c_str());
    std::exit(1);
  }
  return loaded.config;
}

double operator_alone(const sluice::Config& config, const std::vector<Sample>& samples) {
  std::vector<json::value> events;
  events.reserve(samples.size());
  for (const auto& s : samples)
    events.push_back(json::parse(s.payload));
  sluice::windows::WindowOperator op(sluice::windows::spec_of(config.windows.at("per_device")));
  std::size_t closed = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < events.size(); ++i) {
    (void)op.add("readings/0", samples[i].ts, events[i]);
    if (i % 1000 == 999) closed += op.close_ready().size();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (closed == 0) std::fprintf(stderr, "no window closed\n");
  return static_cast<double>(events.size()) / seconds;
}

// A sink that keeps nothing: the pipeline's own cost alone.
class Discard : public sluice::pipeline::Sink {
 public:
  sluice::pipeline::WriteOutcome write(const sluice::pipeline::SinkBatch&) override {
    return sluice::pipeline::WriteOutcome::delivered();
  }
};

double pass_through(const sluice::Config& config, sluice::log::Log& log, std::size_t events) {
  sluice::PipelineConfig pipeline;
  pipeline.name = "pass_through";
  pipeline.from = {"readings"};
  pipeline.start = "earliest";
  pipeline.to = {"discard"};
  pipeline.batch = {.max_events = 2000, .max_bytes = 64 << 20, .max_wait = {}};
  std::vector<sluice::pipeline::Pipeline::SinkSlot> sinks;
  sinks.push_back({"discard", std::make_unique<Discard>()});
  sluice::pipeline::Pipeline runner(pipeline, log, std::move(sinks), {}, std::nullopt);
  (void)config;
  const auto start = Clock::now();
  runner.start();
  while (runner.status().read < events)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  runner.stop();
  return static_cast<double>(events) / seconds;
}

double window_job(const sluice::Config& config, sluice::log::Log& log, std::size_t events) {
  auto set = sluice::windows::WindowSet::build(config, log);
  const auto start = Clock::now();
  set->start();
  while (set->statuses().front().read < events)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  set->stop();
  return static_cast<double>(events) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_windows DIR EVENTS\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const int count = std::atoi(argv[2]);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto samples = make_samples(count);
  const sluice::Config config = load(dir.string(), "");

  const double alone = operator_alone(config, samples);
  std::printf("%d events, %d keys, 1-minute tumbling count + avg + p99\n", count, kKeys);
  std::printf("window operator alone (one thread)   %6.2f M events/s   (target >= 2.00)\n",
              alone / 1e6);

  sluice::LogConfig log_config;
  sluice::log::EmbeddedLog log((dir / "log").string(), {"readings", "dead_letters"}, log_config);
  for (std::size_t start = 0; start < samples.size(); start += 1000) {
    sluice::log::RecordBatch batch;
    std::vector<std::string> ids;
    for (std::size_t i = start; i < std::min(samples.size(), start + 1000); ++i)
      ids.push_back(fmt::format("e-{}", i));
    for (std::size_t i = start; i < std::min(samples.size(), start + 1000); ++i) {
      batch.add(sluice::EventView{.id = ids[i - start],
                                  .ts_ms = samples[i].ts,
                                  .received_at_ms = samples[i].ts,
                                  .payload = samples[i].payload});
    }
    batch.seal();
    std::promise<void> done;
    log.append("readings", std::move(batch), [&](auto) { done.set_value(); });
    done.get_future().wait();
  }
  const double baseline = pass_through(config, log, samples.size());
  const double windows = window_job(config, log, samples.size());
  std::printf("log -> pass-through pipeline          %6.2f M events/s\n", baseline / 1e6);
  std::printf(
      "log -> window job                     %6.2f M events/s   ratio %.2f (target >= 0.50)\n",
      windows / 1e6, windows / baseline);
  log.close();
  std::filesystem::remove_all(dir);
  return 0;
}
