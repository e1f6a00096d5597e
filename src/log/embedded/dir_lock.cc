#include "log/embedded/dir_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <stdexcept>

namespace sluice::log {

DirectoryLock::DirectoryLock(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const std::string path = (std::filesystem::path(dir) / "LOCK").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(fmt::format("cannot open {}", path));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    std::array<char, 32> holder{};
    const auto n = ::pread(fd_, holder.data(), holder.size() - 1, 0);
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(
        fmt::format("the log in {} is in use by another sluice process (pid {}); one data "
                    "directory serves one process",
                    dir, n > 0 ? std::string(holder.data(), static_cast<std::size_t>(n)) : "?"));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] auto written = ::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace sluice::log
