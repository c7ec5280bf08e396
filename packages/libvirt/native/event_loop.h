// libvirt's default event loop, run on one thread for the whole process.
// Domain events, the close callback and keepalive all need it, and it must be
// registered before the first connection is opened.
#pragma once

namespace headroom_libvirt {

// Idempotent and thread-safe; returns false (with a reason) when libvirt
// refused to register its event implementation.
bool EnsureEventLoop(const char** reason);

}  // namespace headroom_libvirt
