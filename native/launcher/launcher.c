/*
 * ssc-launcher: the setuid-root entry point of ssc, installed as PREFIX/bin/ssc.
 *
 * It does as little as possible as root, in named phases (see main). When privileged it
 * forks: the PARENT drops to the caller for good and execs the Node front end (keeping the
 * PID the shell waits for); the CHILD becomes fully root and execs the Node broker, the only
 * process that talks to systemd. The two share a socketpair on fd SSC_BROKER_FD. Everything
 * the caller controls (argv, environment, cwd) travels as data in a sealed memfd on fd
 * SSC_HANDOFF_FD, laid out as handoff.h says; both Node processes get a fixed environment.
 *
 * Running un-installed: when the launcher is NOT privileged (no setuid bit, a nosuid mount,
 * run from build/Release), the environment variable SSC_DEV_LIBDIR, if set, replaces the
 * compiled-in SSC_LIBDIR. It is never honoured when the effective uid is 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handoff.h"

#if !defined(SSC_LIBDIR) || !defined(SSC_NODE)
#error "SSC_LIBDIR and SSC_NODE must be defined at compile time"
#endif

#define EXIT_LAUNCHER 125
/* Node aborts at start-up with fewer descriptors than this. */
#define MIN_NOFILE 32
/* Node reserves several hundred MiB of address space at start-up: below this it dies with V8's
 * fatal-error dump instead of a line that says why. */
#define MIN_ADDRESS_SPACE (1024ULL << 20)
#define HEADER_FIXED_LEN 44

static char *const fixed_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};

/* What the caller brought, recorded once before anything is changed. */
struct caller {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  gid_t *groups;
  int ngroups;
  mode_t umask;
  pid_t pid; /* ours before the fork: the front end keeps it */
  char *cwd; /* NULL when getcwd() failed; cwd_errno says why */
  int cwd_errno;
  struct rlimit limits[RLIM_NLIMITS];
  bool privileged; /* effective uid 0 at start */
};

/* Files Node is started from; resolved and checked when privileged. */
struct paths {
  char node[PATH_MAX], front_end[PATH_MAX], broker[PATH_MAX], addon[PATH_MAX], usocket[PATH_MAX];
};

/* The compiled-in paths, readable in the binary: install.sh checks them to decide whether the
 * launcher must be rebuilt for the prefix it installs to. */
__attribute__((used)) static const char build_config[] =
    "ssc-launcher-config: libdir=" SSC_LIBDIR " node=" SSC_NODE ";";

/* Set only by drop_privs after it verified the ids; never inferred from geteuid(). */
static bool privs_dropped;

/* ---- diagnostics: one line "ssc: ..." on stderr, then exit 125 ---- */

