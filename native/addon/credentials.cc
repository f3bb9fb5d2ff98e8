/*
 * ssc_native: the few process-credential and exec primitives Node does not offer.
 *
 * Sections (errors and argument checks are shared, in args.h; the socket side is peer.cc):
 *   2. credentials   getCredentials
 *   3. user database lookupUser, groupList
 *   4. fds and flags setCloexec, getSeals, setDumpable, setNoNewPrivs
 *   5. exec          execve
 *   6. module init
 *
 * The JS surface is typed once in src/native/native.d.ts; src/native/index.ts validates
 * arguments before calling in, and every export checks them again here. A failing system
 * call throws an Error "<syscall>: <strerror>" with .code (errno name, e.g. 'EPERM'),
 * .errno (the positive errno value) and .syscall.
 */
#include <napi.h>

#include "args.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using namespace ssc_addon;

/* ---- 2. credentials ---- */

struct Ids {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  std::vector<gid_t> groups; /* sorted */
};

/* Reads every id back from the kernel; false with an exception pending on failure. */
bool ReadIds(Napi::Env env, Ids *ids) {
  if (getresuid(&ids->ruid, &ids->euid, &ids->suid) == -1) {
    ThrowErrno(env, "getresuid", errno);
    return false;
  }
  if (getresgid(&ids->rgid, &ids->egid, &ids->sgid) == -1) {
    ThrowErrno(env, "getresgid", errno);
    return false;
  }
  int n = getgroups(0, nullptr);
  if (n == -1) {
    ThrowErrno(env, "getgroups", errno);
    return false;
  }
  ids->groups.resize(static_cast<size_t>(n));
  n = getgroups(n, ids->groups.data());
  if (n == -1) {
    ThrowErrno(env, "getgroups", errno);
    return false;
  }
  ids->groups.resize(static_cast<size_t>(n));
  std::sort(ids->groups.begin(), ids->groups.end());
  return true;
}

Napi::Array IdArray(Napi::Env env, const std::vector<gid_t> &ids) {
  Napi::Array array = Napi::Array::New(env, ids.size());
  for (size_t i = 0; i < ids.size(); i++)
    array.Set(static_cast<uint32_t>(i), static_cast<double>(ids[i]));
  return array;
}

/* { ruid, euid, suid, rgid, egid, sgid, groups, dumpable, noNewPrivs } as the kernel says. */
Napi::Value CredentialsObject(Napi::Env env) {
  Ids ids;
  if (!ReadIds(env, &ids))
    return env.Undefined();
  int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (dumpable == -1) {
    ThrowErrno(env, "prctl", errno, "PR_GET_DUMPABLE");
    return env.Undefined();
  }
  int no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (no_new_privs == -1) {
    ThrowErrno(env, "prctl", errno, "PR_GET_NO_NEW_PRIVS");
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("ruid", static_cast<double>(ids.ruid));
  out.Set("euid", static_cast<double>(ids.euid));
  out.Set("suid", static_cast<double>(ids.suid));
  out.Set("rgid", static_cast<double>(ids.rgid));
  out.Set("egid", static_cast<double>(ids.egid));
  out.Set("sgid", static_cast<double>(ids.sgid));
  out.Set("groups", IdArray(env, ids.groups));
  out.Set("dumpable", dumpable != 0);
  out.Set("noNewPrivs", no_new_privs != 0);
  return out;
}

Napi::Value GetCredentials(const Napi::CallbackInfo &info) {
  if (!CheckArgc(info, 0, "getCredentials()"))
    return info.Env().Undefined();
  return CredentialsObject(info.Env());
}

/* ---- 3. user database ---- */

Napi::Value LookupUser(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!CheckArgc(info, 1, "lookupUser(uid)"))
    return env.Undefined();
  uint32_t uid = 0;
  if (!GetId(env, info[0], "uid", &uid))
    return env.Undefined();

  long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 16384);
  struct passwd pw, *found = nullptr;
  int rc;
  while ((rc = getpwuid_r(uid, &pw, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (1u << 24))
    buf.resize(buf.size() * 2);
  if (rc == ENOENT || rc == ESRCH || (rc == 0 && found == nullptr))
    return env.Null();
  if (rc != 0) {
    ThrowErrno(env, "getpwuid_r", rc);
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", pw.pw_name);
  out.Set("uid", static_cast<double>(pw.pw_uid));
  out.Set("gid", static_cast<double>(pw.pw_gid));
  out.Set("home", pw.pw_dir);
  out.Set("shell", pw.pw_shell);
  return out;
}

Napi::Value GroupList(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!CheckArgc(info, 2, "groupList(name, gid)"))
    return env.Undefined();
  if (!info[0].IsString()) {
    ThrowType(env, "name must be a string");
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  uint32_t gid = 0;
  if (!GetId(env, info[1], "gid", &gid))
    return env.Undefined();
  if (name.empty() || name.find('\0') != std::string::npos) {
    ThrowType(env, "name must be a non-empty string without NUL bytes");
    return env.Undefined();
  }
  /* getgrouplist says how many it needs when the buffer is short; the database can grow
   * between calls, so retry a few times. It does not report errors through errno. */
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 8; attempt++) {
    int n = static_cast<int>(groups.size());
    if (getgrouplist(name.c_str(), gid, groups.data(), &n) != -1) {
      groups.resize(static_cast<size_t>(n));
      return IdArray(env, groups);
    }
    groups.resize(std::max(static_cast<size_t>(n), groups.size() * 2));
  }
  ThrowErrno(env, "getgrouplist", ERANGE, name);
  return env.Undefined();
}

/* ---- 4. fds and flags ---- */

Napi::Value SetCloexec(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!CheckArgc(info, 1, "setCloexec(fd)") || !GetFd(env, info[0], "fd", &fd))
    return env.Undefined();
  int flags = fcntl(fd, F_GETFD);
  if (flags == -1) {
    ThrowErrno(env, "fcntl", errno, "F_GETFD");
    return env.Undefined();
  }
  if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) {
    ThrowErrno(env, "fcntl", errno, "F_SETFD");
    return env.Undefined();
  }
  return env.Undefined();
}

