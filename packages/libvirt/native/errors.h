// Failures of libvirt calls, captured on the thread that made the call and
// turned into JavaScript errors on the JavaScript thread.
#pragma once

#include <napi.h>

#include <string>

namespace headroom_libvirt {

struct Failure {
  bool failed = false;
  int code = 0;    // virErrorNumber
  int domain = 0;  // virErrorDomain
  int level = 0;   // virErrorLevel
  std::string message;

  // Copies libvirt's last error of the calling thread. libvirt keeps it in
  // thread-local storage, so this must run on the thread of the failed call.
  void CaptureLastError();
  // A failure of this binding's own (for example a closed connection), shaped
  // like a libvirt one so that callers handle a single kind of error.
  void Set(int code, std::string message);

  // An Error whose `code`, `domain` and `level` are libvirt's numbers; the
  // TypeScript side rewraps it as LibvirtError.
  Napi::Error ToError(Napi::Env env) const;
};

// Keeps libvirt from printing every error to stderr; errors reach JavaScript.
void SilenceDefaultErrorPrinting();

}  // namespace headroom_libvirt
