#pragma once
// The system calls the embedded log makes, behind an interface so tests can inject faults: a
// crash that loses everything not yet fsync'd, or failing writes (tests/unit/
// log_fault_injection_test.cc). Conventions are those of the POSIX calls: -1 and errno on error.
// Thread-safe as the system calls are.

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::log {

class FileIo {
 public:
  virtual ~FileIo() = default;

  virtual int open(const std::string& path, int flags, mode_t mode);
  virtual int close(int fd);
  virtual ssize_t pread(int fd, void* buffer, std::size_t size, off_t position);
  virtual ssize_t pwritev(int fd, const iovec* iov, int count, off_t position);
  virtual ssize_t write(int fd, const void* buffer, std::size_t size);
  virtual int fdatasync(int fd);
  virtual int fsync(int fd);
  virtual int ftruncate(int fd, off_t size);
  // The file's size in `size`; 0 or -1.
  virtual int file_size(int fd, std::uint64_t& size);

  // The real system calls.
  static FileIo& posix();
};

// Helpers over FileIo that retry short reads and writes and EINTR.
bool pread_all(FileIo& io, int fd, char* dst, std::size_t size, std::uint64_t position);
// Writes every byte of `iov` at `position`, advancing it; false on an error (errno set).
bool pwritev_all(FileIo& io, int fd, std::vector<iovec>& iov, std::uint64_t& position);
// Makes a directory's entries (new or removed files) durable. Throws on failure.
void fsync_dir(FileIo& io, const std::string& dir);
// Copies bytes [from, to) of `fd` into a new file at `path` and syncs it. Throws on failure.
void save_range(FileIo& io, int fd, std::uint64_t from, std::uint64_t to, const std::string& path);
// strerror(errno), thread-safe.
std::string errno_text();

}  // namespace sluice::log