__attribute__((noreturn, format(printf, 2, 0))) static void die_v(int errsv, const char *fmt,
                                                                  va_list ap) {
  char msg[768], line[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  int n = snprintf(line, sizeof line, "ssc: %s%s%s\n", msg, errsv != 0 ? ": " : "",
                   errsv != 0 ? strerror(errsv) : "");
  if (n < 0)
    _exit(EXIT_LAUNCHER);
  if ((size_t)n >= sizeof line) {
    n = sizeof line - 1;
    line[n - 1] = '\n';
  }
  /* One write so the line is not interleaved; nothing useful is left to do if it fails. */
  if (write(STDERR_FILENO, line, (size_t)n) < 0)
    _exit(EXIT_LAUNCHER);
  _exit(EXIT_LAUNCHER);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  die_v(0, fmt, ap);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die_with_error(const char *fmt, ...) {
  int errsv = errno; /* first: anything below may clobber it */
  va_list ap;
  va_start(ap, fmt);
  die_v(errsv, fmt, ap);
}

/* ---- small helpers ---- */

/* Put fd `from` on number `to`, open across exec (a dup2 copy has no FD_CLOEXEC). */
static void move_fd(int from, int to) {
  if (from == to) {
    if (fcntl(to, F_SETFD, 0) == -1)
      die_with_error("fcntl(%d, F_SETFD)", to);
    return;
  }
  if (dup2(from, to) == -1)
    die_with_error("dup2(%d, %d)", from, to);
  if (close(from) == -1)
    die_with_error("close(%d)", from);
}

static int compare_gid(const void *a, const void *b) {
  gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
  return x < y ? -1 : x > y;
}

/* Read the ids back from the kernel and die unless they are exactly the ones asked for. */
static void verify_ids(uid_t uid, gid_t gid, const gid_t *groups, int ngroups) {
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) == -1)
    die_with_error("getresuid");
  if (getresgid(&rg, &eg, &sg) == -1)
    die_with_error("getresgid");
  if (ru != uid || eu != uid || su != uid)
    die("uids are %u/%u/%u after changing to %u", ru, eu, su, uid);
  if (rg != gid || eg != gid || sg != gid)
    die("gids are %u/%u/%u after changing to %u", rg, eg, sg, gid);
  int n = getgroups(0, NULL);
  if (n == -1)
    die_with_error("getgroups");
  gid_t *have = calloc((size_t)n + 1, sizeof(gid_t));
  gid_t *want = calloc((size_t)ngroups + 1, sizeof(gid_t));
  if (have == NULL || want == NULL)
    die_with_error("calloc");
  n = getgroups(n, have);
  if (n == -1)
    die_with_error("getgroups");
  if (ngroups > 0)
    memcpy(want, groups, sizeof(gid_t) * (size_t)ngroups);
  qsort(want, (size_t)ngroups, sizeof(gid_t), compare_gid);
  qsort(have, (size_t)n, sizeof(gid_t), compare_gid);
  if (n != ngroups || memcmp(want, have, sizeof(gid_t) * (size_t)n) != 0)
    die("supplementary groups differ from the requested ones after changing them");
  free(have);
  free(want);
}

/* ---- phases, in the order main runs them ---- */

/* fds 0-2 must be open first: open() takes the lowest free number, so with fd 2 closed a
 * later diagnostic (ours or Node's) would be written into whatever file or socket got it.
 * (For a setuid exec glibc already put /dev/full or /dev/null there; not so otherwise.) */
