#include "sinks/file/file_sink.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "core/gzip.h"
#include "core/time.h"
#include "pipeline/event_json.h"

namespace sluice::sinks {
namespace {

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

const config::Table& FileSink::settings_table() {
  static const config::Table table{
      "file",
      "Writes events as NDJSON files, rotated by size and age, optionally gzip-compressed.",
      {
          config::string_setting("dir", &Settings::dir, "",
                                 "Directory of the files, created if missing; relative to "
                                 "storage.data_dir. Empty: `files/<sink name>`."),
          config::string_setting("prefix", &Settings::prefix, "",
                                 "Start of each file name; empty: the sink's name."),
          config::size_setting("rotate_bytes", &Settings::rotate_bytes, "128MiB", 1024, 1LL << 40,
                               "Start a new file once the current one is this big."),
          config::duration_setting("rotate_every", &Settings::rotate_every, "1h", 1000,
                                   30LL * 24 * 3600 * 1000,
                                   "Start a new file once the current one is this old."),
          config::bool_setting("gzip", &Settings::gzip, false,
                               "Compress (`.ndjson.gz`; each batch is one gzip member)."),
          config::bool_setting("payload_only", &Settings::payload_only, false,
                               "Write each event's payload alone instead of the envelope."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Sink>> FileSink::open(const pipeline::SinkContext& context,
                                                       const Settings& settings) {
  std::filesystem::path dir = settings.dir.empty() ? std::filesystem::path("files") / context.name
                                                   : std::filesystem::path(settings.dir);
  if (dir.is_relative()) dir = std::filesystem::path(context.data_dir) / dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return make_error(Errc::kUnavailable,
                      fmt::format("cannot create directory {}: {}", dir.string(), ec.message()));
  }
  return std::unique_ptr<pipeline::Sink>(std::make_unique<FileSink>(
      settings, dir.string(), settings.prefix.empty() ? context.name : settings.prefix));
}

FileSink::FileSink(Settings settings, std::string dir, std::string prefix)
    : settings_(std::move(settings)), dir_(std::move(dir)), prefix_(std::move(prefix)) {}

FileSink::~FileSink() {
  close_current();
}

void FileSink::close_current() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<void> FileSink::open_next() {
  close_current();
  // 2026-11-22T07:30:00.000Z -> 20261122T073000Z
  std::string stamp;
  for (char c : format_iso8601_ms(now_ms()).substr(0, 19)) {
    if (c != '-' && c != ':') stamp += c;
  }
  stamp += 'Z';
  for (;;) {
    current_path_ = fmt::format("{}/{}-{}-{}.ndjson{}", dir_, prefix_, stamp, sequence_++,
                                settings_.gzip ? ".gz" : "");
    fd_ = ::open(current_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ >= 0) break;
    if (errno != EEXIST) {
      return make_error(Errc::kUnavailable, fmt::format("cannot create {}: {}", current_path_,
                                                        std::system_category().message(errno)));
    }
  }
  // The new name must survive a crash too.
  if (int dir = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  current_bytes_ = 0;
  opened_at_ = std::chrono::steady_clock::now();
  return boost::outcome_v2::success();
}

pipeline::WriteOutcome FileSink::write(const pipeline::SinkBatch& batch) {
  if (batch.records.empty()) return pipeline::WriteOutcome::delivered();
  if (fd_ < 0 || current_bytes_ >= settings_.rotate_bytes ||
      std::chrono::steady_clock::now() - opened_at_ >= settings_.rotate_every) {
    if (auto opened = open_next(); !opened) {
      return pipeline::WriteOutcome::retry(opened.error().message);
    }
  }
  std::string text;
  for (const auto& record : batch.records) {
    if (settings_.payload_only) {
      text += record.event.payload;
    } else {
      pipeline::append_event_json(text, record);
    }
    text += '\n';
  }
  const std::string data = settings_.gzip ? gzip(text) : std::move(text);
  if (!write_all(fd_, data) || ::fdatasync(fd_) != 0) {
    const std::string reason =
        fmt::format("cannot write {}: {}", current_path_, std::system_category().message(errno));
    // A partial write leaves a damaged tail: the retry starts a new file.
    close_current();
    return pipeline::WriteOutcome::retry(reason);
  }
  current_bytes_ += data.size();
  return pipeline::WriteOutcome::delivered();
}

}  // namespace sluice::sinks
