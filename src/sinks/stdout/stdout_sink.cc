#include "sinks/stdout/stdout_sink.h"

#include <cerrno>
#include <cstdio>
#include <system_error>

#include "pipeline/event_json.h"

namespace sluice::sinks {

const config::Table& StdoutSink::settings_table() {
  static const config::Table table{
      "stdout",
      "Writes each event as one JSON line to standard output.",
      {
          config::bool_setting("payload_only", &Settings::payload_only, false,
                               "Write the event's payload alone instead of the envelope "
                               "(`{\"id\",\"stream\",\"ts\",…,\"payload\"}`)."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Sink>> StdoutSink::open(const pipeline::SinkContext&,
                                                         const Settings& settings) {
  return std::unique_ptr<pipeline::Sink>(std::make_unique<StdoutSink>(settings));
}

pipeline::WriteOutcome StdoutSink::write(const pipeline::SinkBatch& batch) {
  std::string out;
  for (const auto& record : batch.records) {
    if (settings_.payload_only) {
      out += record.event.payload;
    } else {
      pipeline::append_event_json(out, record);
    }
    out += '\n';
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    return pipeline::WriteOutcome::retry(std::string("cannot write to stdout: ") +
                                         std::system_category().message(errno));
  }
  return pipeline::WriteOutcome::delivered();
}

}  // namespace sluice::sinks
