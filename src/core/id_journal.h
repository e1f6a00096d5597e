#pragma once
// Ids of things done that must not be done twice (a mail sent, a dead letter replayed), kept in
// a file across restarts and crashes.
//
// Two lines a thing, appended: "s <id>" before it is done, "d <id>" once it is ("c <id>" when
// it is known to have failed). A crash of the
// process loses nothing written. An id with "s" and no "d" was in progress when the process
// stopped (in_doubt): whether it happened may not be knowable (an SMTP server that took a mail
// before the connection died), and the caller decides. The newest kMaxRemembered ids are
// kept; the file is rewritten with those when it holds twice as many lines.

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

#include "core/result.h"

namespace sluice {

class IdJournal {
 public:
  static constexpr std::size_t kMaxRemembered = 1'000'000;

  static Result<IdJournal> open(const std::string& path);
  IdJournal(IdJournal&& other) noexcept;
  IdJournal& operator=(IdJournal&&) = delete;
  IdJournal(const IdJournal&) = delete;
  ~IdJournal();

  bool contains(std::string_view id) const { return ids_.contains(std::string(id)); }
  // Was in progress when the process stopped last.
  bool in_doubt(std::string_view id) const { return in_doubt_.contains(std::string(id)); }
  // Before doing it.
  Result<void> sending(std::string_view id);
  // Once done.
  Result<void> add(std::string_view id);
  // Known not done after all (it failed): no longer in doubt, free to be tried again.
  Result<void> cancel(std::string_view id);
  std::size_t size() const { return order_.size(); }

 private:
  IdJournal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Result<void> rewrite();

  std::string path_;
  int fd_ = -1;
  std::unordered_set<std::string> ids_;
  std::unordered_set<std::string> in_doubt_;
  std::deque<std::string> order_;  // oldest first
  std::size_t lines_ = 0;          // in the file
};

}  // namespace sluice
