/*
 * Exec'ing Node, and the front end as the caller.
 *
 * Node gets a fixed environment and argv: nothing of the caller's reaches it except
 * through the hand-off. The front end (the parent, or the only process when unprivileged)
 * runs as the caller, after drop_privs.
 */
#define _GNU_SOURCE
#include <unistd.h>

#include "launcher.h"

static char *const fixed_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};

void exec_node(const char *node, const char *name, const char *entry) {
  char *const argv[] = {(char *)name, (char *)entry, NULL};
  execve(node, argv, fixed_env);
  die_with_error("execve %s", node);
}

/* Parent (or the only process when unprivileged): the front end runs as the caller, with the
 * broker's socket on fd SSC_BROKER_FD when there is one (broker_fd -1 otherwise). */
void run_front_end(const struct caller *c, const struct paths *p, int memfd, int broker_fd) {
  if (broker_fd != -1)
    move_fd(broker_fd, SSC_BROKER_FD);
  install_handoff(memfd);
  drop_privs(c);
  if (!privs_dropped())
    die("internal error: front end about to run without dropping privileges");
  exec_node(p->node, "ssc", p->front_end);
}