Napi::Value GetSeals(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!CheckArgc(info, 1, "getSeals(fd)") || !GetFd(env, info[0], "fd", &fd))
    return env.Undefined();
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals == -1) {
    ThrowErrno(env, "fcntl", errno, "F_GET_SEALS");
    return env.Undefined();
  }
  return Napi::Number::New(env, seals);
}

Napi::Value SetDumpable(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!CheckArgc(info, 1, "setDumpable(dumpable)"))
    return env.Undefined();
  if (!info[0].IsBoolean()) {
    ThrowType(env, "dumpable must be a boolean");
    return env.Undefined();
  }
  int want = info[0].As<Napi::Boolean>().Value() ? 1 : 0;
  if (prctl(PR_SET_DUMPABLE, want, 0, 0, 0) == -1) {
    ThrowErrno(env, "prctl", errno, "PR_SET_DUMPABLE");
    return env.Undefined();
  }
  int now = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (now == -1) {
    ThrowErrno(env, "prctl", errno, "PR_GET_DUMPABLE");
    return env.Undefined();
  }
  if (now != want)
    ThrowMismatch(env, "setDumpable: PR_GET_DUMPABLE reports " + std::to_string(now));
  return env.Undefined();
}

Napi::Value SetNoNewPrivs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!CheckArgc(info, 0, "setNoNewPrivs()"))
    return env.Undefined();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
    ThrowErrno(env, "prctl", errno, "PR_SET_NO_NEW_PRIVS");
    return env.Undefined();
  }
  int now = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (now == -1) {
    ThrowErrno(env, "prctl", errno, "PR_GET_NO_NEW_PRIVS");
    return env.Undefined();
  }
  if (now != 1)
    ThrowMismatch(env, "setNoNewPrivs: PR_GET_NO_NEW_PRIVS reports " + std::to_string(now));
  return env.Undefined();
}

/* ---- 5. exec ---- */

/* What execve hands on that Node changed for itself: the calling thread's signal mask,
 * ignored signals (Node ignores SIGPIPE and SIGXFSZ), O_NONBLOCK on the standard fds (libuv
 * sets it on pipes and ttys, in the open file description the program inherits) and
 * FD_CLOEXEC on them (Node marks every inherited fd close-on-exec at start-up, so the program
 * would start with 0-2 closed). Saved so that a failed execve leaves Node as it was. */
