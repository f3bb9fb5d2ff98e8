/*
 * The root broker: forked from the launcher, made fully root, exec'd.
 *
 * Only this file and main.c know how the broker comes to be; the front end only gets the
 * fd it talks to the broker on.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"

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
 * children it did not spawn, and a finished broker would stay a zombie for the whole session.
 * Returns the front end's end of the socketpair between the two. */
int spawn_broker(const struct paths *p, int memfd) {
  int sock[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) == -1)
    die_with_error("socketpair");
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
  if (close(sock[1]) == -1)
    die_with_error("close(%d)", sock[1]);
  return sock[0];
}
