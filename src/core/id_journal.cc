#include "core/id_journal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace sluice {
namespace {

Error io_error(const std::string& what, const std::string& path) {
  return make_error(Errc::kUnavailable,
                    fmt::format("{} {}: {}", what, path,
                                std::error_code(errno, std::generic_category()).message()));
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Result<IdJournal> IdJournal::open(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return io_error("cannot open", path);
  IdJournal journal(path, fd);
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    ++journal.lines_;
    if (line.size() < 3 || line[1] != ' ') continue;  // a line cut short by a crash
    std::string id = line.substr(2);
    if (line[0] == 's') {
      if (!journal.ids_.contains(id)) journal.in_doubt_.insert(std::move(id));
      continue;
    }
    if (line[0] == 'c') {
      journal.in_doubt_.erase(id);
      continue;
    }
    journal.in_doubt_.erase(id);
    if (!journal.ids_.insert(id).second) continue;
    journal.order_.push_back(std::move(id));
    if (journal.order_.size() > kMaxRemembered) {
      journal.ids_.erase(journal.order_.front());
      journal.order_.pop_front();
    }
  }
  if (in.bad()) return io_error("cannot read", path);
  if (journal.lines_ > 2 * kMaxRemembered) {
    if (auto rewritten = journal.rewrite(); !rewritten) return rewritten.error();
  }
  return journal;
}

IdJournal::IdJournal(IdJournal&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      ids_(std::move(other.ids_)),
      in_doubt_(std::move(other.in_doubt_)),
      order_(std::move(other.order_)),
      lines_(other.lines_) {}

IdJournal::~IdJournal() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// An id is one line: a line break in one (ids come from clients) would make two.
std::string one_line(std::string_view id) {
  std::string line(id);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  return line;
}

}  // namespace

Result<void> IdJournal::sending(std::string_view id) {
  if (!write_all(fd_, "s " + one_line(id) + "\n")) return io_error("cannot write", path_);
  ++lines_;
  return boost::outcome_v2::success();
}

Result<void> IdJournal::cancel(std::string_view id) {
  std::string line = one_line(id);
  in_doubt_.erase(line);
  if (!write_all(fd_, "c " + line + "\n")) return io_error("cannot write", path_);
  ++lines_;
  return boost::outcome_v2::success();
}

Result<void> IdJournal::add(std::string_view id) {
  std::string line = one_line(id);
  in_doubt_.erase(line);
  if (!ids_.insert(line).second) return boost::outcome_v2::success();
  if (!write_all(fd_, "d " + line + "\n")) return io_error("cannot write", path_);
  ++lines_;
  order_.push_back(std::move(line));
  if (order_.size() > kMaxRemembered) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  if (lines_ > 2 * kMaxRemembered) return rewrite();
  return boost::outcome_v2::success();
}

Result<void> IdJournal::rewrite() {
  const std::string fresh = path_ + ".new";
  const int fd = ::open(fresh.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return io_error("cannot open", fresh);
  std::string text;
  for (const auto& id : order_)
    text += "d " + id + "\n";
  for (const auto& id : in_doubt_)
    text += "s " + id + "\n";
  const bool ok = write_all(fd, text) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(fresh.c_str(), path_.c_str()) != 0) return io_error("cannot rewrite", path_);
  const int reopened = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (reopened < 0) return io_error("cannot open", path_);
  ::close(fd_);
  fd_ = reopened;
  lines_ = order_.size() + in_doubt_.size();
  return boost::outcome_v2::success();
}

}  // namespace sluice
