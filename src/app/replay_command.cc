#include "app/replay_command.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <deque>
#include <filesystem>
#include <iostream>
#include <thread>

#include "app/exit_codes.h"
#include "components/registry.h"
#include "config/config.h"
#include "core/id_journal.h"
#include "core/json_write.h"
#include "core/time.h"
#include "pipeline/pipeline_event.h"
#include "pipeline/sink.h"
#include "pipeline/transform.h"

namespace sluice {
namespace {

namespace json = boost::json;

constexpr int kAttempts = 5;

void say(const std::string& text) {
  fmt::print("{}\n", text);
}

int fail(const std::string& text) {
  std::cerr << "sluice dead-letters replay: " << text << "\n";
  return kExitFailure;
}

// Every dead letter the query names, oldest first.
std::variant<std::vector<json::value>, int> dead_letters(const ServerTarget& target,
                                                         const std::string& filter,
                                                         const std::string& since) {
  std::vector<json::value> out;
  std::string cursor;
  for (;;) {
    boost::urls::url path("/v1/dead-letters");
    path.params().append({"order", "asc"});
    path.params().append({"limit", "1000"});
    path.params().append({filter.substr(0, filter.find('=')), filter.substr(filter.find('=') + 1)});
    if (!since.empty()) path.params().append({"from", since});
    if (!cursor.empty()) path.params().append({"cursor", cursor});
    auto body = get_from_server("dead-letters replay", target, std::string(path.buffer()));
    if (const int* code = std::get_if<int>(&body)) return *code;
    boost::system::error_code ec;
    auto page = json::parse(std::get<std::string>(body), ec);
    if (ec || !page.is_object()) return fail("the server's answer is not JSON");
    for (auto& event : page.at("events").as_array())
      out.push_back(std::move(event));
    const auto& next = page.at("next_cursor");
    if (!next.is_string()) return out;
    cursor = std::string(next.get_string());
  }
}

std::string text_of(const json::value* value) {
  return value && value->is_string() ? std::string(value->get_string()) : "";
}

struct Sinks {
  std::vector<std::string> names;
  std::vector<std::unique_ptr<pipeline::Sink>> sinks;
  std::vector<std::unique_ptr<pipeline::Transform>> steps;
};

// The pipeline's sinks and steps, as the server builds them.
std::variant<Sinks, int> open_pipeline(const Config& config, const PipelineConfig& pipeline) {
  Sinks out;
  for (const auto& name : pipeline.to) {
    const auto& sink = config.sinks.at(name);
    pipeline::SinkContext context{.name = name,
                                  .data_dir = config.storage.data_dir,
                                  .log = nullptr,
                                  .upsert = pipeline.upsert};
    auto opened = components::find_sink_kind(sink.kind)->open(context, sink.settings.get());
    if (!opened) return fail(fmt::format("sinks.{}: {}", name, opened.error().message));
    out.names.push_back(name);
    out.sinks.push_back(std::move(opened.value()));
  }
  pipeline::TransformContext context{.pipeline = pipeline.name, .sinks = pipeline.to};
  for (const auto& step : pipeline.steps) {
    auto built = components::find_transform_kind(step.kind)->build(context, step.settings.get());
    if (!built) return fail(fmt::format("{}: {}", step.kind, built.error().message));
    out.steps.push_back(std::move(built.value()));
  }
  return out;
}

// Delivers one event to one sink, retrying what may pass on a second try; the reason if not.
std::optional<std::string> deliver(pipeline::Sink& sink, const std::string& consumer,
                                   const pipeline::SinkRecord& record) {
  pipeline::SinkBatch batch{.consumer = consumer, .records = {record}, .next = {}};
  std::string reason;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const auto outcome = sink.write(batch);
    if (outcome.status == pipeline::WriteOutcome::Status::kDelivered) return std::nullopt;
    reason = outcome.reason;
    if (outcome.status == pipeline::WriteOutcome::Status::kRejected) return reason;
    std::this_thread::sleep_for(
        std::max(outcome.retry_after, std::chrono::milliseconds(200 << attempt)));
  }
  return reason;
}

// The event a pipeline dead letter holds, as the pipeline had it.
struct HeldEvent {
  std::string id, stream, payload;
  std::int64_t ts_ms = 0, received_at_ms = 0;
  std::optional<std::string> key, type;
  log::Offset offset = 0;
};

HeldEvent held_event(const json::object& letter) {
  HeldEvent out;
  const auto& event = letter.at("event").as_object();
  out.id = text_of(event.if_contains("id"));
  out.stream = text_of(event.if_contains("stream"));
  out.payload = json_text(event.at("payload"));
  out.ts_ms = parse_time_text(text_of(event.if_contains("ts"))).value_or(0);
  out.received_at_ms = parse_time_text(text_of(event.if_contains("received_at"))).value_or(0);
  if (const auto* key = event.if_contains("key"); key && key->is_string()) {
    out.key = std::string(key->get_string());
  }
  if (const auto* type = event.if_contains("type"); type && type->is_string()) {
    out.type = std::string(type->get_string());
  }
  if (const auto* offset = letter.if_contains("offset"); offset && offset->is_number()) {
    out.offset = offset->to_number<log::Offset>();
  }
  return out;
}

// A pipeline dead letter sent again; the reason when it still fails.
std::optional<std::string> replay_pipeline_letter(const json::object& letter, Sinks& open,
                                                  const std::string& consumer) {
  const HeldEvent held = held_event(letter);
  EventView view{.id = held.id,
                 .ts_ms = held.ts_ms,
                 .received_at_ms = held.received_at_ms,
                 .payload = held.payload};
  if (held.key) view.key = *held.key;
  if (held.type) view.type = *held.type;
  const std::string sink_name = text_of(letter.if_contains("sink"));
  if (!sink_name.empty()) {  // a sink rejected it: to that sink again, as it was
    const auto at = std::find(open.names.begin(), open.names.end(), sink_name);
    if (at == open.names.end()) {
      return fmt::format("sink {} is no longer one of the pipeline's", sink_name);
    }
    return deliver(*open.sinks[static_cast<std::size_t>(at - open.names.begin())], consumer,
                   {held.stream, 0, held.offset, view});
  }
  // A step failed on it: the steps and the sinks again, from the start.
  std::vector<pipeline::PipelineEvent> events;
  events.emplace_back(held.stream, 0, held.offset, view);
  std::deque<std::string> ids;
  for (std::size_t i = 0; i < events.size(); ++i) {
    bool keep = true;
    for (auto& step : open.steps) {
      if (!step->apply(events[i])) {
        keep = false;
        if (events[i].failure()) return *events[i].failure();
        break;
      }
      for (std::size_t n = 0; n < events[i].spawned.size(); ++n) {
        ids.push_back(fmt::format("{}#{}", held.id, n + 2));
        EventView spawned = view;
        spawned.id = ids.back();
        events.reserve(events.size() + events[i].spawned.size());
        events.emplace_back(held.stream, 0, held.offset, spawned, std::move(events[i].spawned[n]));
      }
      events[i].spawned.clear();
    }
    if (!keep) continue;
    for (std::size_t s = 0; s < open.sinks.size(); ++s) {
      if (!(events[i].sinks & (std::uint64_t{1} << s))) continue;
      EventView out = events[i].envelope();
      out.payload = events[i].payload();
      if (auto failed = deliver(*open.sinks[s], consumer, {held.stream, 0, held.offset, out})) {
        return fmt::format("sink {}: {}", open.names[s], *failed);
      }
    }
  }
  return std::nullopt;
}

// What became of a dead letter sent again.
struct Outcome {
  std::optional<std::string> failure;  // why it did not go through
  // The failure left a new dead letter with the new reason (the collector refused the event
  // again): that one stands for the event from now on, and this one is retired.
  bool superseded = false;
};

// A collector dead letter posted to its stream again.
Outcome replay_stream_letter(const ServerTarget& target, const json::object& letter,
                             const std::string& stream, const std::string& key, int& code) {
  const auto* event = letter.if_contains("event");
  const std::string body = event ? json_text(*event) : text_of(letter.if_contains("raw"));
  auto answer = post_to_server("dead-letters replay", target, "/v1/streams/" + stream + "/events",
                               body, "application/json", key);
  if (const int* failed = std::get_if<int>(&answer)) {
    code = *failed;
    return {"the server did not answer"};
  }
  const auto& reply = std::get<Answer>(answer);
  boost::system::error_code ec;
  const auto parsed = json::parse(reply.body, ec);
  const auto* rejected =
      !ec && parsed.is_object() ? parsed.as_object().if_contains("rejected") : nullptr;
  if (rejected && rejected->is_array() && !rejected->as_array().empty()) {
    const auto& first = rejected->as_array().front();
    return {"refused again: " +
                (first.is_object() ? text_of(first.as_object().if_contains("error")) : ""),
            true};
  }
  if (reply.status != 202) {
    return {fmt::format("the server answered {}: {}", reply.status, reply.body.substr(0, 300))};
  }
  return {};
}

}  // namespace

