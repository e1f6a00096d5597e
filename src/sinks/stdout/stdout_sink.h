#pragma once
// stdout: each event as one JSON line on standard output, for trying pipelines out and for
// containers whose logs are collected. Delivered once written and flushed.

#include <memory>

#include "config/table.h"
#include "pipeline/sink.h"

namespace sluice::sinks {

class StdoutSink : public pipeline::Sink {
 public:
  struct Settings {
    bool payload_only = false;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext&,
                                                      const Settings& settings);

  explicit StdoutSink(Settings settings) : settings_(settings) {}
  pipeline::WriteOutcome write(const pipeline::SinkBatch& batch) override;

 private:
  Settings settings_;
};

}  // namespace sluice::sinks
