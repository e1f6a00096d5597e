#pragma once
// The ids of the events whose mail the SMTP server accepted, kept in a file so that a pipeline
// that delivers a batch again (after a retry, a restart or a crash) sends no mail twice.
//
// Two lines an event, appended: "s <id>" before the mail is sent, "d <id>" right after the
// server's 250. A crash of the process loses nothing written. An id with "s" and no "d" was
// being sent when the process stopped: the server may or may not have taken it (SMTP has no way
// to ask), so it is sent again (in_doubt) with the same Message-ID. The newest kMaxRemembered
// ids are kept; the file is rewritten with those when it holds twice as many lines.

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

#include "core/result.h"

namespace sluice::sinks {

class SentJournal {
 public:
  static constexpr std::size_t kMaxRemembered = 1'000'000;

  static Result<SentJournal> open(const std::string& path);
  SentJournal(SentJournal&& other) noexcept;
  SentJournal& operator=(SentJournal&&) = delete;
  SentJournal(const SentJournal&) = delete;
  ~SentJournal();

  bool contains(std::string_view id) const { return ids_.contains(std::string(id)); }
  // Was being sent when the process stopped last.
  bool in_doubt(std::string_view id) const { return in_doubt_.contains(std::string(id)); }
  // Before sending.
  Result<void> sending(std::string_view id);
  // Once the server took it.
  Result<void> add(std::string_view id);
  std::size_t size() const { return order_.size(); }

 private:
  SentJournal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Result<void> rewrite();

  std::string path_;
  int fd_ = -1;
  std::unordered_set<std::string> ids_;
  std::unordered_set<std::string> in_doubt_;
  std::deque<std::string> order_;  // oldest first
  std::size_t lines_ = 0;          // in the file
};

}  // namespace sluice::sinks
