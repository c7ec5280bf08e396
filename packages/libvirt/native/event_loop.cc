#include "event_loop.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <mutex>
#include <thread>

#include "errors.h"

namespace headroom_libvirt {

namespace {

std::once_flag started;
bool registered = false;

void RunForever() {
  // The thread is detached and never joined: it lives as long as the process,
  // and a thread blocked in poll() does not keep Node's event loop alive.
  for (;;) {
    if (virEventRunDefaultImpl() < 0) {
      virResetLastError();
    }
  }
}

}  // namespace

bool EnsureEventLoop(const char** reason) {
  std::call_once(started, [] {
    SilenceDefaultErrorPrinting();
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
      virResetLastError();
      return;
    }
    registered = true;
    std::thread(RunForever).detach();
  });
  if (!registered && reason != nullptr) {
    *reason = "libvirt could not register its default event loop";
  }
  return registered;
}

}  // namespace headroom_libvirt
