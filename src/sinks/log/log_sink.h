#pragma once
// log: each event as one line of sluice's own log (standard error), at a chosen level, written
// from a message template or as the event's JSON. Alert rules use it for `notify: [log]`.

#include <memory>
#include <string>

#include "config/table.h"
#include "pipeline/sink.h"

namespace sluice::sinks {

class LogSink : public pipeline::Sink {
 public:
  struct Settings {
    std::string level = "warn";
    std::string message;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext& context,
                                                      const Settings& settings);

  LogSink(std::string name, Settings settings);
  pipeline::WriteOutcome write(const pipeline::SinkBatch& batch) override;

 private:
  std::string name_;
  Settings settings_;
};

}  // namespace sluice::sinks
