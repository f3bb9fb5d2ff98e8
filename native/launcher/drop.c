/*
 * Becoming the caller for good.
 *
 * Every credential call is checked, then the kernel is asked what the ids are now, and
 * regaining root must fail. "Dropped" is explicit state that only drop_privs sets, after
 * all of that; it is never inferred from geteuid().
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

static bool dropped;

static int compare_gid(const void *a, const void *b) {
  gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
  return x < y ? -1 : x > y;
}

/* Read the ids back from the kernel and die unless they are exactly the ones asked for. */
void verify_ids(uid_t uid, gid_t gid, const gid_t *groups, int ngroups) {
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
  gid_t *have = xcalloc((size_t)n + 1, sizeof(gid_t));
  gid_t *want = xcalloc((size_t)ngroups + 1, sizeof(gid_t));
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

/* The front end parses the request and runs the terminal as the caller, for good: real,
 * effective and saved ids and the group list become the caller's, the kernel is asked what
 * they are now, and regaining root must fail. Then the caller's umask and limits come back.
 * Unprivileged, setgroups would fail and the groups already are the caller's. */
void drop_privs(const struct caller *c) {
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
  dropped = true;
  umask(c->umask);
  restore_limits(c);
}

/* True only after drop_privs verified the ids. */
bool privs_dropped(void) {
  return dropped;
}
