#pragma once
// The system calls the embedded log makes, behind an interface so tests can inject faults: a
// crash that loses everything not yet fsync'd, or failing writes (tests/unit/
// log_fault_injection_test.cc). Conventions are those of the POSIX calls: -1 and errno on error.
// Thread-safe as the system calls are.

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>

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

}  // namespace sluice::log
