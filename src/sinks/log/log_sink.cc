#include "sinks/log/log_sink.h"

#include <boost/json/parse.hpp>

#include "core/logging.h"
#include "pipeline/event_json.h"
#include "pipeline/message_template.h"

namespace sluice::sinks {

const config::Table& LogSink::settings_table() {
  static const config::Table table{
      "log",
      "Writes each event as one line of sluice's own log (standard error).",
      {
          config::string_setting("level", &Settings::level, "warn",
                                 "Log level of the lines: `info`, `warn` or `error`.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text == "info" || v.text == "warn" || v.text == "error")
                                     return std::nullopt;
                                   return "use info, warn or error";
                                 }),
          config::string_setting("message", &Settings::message, "",
                                 "Template of the line: `{field}` is replaced by that field of "
                                 "the payload, such as `{rule}: {message}`; empty: the event "
                                 "as JSON."),
      },
      "message"};
  return table;
}

Result<std::unique_ptr<pipeline::Sink>> LogSink::open(const pipeline::SinkContext& context,
                                                      const Settings& settings) {
  return std::unique_ptr<pipeline::Sink>(std::make_unique<LogSink>(context.name, settings));
}

LogSink::LogSink(std::string name, Settings settings)
    : name_(std::move(name)), settings_(std::move(settings)) {}

pipeline::WriteOutcome LogSink::write(const pipeline::SinkBatch& batch) {
  auto logger = sluice::logger("sink");
  const auto level = spdlog::level::from_str(settings_.level);
  for (const auto& record : batch.records) {
    std::string line;
    if (settings_.message.empty()) {
      pipeline::append_event_json(line, record);
    } else {
      boost::system::error_code ec;
      const auto payload = boost::json::parse(record.event.payload, ec);
      line = pipeline::render_message(settings_.message, ec ? boost::json::value() : payload);
    }
    logger->log(level, "sink={} stream={} id={} {}", name_, record.stream, record.event.id, line);
  }
  return pipeline::WriteOutcome::delivered();
}

}  // namespace sluice::sinks
