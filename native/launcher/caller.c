/*
 * The caller's process state: recorded, then scrubbed.
 *
 * A setuid program starts with whatever the caller left it: closed or stray fds, blocked and
 * ignored signals, a dumpable process. What the front end must get back (ids, groups, umask,
 * cwd, limits) is recorded from the kernel before anything is changed; the rest is reset so
 * that neither root code nor Node runs in a state the caller chose.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher.h"

/* fds 0-2 must be open first: open() takes the lowest free number, so with fd 2 closed a
 * later diagnostic (ours or Node's) would be written into whatever file or socket got it.
 * (For a setuid exec glibc already put /dev/full or /dev/null there; not so otherwise.) */
void ensure_std_fds(void) {
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) != -1)
      continue;
    if (errno != EBADF)
      die_with_error("fcntl(%d, F_GETFD)", fd);
    int null = open("/dev/null", O_RDWR);
    if (null == -1)
      die_with_error("open /dev/null");
    if (null != fd)
      die("/dev/null opened as fd %d instead of %d", null, fd);
  }
}

/* Whatever the caller left open from `first` on must not reach a root process (or Node). */
void close_stray_fds(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)first, ~0U, 0U) == 0)
    return;
#else
  errno = ENOSYS;
#endif
  if (errno != ENOSYS)
    die_with_error("close_range");
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL)
    die_with_error("opendir /proc/self/fd");
  struct dirent *de;
  for (errno = 0; (de = readdir(dir)) != NULL; errno = 0) {
    char *end;
    long fd = strtol(de->d_name, &end, 10);
    if (*end != '\0' || end == de->d_name || fd < first || fd == dirfd(dir))
      continue;
    if (close((int)fd) == -1 && errno != EINTR)
      die_with_error("close(%ld)", fd);
  }
  if (errno != 0)
    die_with_error("readdir /proc/self/fd");
  if (closedir(dir) == -1)
    die_with_error("closedir");
}

/* A dumpable process with the caller's real uid could be ptraced by the caller while it
 * still holds root; the kernel's own reset after a setuid exec is not something to assume. */
void set_nondumpable(void) {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
    die_with_error("prctl(PR_SET_DUMPABLE)");
  int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (dumpable == -1)
    die_with_error("prctl(PR_GET_DUMPABLE)");
  if (dumpable != 0)
    die("process is still dumpable after PR_SET_DUMPABLE 0");
}

/* Take everything from the kernel before changing anything: the real ids are the caller's,
 * and the umask and rlimits must be given back to the front end exactly as they were. */
void record_caller(struct caller *c) {
  if (getresuid(&c->ruid, &c->euid, &c->suid) == -1)
    die_with_error("getresuid");
  if (getresgid(&c->rgid, &c->egid, &c->sgid) == -1)
    die_with_error("getresgid");
  int n = getgroups(0, NULL);
  if (n == -1)
    die_with_error("getgroups");
  c->groups = xcalloc((size_t)n + 1, sizeof(gid_t));
  c->ngroups = getgroups(n, c->groups);
  if (c->ngroups == -1)
    die_with_error("getgroups");
  c->umask = umask(022); /* also the privileged side's umask from here on */
  c->pid = getpid();
  c->cwd = getcwd(NULL, 0);
  c->cwd_errno = c->cwd == NULL ? errno : 0;
  for (int r = 0; r < RLIM_NLIMITS; r++)
    if (getrlimit(r, &c->limits[r]) == -1)
      die_with_error("getrlimit(%d)", r);
  c->privileged = c->euid == 0;
}

/* A caller's blocked or ignored signals survive exec; neither root code nor Node should run
 * with dispositions it did not choose. */
void reset_signals(void) {
  sigset_t empty;
  if (sigemptyset(&empty) == -1)
    die_with_error("sigemptyset");
  if (sigprocmask(SIG_SETMASK, &empty, NULL) == -1)
    die_with_error("sigprocmask");
  struct sigaction sa = {.sa_handler = SIG_DFL};
  if (sigemptyset(&sa.sa_mask) == -1)
    die_with_error("sigemptyset");
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP)
      continue;
    if (sigaction(sig, &sa, NULL) == -1 && errno != EINVAL) /* EINVAL: glibc-reserved */
      die_with_error("sigaction(%d)", sig);
  }
}
