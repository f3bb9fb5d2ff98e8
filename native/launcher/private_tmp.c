/*
 * Terminal mode, strict profile: a private /tmp.
 *
 * A scope takes no PrivateTmp=, so strict's terminal mode gets its private /tmp here:
 * ssc-tab (the caller's own supervisor, native/tab/tab.c) execs this launcher as
 *     ssc-private-tmp PATH ARGV0 [ARGS...]
 * with the caller's environment as NUL-terminated entries in a memfd on fd ENV_FD (a setuid
 * exec would strip TMPDIR, LD_LIBRARY_PATH and others from a real environment). As root it
 * only unshares a mount namespace and mounts a fresh tmpfs on /tmp and /var/tmp; then it
 * drops to the caller for good, sets no_new_privs (so no setuid program can ever run in a
 * namespace the caller prepared), and only then reads the environment and execs PATH. It
 * runs only for a process already in an ssc scope, which only the broker creates.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

#define ENV_FD 3
#define MAX_ENVIRONMENT (64 << 20)

/* The cgroup v2 (or hybrid's unified) path of this process must be
 * "0::/ssc.slice/ssc-UID.slice/app-ssc-*.scope" with UID the real uid: a scope in the caller's own
 * slice of the system manager, which only root (the broker) can create; a user's own manager puts
 * its units under user.slice. */
static bool in_ssc_scope(void) {
  char prefix[64];
  int plen = snprintf(prefix, sizeof prefix, "/ssc.slice/ssc-%u.slice/", (unsigned)getuid());
  if (plen < 0 || (size_t)plen >= sizeof prefix)
    die("cannot name the caller's slice");
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
    return strncmp(path, prefix, (size_t)plen) == 0 && leaf == path + plen - 1 &&
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
  char *data = xmalloc(size + 1);
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
  char **envp = xcalloc(count + 1, sizeof(char *));
  for (size_t i = 0, k = 0; i < size && k < count; k++) {
    envp[k] = data + i;
    i += strlen(data + i) + 1;
  }
  if (close(fd) == -1)
    die_with_error("close environment");
  return envp;
}

void private_tmp_main(int argc, char **argv) {
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
  if (!privs_dropped())
    die("internal error: about to exec without dropping privileges");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
    die_with_error("prctl(PR_SET_NO_NEW_PRIVS)");
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
    die("no_new_privs is not set after PR_SET_NO_NEW_PRIVS");
  execve(argv[1], argv + 2, read_environment(ENV_FD));
  die_with_error("cannot run %s", argv[1]);
}