struct ExecState {
  sigset_t mask;
  struct sigaction actions[NSIG];
  bool action_saved[NSIG] = {};
  int fl_flags[3] = {-1, -1, -1}; /* F_GETFL value to restore, or -1 */
  int fd_flags[3] = {-1, -1, -1}; /* F_GETFD value to restore, or -1 */
};

/* Returns 0, or an errno with the name of the failing call in *what. */
int ResetForExec(ExecState *saved, const char **what) {
  sigset_t empty;
  sigemptyset(&empty);
  int rc = pthread_sigmask(SIG_SETMASK, &empty, &saved->mask);
  if (rc != 0) {
    *what = "pthread_sigmask";
    return rc;
  }
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP)
      continue;
    if (sigaction(sig, &dfl, &saved->actions[sig]) == 0)
      saved->action_saved[sig] = true;
    else if (errno != EINVAL) { /* EINVAL: reserved by glibc */
      *what = "sigaction";
      return errno;
    }
  }
  for (int fd = 0; fd <= 2; fd++) {
    int fd_flags = fcntl(fd, F_GETFD);
    if (fd_flags == -1)
      continue; /* closed: the program gets it closed */
    if (fd_flags & FD_CLOEXEC) {
      if (fcntl(fd, F_SETFD, fd_flags & ~FD_CLOEXEC) == -1) {
        *what = "fcntl";
        return errno;
      }
      saved->fd_flags[fd] = fd_flags;
    }
    int fl_flags = fcntl(fd, F_GETFL);
    if (fl_flags == -1) {
      *what = "fcntl";
      return errno;
    }
    if (fl_flags & O_NONBLOCK) {
      if (fcntl(fd, F_SETFL, fl_flags & ~O_NONBLOCK) == -1) {
        *what = "fcntl";
        return errno;
      }
      saved->fl_flags[fd] = fl_flags;
    }
  }
  return 0;
}

void RestoreAfterExec(const ExecState &saved) {
  for (int fd = 0; fd <= 2; fd++) {
    if (saved.fl_flags[fd] != -1)
      (void)fcntl(fd, F_SETFL, saved.fl_flags[fd]);
    if (saved.fd_flags[fd] != -1)
      (void)fcntl(fd, F_SETFD, saved.fd_flags[fd]);
  }
  for (int sig = 1; sig < NSIG; sig++)
    if (saved.action_saved[sig])
      (void)sigaction(sig, &saved.actions[sig], nullptr);
  (void)pthread_sigmask(SIG_SETMASK, &saved.mask, nullptr);
}

Napi::Value Execve(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!CheckArgc(info, 3, "execve(path, argv, env)"))
    return env.Undefined();
  std::string path;
  std::vector<std::string> args, vars;
  if (!GetBytes(env, info[0], "path", &path) || !GetBytesArray(env, info[1], "argv", &args) ||
      !GetBytesArray(env, info[2], "env", &vars))
    return env.Undefined();
  if (path.empty()) {
    ThrowType(env, "path must not be empty");
    return env.Undefined();
  }
  std::vector<char *> argv, envp;
  for (std::string &s : args)
    argv.push_back(&s[0]);
  argv.push_back(nullptr);
  for (std::string &s : vars)
    envp.push_back(&s[0]);
  envp.push_back(nullptr);

  ExecState saved;
  const char *what = nullptr;
  int errsv = ResetForExec(&saved, &what);
  if (errsv == 0) {
    execve(path.c_str(), argv.data(), envp.data());
    errsv = errno;
    what = "execve";
  }
  RestoreAfterExec(saved);
  ThrowErrno(env, what, errsv, what == std::string("execve") ? path : std::string());
  return env.Undefined();
}

/* ---- 6. module init ---- */

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getCredentials", Napi::Function::New(env, GetCredentials, "getCredentials"));
  exports.Set("lookupUser", Napi::Function::New(env, LookupUser, "lookupUser"));
  exports.Set("groupList", Napi::Function::New(env, GroupList, "groupList"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("getSeals", Napi::Function::New(env, GetSeals, "getSeals"));
  exports.Set("setDumpable", Napi::Function::New(env, SetDumpable, "setDumpable"));
  exports.Set("setNoNewPrivs", Napi::Function::New(env, SetNoNewPrivs, "setNoNewPrivs"));
  exports.Set("execve", Napi::Function::New(env, Execve, "execve"));
  RegisterPeer(env, exports);
  return exports;
}

} // namespace

NODE_API_MODULE(ssc_native, Init)
