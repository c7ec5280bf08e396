// The JavaScript classes of the addon: Connection and Domain handles whose
// methods return Promises. The TypeScript side (src/) wraps them in the
// public, typed API.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <string>

#include "handles.h"

namespace headroom_libvirt {

// Per-environment data: the classes, so native code can create instances.
struct AddonData {
  Napi::FunctionReference connection_class;
  Napi::FunctionReference domain_class;
  // Set when Node starts tearing this environment down (process exit).
  std::shared_ptr<std::atomic<bool>> ending = std::make_shared<std::atomic<bool>>(false);
};

class ConnectionWrap : public Napi::ObjectWrap<ConnectionWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<ConnectionState> state);
  // open(uri, keepaliveIntervalSec, keepaliveCount, dispatcher) → Promise<Connection>
  static Napi::Value Open(const Napi::CallbackInfo& info);

  explicit ConnectionWrap(const Napi::CallbackInfo& info);
  ~ConnectionWrap() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsAlive(const Napi::CallbackInfo& info);
  Napi::Value GetCapabilities(const Napi::CallbackInfo& info);
  Napi::Value GetDomainCapabilities(const Napi::CallbackInfo& info);
  Napi::Value GetLibVersion(const Napi::CallbackInfo& info);
  Napi::Value GetVersion(const Napi::CallbackInfo& info);
  Napi::Value GetHostname(const Napi::CallbackInfo& info);
  Napi::Value GetNodeInfo(const Napi::CallbackInfo& info);
  Napi::Value DefineXml(const Napi::CallbackInfo& info);
  Napi::Value CreateXml(const Napi::CallbackInfo& info);
  Napi::Value CreateNetworkXml(const Napi::CallbackInfo& info);
  Napi::Value DestroyNetwork(const Napi::CallbackInfo& info);
  Napi::Value NetworkXml(const Napi::CallbackInfo& info);
  Napi::Value IsNetworkActive(const Napi::CallbackInfo& info);
  Napi::Value LookupByName(const Napi::CallbackInfo& info);
  Napi::Value LookupByUuid(const Napi::CallbackInfo& info);
  Napi::Value ListAllDomains(const Napi::CallbackInfo& info);
  Napi::Value RegisterDomainEvent(const Napi::CallbackInfo& info);
  Napi::Value DeregisterDomainEvent(const Napi::CallbackInfo& info);
  Napi::Value KeepProcessAlive(const Napi::CallbackInfo& info);

  std::shared_ptr<ConnectionState> state_;
  std::shared_ptr<std::atomic<bool>> environment_ending_;
};

class DomainWrap : public Napi::ObjectWrap<DomainWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<DomainState> state);

  explicit DomainWrap(const Napi::CallbackInfo& info);

  const std::shared_ptr<DomainState>& state() const { return state_; }

 private:
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value Uuid(const Napi::CallbackInfo& info);
  Napi::Value Create(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Reboot(const Napi::CallbackInfo& info);
  Napi::Value Suspend(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Undefine(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value GetInfo(const Napi::CallbackInfo& info);
  Napi::Value GetId(const Napi::CallbackInfo& info);
  Napi::Value GetXmlDesc(const Napi::CallbackInfo& info);
  Napi::Value LeasedAddresses(const Napi::CallbackInfo& info);
  Napi::Value AttachDevice(const Napi::CallbackInfo& info);
  Napi::Value DetachDevice(const Napi::CallbackInfo& info);
  Napi::Value DetachDeviceAlias(const Napi::CallbackInfo& info);
  Napi::Value UpdateDevice(const Napi::CallbackInfo& info);
  Napi::Value IsActive(const Napi::CallbackInfo& info);
  Napi::Value IsPersistent(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);

  std::shared_ptr<DomainState> state_;
};

// Argument helpers: they throw a TypeError naming the argument.
std::string StringArgument(const Napi::CallbackInfo& info, size_t index, const char* name);
// A string, or "" with `present` false for undefined or null.
std::string OptionalStringArgument(const Napi::CallbackInfo& info, size_t index, bool& present);
unsigned int FlagsArgument(const Napi::CallbackInfo& info, size_t index);
int IntArgument(const Napi::CallbackInfo& info, size_t index, const char* name);

// Takes a string libvirt allocated; null means the call failed.
std::string TakeString(char* text, Failure& failure);

}  // namespace headroom_libvirt
