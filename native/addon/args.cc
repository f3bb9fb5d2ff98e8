/*
 * Errors and argument checks shared by every export of ssc_native (see args.h).
 */
#include "args.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

namespace ssc_addon {

void ThrowErrno(Napi::Env env, const char *syscall, int errsv, const std::string &detail) {
  std::string message = syscall;
  if (!detail.empty())
    message += "(" + detail + ")";
  message += ": ";
  message += strerror(errsv);
  Napi::Error error = Napi::Error::New(env, message);
  const char *name = strerrorname_np(errsv);
  error.Set("code", name != nullptr ? name : "EUNKNOWN");
  error.Set("errno", static_cast<double>(errsv));
  error.Set("syscall", syscall);
  error.ThrowAsJavaScriptException();
}

void ThrowType(Napi::Env env, const std::string &message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

/* A failed security check (the kernel reports ids other than the ones we set). */
void ThrowMismatch(Napi::Env env, const std::string &message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", "ERR_SSC_CREDENTIALS_MISMATCH");
  error.ThrowAsJavaScriptException();
}

bool CheckArgc(const Napi::CallbackInfo &info, size_t want, const char *usage) {
  if (info.Length() == want)
    return true;
  ThrowType(info.Env(), std::string("usage: ") + usage);
  return false;
}

/* An integer in [0, max]; false with a TypeError pending otherwise. */
bool GetInteger(Napi::Env env, Napi::Value value, const std::string &what, double max,
                double *out) {
  if (value.IsNumber()) {
    double v = value.As<Napi::Number>().DoubleValue();
    if (v >= 0 && v <= max && v == static_cast<double>(static_cast<int64_t>(v))) {
      *out = v;
      return true;
    }
  }
  ThrowType(env,
            what + " must be an integer from 0 to " + std::to_string(static_cast<int64_t>(max)));
  return false;
}

bool GetId(Napi::Env env, Napi::Value value, const std::string &what, uint32_t *out) {
  double v = 0;
  if (!GetInteger(env, value, what, kMaxId, &v))
    return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool GetFd(Napi::Env env, Napi::Value value, const std::string &what, int *out) {
  double v = 0;
  if (!GetInteger(env, value, what, INT_MAX, &v))
    return false;
  *out = static_cast<int>(v);
  return true;
}

/* A string (taken as UTF-8) or a Uint8Array/Buffer (taken as bytes), without NUL bytes:
 * arguments and environment entries may be any bytes, so callers can pass them exactly. */
bool GetBytes(Napi::Env env, Napi::Value value, const std::string &what, std::string *out) {
  if (value.IsString()) {
    *out = value.As<Napi::String>().Utf8Value();
  } else if (value.IsTypedArray() &&
             value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    Napi::Uint8Array bytes = value.As<Napi::Uint8Array>();
    out->assign(reinterpret_cast<const char *>(bytes.Data()), bytes.ByteLength());
  } else {
    ThrowType(env, what + " must be a string or a Uint8Array");
    return false;
  }
  if (out->find('\0') != std::string::npos) {
    ThrowType(env, what + " contains a NUL byte");
    return false;
  }
  return true;
}

bool GetBytesArray(Napi::Env env, Napi::Value value, const std::string &what,
                   std::vector<std::string> *out) {
  if (!value.IsArray()) {
    ThrowType(env, what + " must be an array");
    return false;
  }
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    std::string item;
    if (!GetBytes(env, array.Get(i), what + "[" + std::to_string(i) + "]", &item))
      return false;
    out->push_back(std::move(item));
  }
  return true;
}

} // namespace ssc_addon
