// Entry point of the native addon: the Connection and Domain classes and
// open(). See src/native.ts for the TypeScript view of these exports.
#include <napi.h>

#include "wrappers.h"

namespace headroom_libvirt {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  Napi::Function connection_class = ConnectionWrap::DefineClass(env);
  Napi::Function domain_class = DomainWrap::DefineClass(env);
  data->connection_class = Napi::Persistent(connection_class);
  data->domain_class = Napi::Persistent(domain_class);
  env.SetInstanceData(data);
  // Cleanup hooks run in reverse order of registration, so this one runs
  // before Node-API finalizes this addon's objects.
  auto* ending = new std::shared_ptr<std::atomic<bool>>(data->ending);
  napi_add_env_cleanup_hook(
      env,
      [](void* arg) {
        auto* flag = static_cast<std::shared_ptr<std::atomic<bool>>*>(arg);
        (*flag)->store(true);
        delete flag;
      },
      ending);

  exports.Set("open", Napi::Function::New(env, ConnectionWrap::Open, "open"));
  exports.Set("NativeConnection", connection_class);
  exports.Set("NativeDomain", domain_class);
  return exports;
}

NODE_API_MODULE(headroom_libvirt, Init)

}  // namespace headroom_libvirt
