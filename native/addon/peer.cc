/*
 * The broker's side of a launcher's connection: who is at the other end, and the one message
 * that carries descriptors (the hand-off memfd, the launcher's pidfd, its stdio).
 *
 * Node's sockets neither report SO_PEERCRED nor receive SCM_RIGHTS. These calls never block:
 * the broker serves every user from one event loop, and a launcher the caller stopped must
 * not hold anyone else up.
 */
#include <napi.h>

#include "args.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace ssc_addon {
namespace {

/* More descriptors than the launcher ever sends (it sends 5): room to see, and close, extras. */
constexpr size_t kMaxFds = 16;
constexpr size_t kMaxData = 64;

Napi::Value PeerCredentials(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!CheckArgc(info, 1, "peerCredentials(fd)") || !GetFd(env, info[0], "fd", &fd))
    return env.Undefined();
  struct ucred cred = {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
    ThrowErrno(env, "getsockopt", errno, "SO_PEERCRED");
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", static_cast<double>(cred.pid));
  out.Set("uid", static_cast<double>(cred.uid));
  out.Set("gid", static_cast<double>(cred.gid));
  return out;
}

void *CloseThread(void *arg) {
  std::vector<int> *fds = static_cast<std::vector<int> *>(arg);
  for (int fd : *fds)
    close(fd);
  delete fds;
  return nullptr;
}

/* Close descriptors a caller sent on a thread of their own: the last close of a file on the
 * caller's own FUSE mount waits for their daemon's answer to FLUSH, uninterruptibly, and the
 * broker's one event loop serves every user. The thread is detached; a close that never
 * returns holds only that thread. */
bool CloseInBackground(const std::vector<int> &fds) {
  if (fds.empty())
    return true;
  std::vector<int> *copy = new std::vector<int>(fds);
  pthread_attr_t attr;
  pthread_t thread;
  bool ok = pthread_attr_init(&attr) == 0 &&
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
            pthread_attr_setstacksize(&attr, 64 * 1024) == 0 &&
            pthread_create(&thread, &attr, CloseThread, copy) == 0;
  pthread_attr_destroy(&attr);
  if (!ok)
    delete copy;
  return ok;
}

void CloseAll(const std::vector<int> &fds) {
  if (!CloseInBackground(fds))
    for (int fd : fds)
      close(fd);
}

/* One recvmsg of up to kMaxData bytes and kMaxFds descriptors (close-on-exec), without
 * waiting: null when nothing has arrived yet, { data, fds } otherwise (empty data: the peer
 * closed). Descriptors that came with truncated control data are closed and it throws. */
Napi::Value ReceiveWithFds(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!CheckArgc(info, 1, "receiveWithFds(fd)") || !GetFd(env, info[0], "fd", &fd))
    return env.Undefined();
  char data[kMaxData];
  alignas(struct cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))];
  struct iovec iov = {data, sizeof data};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do
    n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n == -1 && errno == EINTR);
  if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return env.Null();
  if (n == -1) {
    ThrowErrno(env, "recvmsg", errno);
    return env.Undefined();
  }
  std::vector<int> fds;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int received;
      memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.push_back(received);
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    CloseAll(fds);
    ThrowErrno(env, "recvmsg", EMSGSIZE, "control data truncated");
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<char>::Copy(env, data, static_cast<size_t>(n)));
  Napi::Array list = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++)
    list.Set(static_cast<uint32_t>(i), static_cast<double>(fds[i]));
  out.Set("fds", list);
  return out;
}

/* Whether the process behind a pidfd has exited (the pidfd polls readable then): while it
 * has not, its PID names that process and no other. */
Napi::Value PidfdExited(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!CheckArgc(info, 1, "pidfdExited(pidfd)") || !GetFd(env, info[0], "pidfd", &fd))
    return env.Undefined();
  struct pollfd p = {fd, POLLIN, 0};
  int n;
  do
    n = poll(&p, 1, 0);
  while (n == -1 && errno == EINTR);
  if (n == -1) {
    ThrowErrno(env, "poll", errno, "pidfd");
    return env.Undefined();
  }
  if ((p.revents & POLLNVAL) != 0) {
    ThrowErrno(env, "poll", EBADF, "pidfd");
    return env.Undefined();
  }
  return Napi::Boolean::New(env, (p.revents & (POLLIN | POLLHUP)) != 0);
}

/* closeInBackground(fds): close them on a detached thread (see CloseInBackground). */
Napi::Value CloseInBackgroundExport(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!CheckArgc(info, 1, "closeInBackground(fds)"))
    return env.Undefined();
  if (!info[0].IsArray()) {
    ThrowType(env, "fds must be an array of descriptors");
    return env.Undefined();
  }
  Napi::Array array = info[0].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < array.Length(); i++) {
    int fd = -1;
    if (!GetFd(env, array.Get(i), "fds[" + std::to_string(i) + "]", &fd))
      return env.Undefined();
    fds.push_back(fd);
  }
  if (!CloseInBackground(fds)) {
    ThrowErrno(env, "pthread_create", EAGAIN);
    return env.Undefined();
  }
  return env.Undefined();
}

} // namespace

void RegisterPeer(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("receiveWithFds", Napi::Function::New(env, ReceiveWithFds, "receiveWithFds"));
  exports.Set("pidfdExited", Napi::Function::New(env, PidfdExited, "pidfdExited"));
  exports.Set("closeInBackground",
              Napi::Function::New(env, CloseInBackgroundExport, "closeInBackground"));
}

} // namespace ssc_addon
