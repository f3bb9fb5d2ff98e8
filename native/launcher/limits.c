/*
 * The caller's resource limits.
 *
 * Node cannot start under some of them, and any of them could make a root write or
 * allocation fail halfway: they are checked first, replaced by known values on the
 * privileged side, and given back to the front end exactly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/resource.h>

#include "launcher.h"

/* Node aborts at start-up with fewer descriptors than this. */
#define MIN_NOFILE 32
/* Node reserves several hundred MiB of address space at start-up: below this it dies with V8's
 * fatal-error dump instead of a line that says why. */
#define MIN_ADDRESS_SPACE (1024ULL << 20)

/* Too low for Node: one line that says why, before anything starts. */
void check_limits(const struct caller *c) {
  if (c->limits[RLIMIT_NOFILE].rlim_cur < MIN_NOFILE)
    die("the open-files limit (ulimit -n) is %llu; Node needs at least %d",
        (unsigned long long)c->limits[RLIMIT_NOFILE].rlim_cur, MIN_NOFILE);
  if (c->limits[RLIMIT_AS].rlim_cur != RLIM_INFINITY &&
      c->limits[RLIMIT_AS].rlim_cur < MIN_ADDRESS_SPACE)
    die("the address-space limit (ulimit -v) is %llu KiB; Node needs at least %llu KiB",
        (unsigned long long)c->limits[RLIMIT_AS].rlim_cur >> 10, MIN_ADDRESS_SPACE >> 10);
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
 * to every caller limit after dropping root (restore_limits). */
void set_privileged_limits(const struct caller *c) {
  rlim_t nofile_hard = c->limits[RLIMIT_NOFILE].rlim_max;
  set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", RLIM_INFINITY, RLIM_INFINITY, true);
  set_limit(RLIMIT_AS, "RLIMIT_AS", RLIM_INFINITY, RLIM_INFINITY, true);
  set_limit(RLIMIT_DATA, "RLIMIT_DATA", RLIM_INFINITY, RLIM_INFINITY, true);
  set_limit(RLIMIT_CPU, "RLIMIT_CPU", RLIM_INFINITY, RLIM_INFINITY, true);
  set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", 4096, nofile_hard > 4096 ? nofile_hard : 4096, false);
  set_limit(RLIMIT_STACK, "RLIMIT_STACK", 8u << 20, RLIM_INFINITY, false);
  set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, c->limits[RLIMIT_CORE].rlim_max, false);
}

/* The front end runs with the caller's limits. set_privileged_limits lowered no hard limit,
 * so going back needs no privilege and can happen after the drop. */
void restore_limits(const struct caller *c) {
  for (int r = 0; r < RLIM_NLIMITS; r++)
    if (setrlimit(r, &c->limits[r]) == -1)
      die_with_error("setrlimit(%d)", r);
}
