#include "log/embedded/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <stdexcept>
#include <system_error>

namespace sluice::log {

int FileIo::open(const std::string& path, int flags, mode_t mode) {
  return ::open(path.c_str(), flags, mode);
}
int FileIo::close(int fd) {
  return ::close(fd);
}
ssize_t FileIo::pread(int fd, void* buffer, std::size_t size, off_t position) {
  return ::pread(fd, buffer, size, position);
}
ssize_t FileIo::pwritev(int fd, const iovec* iov, int count, off_t position) {
  return ::pwritev(fd, iov, count, position);
}
ssize_t FileIo::write(int fd, const void* buffer, std::size_t size) {
  return ::write(fd, buffer, size);
}
int FileIo::fdatasync(int fd) {
  return ::fdatasync(fd);
}
int FileIo::fsync(int fd) {
  return ::fsync(fd);
}
int FileIo::ftruncate(int fd, off_t size) {
  return ::ftruncate(fd, size);
}
int FileIo::file_size(int fd, std::uint64_t& size) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return -1;
  size = static_cast<std::uint64_t>(st.st_size);
  return 0;
}

FileIo& FileIo::posix() {
  static FileIo io;
  return io;
}

std::string errno_text() {
  return std::error_code(errno, std::generic_category()).message();
}

void fsync_dir(FileIo& io, const std::string& dir) {
  int fd = io.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("cannot open directory " + dir + ": " + errno_text());
  // Ignored, a failed sync would leave a new segment's entry maybe not durable while events
  // were acknowledged into it.
  if (io.fsync(fd) != 0) {
    const std::string error = errno_text();
    io.close(fd);
    throw std::runtime_error("cannot sync directory " + dir + ": " + error);
  }
  io.close(fd);
}

bool pread_all(FileIo& io, int fd, char* dst, std::size_t size, std::uint64_t position) {
  while (size > 0) {
    ssize_t n = io.pread(fd, dst, size, static_cast<off_t>(position));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    dst += n;
    size -= static_cast<std::size_t>(n);
    position += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Copies bytes [from, to) of `fd` into a new file at `path` and syncs it.
void save_range(FileIo& io, int fd, std::uint64_t from, std::uint64_t to, const std::string& path) {
  std::string bytes(to - from, '\0');
  if (!pread_all(io, fd, bytes.data(), bytes.size(), from)) {
    throw std::runtime_error("cannot read the tail of the log to save it: " + errno_text());
  }
  int out = io.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw std::runtime_error("cannot create " + path + ": " + errno_text());
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = io.write(out, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      io.close(out);
      throw std::runtime_error("cannot write " + path + ": " + errno_text());
    }
    done += static_cast<std::size_t>(n);
  }
  io.fsync(out);
  io.close(out);
}

// Writes every byte of `iov` at `position`, advancing it; false on an error.
bool pwritev_all(FileIo& io, int fd, std::vector<iovec>& iov, std::uint64_t& position) {
  std::size_t first = 0;
  while (first < iov.size()) {
    const int n_iov = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = io.pwritev(fd, iov.data() + first, n_iov, static_cast<off_t>(position));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    position += static_cast<std::uint64_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len)
      left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

}  // namespace sluice::log
