#pragma once
// An exclusive lock on a directory (flock on <dir>/LOCK), held for the lifetime of the object:
// two processes writing one embedded log would interleave their frames and corrupt it. The
// file names the holder's pid for the error message. The kernel drops the lock when the
// process dies, so a crash never leaves a stale lock behind.

#include <string>

namespace sluice::log {

class DirectoryLock {
 public:
  // Creates `dir` if needed and locks it; throws std::runtime_error naming the holder if
  // another process (or another open log in this process) has it.
  explicit DirectoryLock(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace sluice::log
