// The owner tag and owner lock exports (owner_tag.cc).
#pragma once
#include <napi.h>

namespace shmkit {
// ownFd, getOwnerTag, removeOwnerTag, lockFd, unlockFd: see owner_tag.cc.
void InitOwnerTag(Napi::Env env, Napi::Object exports);
}  // namespace shmkit
