#include "errors.h"

#include <libvirt/virterror.h>

namespace headroom_libvirt {

void Failure::CaptureLastError() {
  failed = true;
  virErrorPtr error = virGetLastError();
  if (error == nullptr) {
    code = VIR_ERR_INTERNAL_ERROR;
    domain = VIR_FROM_NONE;
    level = VIR_ERR_ERROR;
    message = "libvirt call failed without reporting an error";
    return;
  }
  code = error->code;
  domain = error->domain;
  level = error->level;
  message = error->message != nullptr ? error->message : "unknown libvirt error";
  virResetLastError();
}

void Failure::Set(int error_code, std::string error_message) {
  failed = true;
  code = error_code;
  domain = VIR_FROM_NONE;
  level = VIR_ERR_ERROR;
  message = std::move(error_message);
}

Napi::Error Failure::ToError(Napi::Env env) const {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::Number::New(env, code));
  error.Set("domain", Napi::Number::New(env, domain));
  error.Set("level", Napi::Number::New(env, level));
  error.Set("fromLibvirt", Napi::Boolean::New(env, true));
  return error;
}

static void IgnoreError(void* /*user_data*/, virErrorPtr /*error*/) {}

void SilenceDefaultErrorPrinting() { virSetErrorFunc(nullptr, IgnoreError); }

}  // namespace headroom_libvirt