static void ensure_std_fds(void) {
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
static void close_stray_fds(int first) {
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
static void set_nondumpable(void) {
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
static void record_caller(struct caller *c) {
  if (getresuid(&c->ruid, &c->euid, &c->suid) == -1)
    die_with_error("getresuid");
  if (getresgid(&c->rgid, &c->egid, &c->sgid) == -1)
    die_with_error("getresgid");
  int n = getgroups(0, NULL);
  if (n == -1)
    die_with_error("getgroups");
  c->groups = calloc((size_t)n + 1, sizeof(gid_t));
  if (c->groups == NULL)
    die_with_error("calloc");
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
static void reset_signals(void) {
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

/* Raising a hard limit needs CAP_SYS_RESOURCE, which root in a container may lack. A
 * `required` limit is then refused outright; the others settle for the caller's hard limit. */
static void set_limit(int resource, const char *name, rlim_t soft, rlim_t hard, bool required) {
  struct rlimit now, want = {.rlim_cur = soft, .rlim_max = hard};
  if (getrlimit(resource, &now) == -1)
    die_with_error("getrlimit(%s)", name);
  if (setrlimit(resource, &want) == 0)
    return;
  if (errno != EPERM || required)
    die_with_error("cannot lift the caller's %s for the privileged side", name);
  want.rlim_max = now.rlim_max;
  want.rlim_cur = soft < now.rlim_max ? soft : now.rlim_max;
  if (setrlimit(resource, &want) == -1)
    die_with_error("setrlimit(%s)", name);
}

/* A caller's limits must not make a root write or allocation fail halfway; the privileged
 * side gets known values. No hard limit is lowered here, so that the front end can return
 * to every caller limit after dropping root (restore_limits); the broker tightens its own. */
static void set_privileged_limits(const struct caller *c) {
  rlim_t nofile_hard = c->limits[RLIMIT_NOFILE].rlim_max;
  set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", RLIM_INFINITY, RLIM_INFINITY, true);
  set_limit(RLIMIT_AS, "RLIMIT_AS", RLIM_INFINITY, RLIM_INFINITY, true);
  set_limit(RLIMIT_DATA, "RLIMIT_DATA", RLIM_INFINITY, RLIM_INFINITY, true);
  set_limit(RLIMIT_CPU, "RLIMIT_CPU", RLIM_INFINITY, RLIM_INFINITY, true);
  set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", 4096, nofile_hard > 4096 ? nofile_hard : 4096, false);
  set_limit(RLIMIT_STACK, "RLIMIT_STACK", 8u << 20, RLIM_INFINITY, false);
  set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, c->limits[RLIMIT_CORE].rlim_max, false);
}

/* The broker never needs more descriptors than this, and a root core file would land in the
 * caller's cwd: these hard limits only go down. */
static void set_broker_limits(void) {
  set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", 4096, 4096, false);
  set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, 0, false);
}

/* One path component: root's, writable by nobody else, and of the expected kind. */
static void check_component(const char *path, bool final, bool executable) {
  struct stat st;
  if (lstat(path, &st) == -1)
    die_with_error("refusing to run: cannot stat %s", path);
  if (st.st_uid != 0)
    die("refusing to run: %s is owned by uid %u, not root", path, st.st_uid);
  if (st.st_mode & S_IWGRP)
    die("refusing to run: %s is group-writable", path);
  if (st.st_mode & S_IWOTH)
    die("refusing to run: %s is writable by others", path);
  if (!final && !S_ISDIR(st.st_mode))
    die("refusing to run: %s is not a directory", path);
  if (final && !S_ISREG(st.st_mode))
    die("refusing to run: %s is not a regular file", path);
  if (final && executable && !(st.st_mode & S_IXUSR))
    die("refusing to run: %s is not executable", path);
}

/* Resolve `path` into `resolved` (no symlink is followed after this), then check every
 * component from / down: root-owned directories closed to others cannot change under us. */
static void check_trusted(const char *path, bool executable, char resolved[PATH_MAX]) {
  if (realpath(path, resolved) == NULL)
    die_with_error("refusing to run: cannot resolve %s", path);
  char prefix[PATH_MAX];
  size_t len = strlen(resolved);
  check_component("/", len == 1, executable);
  for (size_t end = 1; end <= len; end++) {
    if (end < len && resolved[end] != '/')
      continue;
    memcpy(prefix, resolved, end);
    prefix[end] = '\0';
    check_component(prefix, end == len, executable);
  }
}

static void join_path(char out[PATH_MAX], const char *dir, const char *file) {
  int n = snprintf(out, PATH_MAX, "%s/%s", dir, file);
  if (n < 0 || n >= PATH_MAX)
    die("path too long: %s/%s", dir, file);
}

/* A file an entry (load.ts) reads beside itself, by fixed name: its bundle or V8's code cache for
 * it. `entry` is the resolved path that will be exec'd. */
static void check_beside(const char *entry, const char *file) {
  char dir[PATH_MAX], path[PATH_MAX], resolved[PATH_MAX];
  memcpy(dir, entry, PATH_MAX);
  char *slash = strrchr(dir, '/');
  if (slash == NULL)
    die("internal error: %s is not an absolute path", entry);
  *slash = '\0';
  join_path(path, dir, file);
  check_trusted(path, false, resolved);
}

/* Root execs Node with these files, so someone who can replace one of them (or a directory
 * above it) owns root. When privileged, only the compiled-in, root-owned installation counts
 * and the resolved paths are what gets exec'd. Unprivileged, nothing is gained by lying. */
static void check_installation(const struct caller *c, struct paths *p) {
  const char *libdir = SSC_LIBDIR;
  const char *dev = getenv("SSC_DEV_LIBDIR");
  if (!c->privileged && dev != NULL && dev[0] != '\0')
    libdir = dev;
  join_path(p->front_end, libdir, "ssc.js");
  join_path(p->broker, libdir, "broker.js");
  join_path(p->addon, libdir, "ssc_native.node");
  join_path(p->usocket, libdir, "uwrap.node");
  if (snprintf(p->node, PATH_MAX, "%s", SSC_NODE) >= PATH_MAX)
    die("path too long: %s", SSC_NODE);
  if (!c->privileged)
    return;
  check_trusted(SSC_NODE, true, p->node);
  char resolved[PATH_MAX];
  check_trusted(p->front_end, false, resolved);
  memcpy(p->front_end, resolved, PATH_MAX);
  check_trusted(p->broker, false, resolved);
  memcpy(p->broker, resolved, PATH_MAX);
  check_trusted(p->addon, false, resolved);
  check_trusted(p->usocket, false, resolved);
  check_beside(p->front_end, "ssc.bundle.js");
  check_beside(p->front_end, "ssc.cache");
  check_beside(p->broker, "broker.bundle.js");
  check_beside(p->broker, "broker.cache");
}

static void write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      die_with_error("write hand-off");
    if (n == 0)
      die("write hand-off: no progress");
    p += n;
    len -= (size_t)n;
  }
}

static void put_u32(unsigned char *at, uint32_t v) {
  v = htole32(v);
  memcpy(at, &v, sizeof v);
}

static void write_u32(int fd, uint32_t v) {
  unsigned char b[4];
  put_u32(b, v);
  write_all(fd, b, sizeof b);
}

static void write_blob(int fd, const char *s, size_t len) {
  if (len > UINT32_MAX)
    die("hand-off item too large");
  write_u32(fd, (uint32_t)len);
  write_all(fd, s, len);
}

static void write_strings(int fd, char *const *v) {
  uint32_t n = 0;
  while (v != NULL && v[n] != NULL)
    n++;
  write_u32(fd, n);
  for (uint32_t i = 0; i < n; i++)
    write_blob(fd, v[i], strlen(v[i]));
}

/* The caller's argv, environment and cwd reach Node as data, never as Node's own argv or
 * environment. A memfd because a pipe would deadlock past 64 KiB before anyone reads it;
 * sealed so neither side can change what the other reads. argv may be empty (argc 0). */
static int write_handoff(const struct caller *c, char **argv, char **envp) {
  int fd = memfd_create("ssc-handoff", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (fd == -1)
    die_with_error("memfd_create");
  size_t header_len = HEADER_FIXED_LEN + 4 * (size_t)c->ngroups;
  unsigned char *h = calloc(header_len, 1);
  if (h == NULL)
    die_with_error("calloc");
  rlim_t nofile = c->limits[RLIMIT_NOFILE].rlim_cur;
  memcpy(h, SSC_HANDOFF_MAGIC, 4);
  put_u32(h + 4, SSC_HANDOFF_VERSION);
  put_u32(h + 8, (uint32_t)header_len);
  put_u32(h + 12, c->privileged ? SSC_HANDOFF_F_PRIVILEGED : 0);
  put_u32(h + 16, c->ruid);
  put_u32(h + 20, c->rgid);
  put_u32(h + 24, c->umask);
  put_u32(h + 28, (uint32_t)c->cwd_errno);
  put_u32(h + 32, nofile >= UINT32_MAX ? UINT32_MAX : (uint32_t)nofile);
  put_u32(h + 36, (uint32_t)c->pid);
  put_u32(h + 40, (uint32_t)c->ngroups);
  for (int i = 0; i < c->ngroups; i++)
    put_u32(h + HEADER_FIXED_LEN + 4 * (size_t)i, c->groups[i]);
  write_all(fd, h, header_len);
  free(h);
  write_strings(fd, argv);
  write_strings(fd, envp);
  write_blob(fd, c->cwd ? c->cwd : "", c->cwd ? strlen(c->cwd) : 0);
  const int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  if (fcntl(fd, F_ADD_SEALS, seals) == -1)
    die_with_error("fcntl(F_ADD_SEALS)");
  int got = fcntl(fd, F_GET_SEALS);
  if (got == -1)
    die_with_error("fcntl(F_GET_SEALS)");
  if ((got & seals) != seals)
    die("hand-off seals are %#x, not %#x", got, seals);
  if (lseek(fd, 0, SEEK_SET) == -1)
    die_with_error("lseek hand-off");
  return fd;
}

/* Each Node process gets its own read-only open file description of the hand-off on fd 3:
 * after fork, front end and broker would otherwise share one file offset, and one reading
 * with read() would move where the other starts. */
static void install_handoff(int memfd) {
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", memfd);
  int fd = open(self, O_RDONLY | O_CLOEXEC);
  if (fd == -1 && errno != ENOENT)
    die_with_error("open %s", self);
  if (fd == -1) { /* no /proc: share the sealed memfd; readers must then use pread */
    move_fd(memfd, SSC_HANDOFF_FD);
    return;
  }
  move_fd(fd, SSC_HANDOFF_FD); /* closes memfd too if it sat on fd 3 */
  if (memfd != SSC_HANDOFF_FD && close(memfd) == -1)
    die_with_error("close(%d)", memfd);
}

/* The front end runs with the caller's limits. set_privileged_limits lowered no hard limit,
 * so going back needs no privilege and can happen after the drop. */
static void restore_limits(const struct caller *c) {
  for (int r = 0; r < RLIM_NLIMITS; r++)
    if (setrlimit(r, &c->limits[r]) == -1)
      die_with_error("setrlimit(%d)", r);
}

/* The front end parses the request and runs the terminal as the caller, for good: real,
 * effective and saved ids and the group list become the caller's, the kernel is asked what
 * they are now, and regaining root must fail. Then the caller's umask and limits come back.
 * Unprivileged, setgroups would fail and the groups already are the caller's. */
static void drop_privs(const struct caller *c) {
  if (c->privileged && setgroups((size_t)c->ngroups, c->groups) == -1)
    die_with_error("setgroups");
  if (setresgid(c->rgid, c->rgid, c->rgid) == -1)
    die_with_error("setresgid");
  if (setresuid(c->ruid, c->ruid, c->ruid) == -1)
    die_with_error("setresuid");
  verify_ids(c->ruid, c->rgid, c->groups, c->ngroups);
  if (c->ruid != 0 && setresuid((uid_t)-1, 0, (uid_t)-1) != -1)
    die("could regain uid 0 after dropping privileges");
  if (c->ruid != 0 && c->rgid != 0 && setresgid((gid_t)-1, 0, (gid_t)-1) != -1)
    die("could regain gid 0 after dropping privileges");
  privs_dropped = true;
  umask(c->umask);
  restore_limits(c);
}

/* D-Bus EXTERNAL authentication wants real == effective uid, and a root process that kept
 * the caller's real uid, gid or groups could be signalled or half-trusted: every id is 0. */
static void become_root(void) {
  if (setgroups(0, NULL) == -1)
    die_with_error("setgroups");
  if (setresgid(0, 0, 0) == -1)
    die_with_error("setresgid");
  if (setresuid(0, 0, 0) == -1)
    die_with_error("setresuid");
  verify_ids(0, 0, NULL, 0);
}

__attribute__((noreturn)) static void exec_node(const char *node, const char *name,
                                                const char *entry) {
  char *const argv[] = {(char *)name, (char *)entry, NULL};
  execve(node, argv, fixed_env);
  die_with_error("execve %s", node);
}

/* Grandchild: the broker keeps root and the caller's fds 0-2, which it hands to systemd as
 * the program's stdio for --wait (they are the caller's own; the broker never reads or writes
 * them), and nothing else of the caller's. */
__attribute__((noreturn)) static void run_broker(const struct paths *p, int memfd, int sock[2]) {
  /* Its own session: the terminal's Ctrl-C, Ctrl-Z and hangup are for the front end and the
   * program, never for a root process in the middle of its one request. */
  if (setsid() == -1)
    die_with_error("setsid");
  become_root();
  set_broker_limits();
  if (close(sock[0]) == -1)
    die_with_error("close(%d)", sock[0]);
  move_fd(sock[1], SSC_BROKER_FD);
  install_handoff(memfd);
  exec_node(p->node, "ssc-broker", p->broker);
}

/* The broker is forked twice so that it is not the front end's child: Node never reaps
 * children it did not spawn, and a finished broker would stay a zombie for the whole session. */
static void spawn_broker(const struct paths *p, int memfd, int sock[2]) {
  pid_t pid = fork();
  if (pid == -1)
    die_with_error("fork");
  if (pid == 0) {
    pid_t grandchild = fork();
    if (grandchild == -1)
      die_with_error("fork");
    if (grandchild == 0)
      run_broker(p, memfd, sock);
    _exit(0);
  }
  int status;
  if (waitpid(pid, &status, 0) == -1)
    die_with_error("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die("could not start the privileged helper");
}

/* Parent (or the only process when unprivileged): the front end runs as the caller. */
__attribute__((noreturn)) static void run_front_end(const struct caller *c, const struct paths *p,
                                                    int memfd, int sock[2]) {
  if (sock != NULL && close(sock[1]) == -1)
    die_with_error("close(%d)", sock[1]);
  if (sock != NULL)
    move_fd(sock[0], SSC_BROKER_FD);
  install_handoff(memfd);
  drop_privs(c);
  if (!privs_dropped)
    die("internal error: front end about to run without dropping privileges");
  exec_node(p->node, "ssc", p->front_end);
}

/* ---- terminal mode, strict profile: a private /tmp ----
 *
 * A scope takes no PrivateTmp=, so strict's terminal mode gets its private /tmp here:
 * ssc-tab (the caller's own supervisor, native/tab/tab.c) execs this launcher as
 *     ssc-private-tmp PATH ARGV0 [ARGS...]
 * with the caller's environment as NUL-terminated entries in a memfd on fd ENV_FD (a setuid
 * exec would strip TMPDIR, LD_LIBRARY_PATH and others from a real environment). As root it
 * only unshares a mount namespace and mounts a fresh tmpfs on /tmp and /var/tmp; then it
 * drops to the caller for good, sets no_new_privs (so no setuid program can ever run in a
 * namespace the caller prepared), and only then reads the environment and execs PATH. It
 * runs only for a process already in an ssc scope, which only the broker creates. */

#define PRIVATE_TMP_ARGV0 "ssc-private-tmp"
#define ENV_FD 3
#define MAX_ENVIRONMENT (64 << 20)

/* The cgroup v2 (or hybrid's unified) path of this process must be "0::/ssc.slice/app-ssc-*.scope":
 * a scope directly in the system manager's ssc.slice, which only root (the broker) can create; a
 * user's own manager puts its units under user.slice. */
static bool in_ssc_scope(void) {
  int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    die_with_error("open /proc/self/cgroup");
  char buf[8192];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n == -1)
    die_with_error("read /proc/self/cgroup");
  if (close(fd) == -1)
    die_with_error("close /proc/self/cgroup");
  buf[n] = '\0';
  for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    if (strncmp(line, "0::", 3) != 0)
      continue;
    const char *path = line + 3, *leaf = strrchr(path, '/');
    size_t len = leaf == NULL ? 0 : strlen(leaf);
    return strncmp(path, "/ssc.slice/", 11) == 0 && leaf == path + 10 &&
           strncmp(leaf, "/app-ssc-", 9) == 0 && len > 15 && strcmp(leaf + len - 6, ".scope") == 0;
  }
  return false;
}

/* A new mount namespace that still receives the host's mounts (slave), with its own /tmp and
 * /var/tmp: empty tmpfs, sticky, nosuid and nodev, as systemd's PrivateTmp= gives a service. */
static void make_private_tmp(void) {
  if (unshare(CLONE_NEWNS) == -1)
    die_with_error("unshare(CLONE_NEWNS)");
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == -1)
    die_with_error("mount --make-rslave /");
  static const char *const dirs[] = {"/tmp", "/var/tmp"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    struct stat st;
    if (lstat(dirs[i], &st) == -1) {
      if (errno == ENOENT)
        continue;
      die_with_error("lstat %s", dirs[i]);
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
      die("%s is not a root-owned directory", dirs[i]);
    if (mount("tmpfs", dirs[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == -1)
      die_with_error("mount tmpfs on %s", dirs[i]);
  }
}

/* As the caller, no longer root: the environment ssc-tab wrote, as an envp for execve. */
static char **read_environment(int fd) {
  struct stat st;
  if (fstat(fd, &st) == -1)
    die_with_error("fstat environment");
  if (st.st_size < 0 || st.st_size > MAX_ENVIRONMENT)
    die("environment too large");
  size_t size = (size_t)st.st_size;
  char *data = malloc(size + 1);
  if (data == NULL)
    die_with_error("malloc");
  for (size_t off = 0; off < size;) {
    ssize_t n = pread(fd, data + off, size - off, (off_t)off);
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0)
      die_with_error("read environment");
    off += (size_t)n;
  }
  data[size] = '\0';
  size_t count = 0;
  for (size_t i = 0; i < size; i++)
    count += data[i] == '\0';
  char **envp = calloc(count + 1, sizeof(char *));
  if (envp == NULL)
    die_with_error("calloc");
  for (size_t i = 0, k = 0; i < size && k < count; k++) {
    envp[k] = data + i;
    i += strlen(data + i) + 1;
  }
  if (close(fd) == -1)
    die_with_error("close environment");
  return envp;
}

__attribute__((noreturn)) static void private_tmp_main(int argc, char **argv) {
  static struct caller c;
  ensure_std_fds();
  close_stray_fds(ENV_FD + 1);
  set_nondumpable();
  record_caller(&c);
  reset_signals();
  if (!c.privileged)
    die("%s needs the installed setuid ssc", PRIVATE_TMP_ARGV0);
  if (argc < 3)
    die("usage: %s PATH ARGV0 [ARGS...] (run by ssc-tab, not by hand)", PRIVATE_TMP_ARGV0);
  if (!in_ssc_scope())
    die("a private /tmp is only made for a process in an ssc scope");
  make_private_tmp();
  drop_privs(&c);
  if (!privs_dropped)
    die("internal error: about to exec without dropping privileges");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
    die_with_error("prctl(PR_SET_NO_NEW_PRIVS)");
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
    die("no_new_privs is not set after PR_SET_NO_NEW_PRIVS");
  execve(argv[1], argv + 2, read_environment(ENV_FD));
  die_with_error("cannot run %s", argv[1]);
}

int main(int argc, char **argv, char **envp) {
  static struct caller c;
  static struct paths p;
  (void)argc; /* argv is walked to its NULL: argc may be 0 */
  if (argv[0] != NULL && strcmp(argv[0], PRIVATE_TMP_ARGV0) == 0)
    private_tmp_main(argc, argv);
  ensure_std_fds();
  close_stray_fds(3);
  set_nondumpable();
  record_caller(&c);
  if (c.limits[RLIMIT_NOFILE].rlim_cur < MIN_NOFILE)
    die("the open-files limit (ulimit -n) is %llu; Node needs at least %d",
        (unsigned long long)c.limits[RLIMIT_NOFILE].rlim_cur, MIN_NOFILE);
  if (c.limits[RLIMIT_AS].rlim_cur != RLIM_INFINITY &&
      c.limits[RLIMIT_AS].rlim_cur < MIN_ADDRESS_SPACE)
    die("the address-space limit (ulimit -v) is %llu KiB; Node needs at least %llu KiB",
        (unsigned long long)c.limits[RLIMIT_AS].rlim_cur >> 10, MIN_ADDRESS_SPACE >> 10);
  reset_signals();
  if (c.privileged)
    set_privileged_limits(&c);
  check_installation(&c, &p);
  int memfd = write_handoff(&c, argv, envp);
  if (!c.privileged)
    run_front_end(&c, &p, memfd, NULL);
  int sock[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) == -1)
    die_with_error("socketpair");
  spawn_broker(&p, memfd, sock);
  run_front_end(&c, &p, memfd, sock);
}