int run_replay_command(const ServerTarget& target, const ReplayOptions& options) {
  if (options.pipeline.empty() == options.stream.empty()) {
    return fail("give --pipeline NAME or --stream NAME");
  }
  Config config;
  if (!options.config_file.empty()) {
    auto loaded = config::load_file(options.config_file);
    if (!loaded.ok()) {
      std::cerr << config::format_errors(loaded.errors, options.config_file);
      return kExitInvalidConfig;
    }
    config = std::move(loaded.config);
  }
  if (!options.data_dir.empty()) config.storage.data_dir = options.data_dir;
  std::optional<Sinks> open;
  if (!options.pipeline.empty()) {
    const auto found = config.pipelines.find(options.pipeline);
    if (options.config_file.empty() || found == config.pipelines.end()) {
      return fail(
          fmt::format("pipeline {} is not in {}: give the server's --config", options.pipeline,
                      options.config_file.empty() ? "the configuration" : options.config_file));
    }
    if (!options.dry_run) {
      auto opened = open_pipeline(config, found->second);
      if (const int* code = std::get_if<int>(&opened)) return *code;
      open = std::move(std::get<Sinks>(opened));
    }
  }
  const std::string what =
      options.pipeline.empty() ? "stream." + options.stream : "pipeline." + options.pipeline;
  auto journal = IdJournal::open(
      (std::filesystem::path(config.storage.data_dir) / "replayed" / (what + ".ids")).string());
  if (!journal) return fail(journal.error().message);
  auto letters = dead_letters(
      target,
      options.pipeline.empty() ? "source=" + options.stream : "pipeline=" + options.pipeline,
      options.since);
  if (const int* code = std::get_if<int>(&letters)) return *code;
  int replayed = 0, failed = 0, skipped = 0;
  for (const auto& letter : std::get<std::vector<json::value>>(letters)) {
    const std::string id = text_of(letter.as_object().if_contains("id"));
    const auto& payload = letter.as_object().at("payload").as_object();
    // --stream: the collector's own dead letters only (a pipeline's have a "pipeline").
    if (!options.stream.empty() && payload.contains("pipeline")) continue;
    if (journal.value().contains(id) || journal.value().in_doubt(id)) {
      ++skipped;  // replayed before (or being replayed when a run stopped: at most once)
      continue;
    }
    const std::string error = text_of(payload.if_contains("error"));
    if (options.dry_run) {
      say(fmt::format("would replay {} ({})", id, error));
      ++replayed;
      continue;
    }
    if (auto noted = journal.value().sending(id); !noted) return fail(noted.error().message);
    int code = kExitOk;
    const Outcome outcome =
        options.pipeline.empty()
            ? replay_stream_letter(target, payload, options.stream, options.key, code)
            : Outcome{replay_pipeline_letter(payload, *open, "pipeline." + options.pipeline)};
    if (code != kExitOk) return code;
    if (outcome.failure) {
      ++failed;
      if (outcome.superseded) {
        say(fmt::format("failed again {}: {} (a new dead letter holds it now)", id,
                        *outcome.failure));
        if (auto noted = journal.value().add(id); !noted) return fail(noted.error().message);
        continue;
      }
      // Not sent, and no new dead letter: this one may be replayed after another fix.
      say(fmt::format("failed again {}: {}", id, *outcome.failure));
      if (auto noted = journal.value().cancel(id); !noted) return fail(noted.error().message);
      continue;
    }
    if (auto noted = journal.value().add(id); !noted) return fail(noted.error().message);
    ++replayed;
  }
  say(fmt::format("{}{} replayed, {} failed again, {} replayed before",
                  options.dry_run ? "dry run: " : "", replayed, failed, skipped));
  return failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace sluice
