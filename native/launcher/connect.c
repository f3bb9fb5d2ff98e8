/*
 * The way to the root broker: a connection to ssc-broker.socket, which systemd listens on and
 * starts the broker service for (systemd/ssc-broker.socket).
 *
 * The broker runs where systemd puts it, never in the caller's process tree or cgroup, so no
 * state of the caller's (nice value, limits, cgroup, keyring, cwd) reaches root's code. The
 * socket is root-only: this process connects while still root, and sends its one message with
 * descriptors now, while it is root and not dumpable, so the caller can neither read nor swap
 * what it carries. The front end inherits the connected socket and speaks ipc.ts's frames on it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "launcher.h"

/* A broker that does not take the connection (its backlog full) within this is an error. */
#define CONNECT_TIMEOUT_S 10

static int pidfd_of_self(void) {
  int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (fd == -1)
    die_with_error("pidfd_open");
  return fd;
}

/* The hello: SSC_BROKER_HELLO and, as SCM_RIGHTS, the sealed hand-off, a pidfd of this
 * process (the front end keeps its PID: the broker checks the caller's real ids against it,
 * and that it is alive before a scope takes the PID) and stdin, stdout and stderr (the
 * program's for --wait). */
static void send_hello(int sock, int memfd) {
  int fds[] = {memfd, pidfd_of_self(), STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
  char hello[] = SSC_BROKER_HELLO;
  struct iovec iov = {hello, sizeof hello - 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof fds)];
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t n;
  do
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n == -1 && errno == EINTR);
  if (n == -1)
    die_with_error("cannot send to the ssc broker");
  if ((size_t)n != iov.iov_len)
    die("cannot send to the ssc broker: short write");
  if (close(fds[1]) == -1)
    die_with_error("close(pidfd)");
}

int connect_broker(int memfd) {
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock == -1)
    die_with_error("socket(AF_UNIX)");
  struct timeval timeout = {.tv_sec = CONNECT_TIMEOUT_S};
  if (setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) == -1)
    die_with_error("setsockopt(SO_SNDTIMEO)");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  _Static_assert(sizeof SSC_BROKER_SOCKET <= sizeof addr.sun_path, "socket path too long");
  memcpy(addr.sun_path, SSC_BROKER_SOCKET, sizeof SSC_BROKER_SOCKET);
  int r;
  do
    r = connect(sock, (struct sockaddr *)&addr, sizeof addr);
  while (r == -1 && errno == EINTR);
  if (r == -1)
    die_with_error("cannot reach the ssc broker at %s (is ssc-broker.socket enabled? install.sh "
                   "sets it up)",
                   SSC_BROKER_SOCKET);
  send_hello(sock, memfd);
  /* The front end's Node sets its own (non-blocking) mode; no timeout carries over. */
  struct timeval none = {0};
  if (setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none) == -1)
    die_with_error("setsockopt(SO_SNDTIMEO)");
  return sock;
}
