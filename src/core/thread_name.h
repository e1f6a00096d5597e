#pragma once
// Names the calling thread (at most 15 characters) so that top -H, perf and gdb show what each
// of the process's threads is.

#include <pthread.h>

namespace sluice {

inline void name_this_thread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

}  // namespace sluice
