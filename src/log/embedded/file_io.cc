#include "log/embedded/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sluice::log {

int FileIo::open(const std::string& path, int flags, mode_t mode) {
  return ::open(path.c_str(), flags, mode);
}
int FileIo::close(int fd) { return ::close(fd); }
ssize_t FileIo::pread(int fd, void* buffer, std::size_t size, off_t position) {
  return ::pread(fd, buffer, size, position);
}
ssize_t FileIo::pwritev(int fd, const iovec* iov, int count, off_t position) {
  return ::pwritev(fd, iov, count, position);
}
ssize_t FileIo::write(int fd, const void* buffer, std::size_t size) {
  return ::write(fd, buffer, size);
}
int FileIo::fdatasync(int fd) { return ::fdatasync(fd); }
int FileIo::fsync(int fd) { return ::fsync(fd); }
int FileIo::ftruncate(int fd, off_t size) { return ::ftruncate(fd, size); }
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

}  // namespace sluice::log
