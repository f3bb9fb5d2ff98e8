/*
 * The hand-off: the caller's argv, environment and cwd, for Node, as data.
 *
 * Written into a sealed memfd in handoff.h's layout, headed by what the kernel says about
 * the caller (never by caller data), and put on fd SSC_HANDOFF_FD in each Node process.
 * Also how the launcher puts any fd on a fixed number for Node.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "launcher.h"

#define HEADER_FIXED_LEN 44

/* Put fd `from` on number `to`, open across exec (a dup2 copy has no FD_CLOEXEC). */
void move_fd(int from, int to) {
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
int write_handoff(const struct caller *c, char **argv, char **envp) {
  int fd = memfd_create("ssc-handoff", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (fd == -1)
    die_with_error("memfd_create");
  size_t header_len = HEADER_FIXED_LEN + 4 * (size_t)c->ngroups;
  unsigned char *h = xcalloc(header_len, 1);
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

/* The front end gets its own read-only open file description of the hand-off on fd 3: the
 * broker holds the memfd sent in the hello, and one reading with read() would otherwise move
 * where the other starts. */
void install_handoff(int memfd) {
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
