/*
 * Errors and argument checks shared by every export of ssc_native.
 *
 * A failing system call throws an Error "<syscall>(<detail>): <strerror>" with .code (the
 * errno name), .errno and .syscall; a bad argument throws a TypeError. Each Get* returns false
 * with the exception pending, so an export returns at once.
 */
#ifndef SSC_ADDON_ARGS_H
#define SSC_ADDON_ARGS_H

#include <napi.h>

#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace ssc_addon {

/* The largest id we accept: (uid_t)-1 means "unchanged" to the set*id calls. */
constexpr double kMaxId = 4294967294.0;

void ThrowErrno(Napi::Env env, const char *syscall, int errsv, const std::string &detail = "");
void ThrowType(Napi::Env env, const std::string &message);
/* A failed security check (the kernel reports ids other than the ones we set). */
void ThrowMismatch(Napi::Env env, const std::string &message);

bool CheckArgc(const Napi::CallbackInfo &info, size_t want, const char *usage);
/* An integer in [0, max]. */
bool GetInteger(Napi::Env env, Napi::Value value, const std::string &what, double max, double *out);
bool GetId(Napi::Env env, Napi::Value value, const std::string &what, uint32_t *out);
bool GetFd(Napi::Env env, Napi::Value value, const std::string &what, int *out);
/* A string (taken as UTF-8) or a Uint8Array (taken as bytes), without NUL bytes. */
bool GetBytes(Napi::Env env, Napi::Value value, const std::string &what, std::string *out);
bool GetBytesArray(Napi::Env env, Napi::Value value, const std::string &what,
                   std::vector<std::string> *out);

/* peer.cc: the broker's side of the launcher's connection. */
void RegisterPeer(Napi::Env env, Napi::Object exports);

} // namespace ssc_addon

#endif
