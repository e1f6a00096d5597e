#include "components/registry.h"

#include "sinks/email/email_sink.h"
#include "sinks/file/file_sink.h"
#include "sinks/kafka/kafka_sink.h"
#include "sinks/log/log_sink.h"
#include "sinks/postgres/postgres_sink.h"
#include "sinks/sheets/sheets_sink.h"
#include "sinks/sqlite/sqlite_event_sink.h"
#include "sinks/stdout/stdout_sink.h"
#include "sinks/webhook/webhook_sink.h"
#include "transforms/dedup/dedup.h"
#include "transforms/filter/filter.h"
#include "transforms/flag/flag.h"
#include "transforms/lua/lua_step.h"
#include "transforms/remap/remap.h"
#include "transforms/route/route.h"

namespace sluice::components {

const std::vector<SinkKind>& sink_kinds() {
  static const std::vector<SinkKind> kinds{
      sink_kind<sinks::SqliteEventSink>("sqlite"),
      sink_kind<sinks::PostgresSink>("postgres"),
      sink_kind<sinks::FileSink>("file"),
      sink_kind<sinks::StdoutSink>("stdout"),
      sink_kind<sinks::WebhookSink>("webhook"),
      sink_kind<sinks::KafkaSink>("kafka"),
      sink_kind<sinks::LogSink>("log"),
      sink_kind<sinks::EmailSink>("email"),
      sink_kind<sinks::SheetsSink>("sheets"),
  };
  return kinds;
}

const std::vector<TransformKind>& transform_kinds() {
  static const std::vector<TransformKind> kinds{
      transform_kind<transforms::Filter>("filter"), transform_kind<transforms::Route>("route"),
      transform_kind<transforms::Remap>("remap"),   transform_kind<transforms::Dedup>("dedup"),
      transform_kind<transforms::Flag>("flag"),     transform_kind<transforms::LuaStep>("lua"),
  };
  return kinds;
}

const SinkKind* find_sink_kind(std::string_view name) {
  for (const auto& kind : sink_kinds()) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

const TransformKind* find_transform_kind(std::string_view name) {
  for (const auto& kind : transform_kinds()) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

}  // namespace sluice::components
