/*
 * ssc-tab: what a terminal's ssc becomes once its scope exists (terminal mode).
 *
 * NOT setuid: the front end, already the caller with privileges dropped for good and
 * (strict) no_new_privs set, execs it in place as
 *
 *     ssc-tab [--private-tmp LAUNCHER] PATH ARGV0 [ARGS...]
 *
 * inside the transient scope systemd just created for this very process. It forks; the
 * child execs PATH with the caller's environment, on the terminal the tab gave ssc (the
 * controlling terminal stays the same, so job control, the window size and every byte
 * are the terminal's own: nothing is copied). The parent stays only to keep the unit the
 * boundary: when the program ends, or the tab hangs up, it ends everything else left in
 * the scope (also what was started with nohup), restores the terminal modes it found,
 * and exits with the program's status (128+N for death by signal N), as env does.
 *
 * With --private-tmp (strict: a scope takes no PrivateTmp=), the child execs the setuid
 * LAUNCHER as "ssc-private-tmp PATH ARGV0 [ARGS...]" instead, which gives it an empty /tmp
 * and /var/tmp, drops back to the caller, sets no_new_privs and execs PATH; the environment
 * travels to it as data in a memfd on fd 3, since a setuid exec strips parts of a real one.
 *
 * It kills only inside a cgroup whose name is an ssc scope (app-ssc-*.scope), so run by
 * hand outside one it never touches anything else. Meanwhile it says on the terminal when the
 * kernel kills a process of the scope for memory (oom.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../common/die.h"
#include "oom.h"

#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127
/* How long the rest of the scope gets between SIGTERM and SIGKILL. */
#define GRACE_MS 200
#define POLL_MS 10

/* Terminal-generated signals: the program's business, never the supervisor's. */
static const int ignored_signals[] = {SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};
/* Signals passed on to the program (hangup: the tab was closed). */
static const int forwarded_signals[] = {SIGHUP, SIGTERM};

/* Forwarded signals caught and not passed on yet, one bit each (SIGHUP and SIGTERM may both come).
 */
static volatile sig_atomic_t pending_signals;

/* ---- the scope: this process's cgroup, if it is an ssc scope ---- */

/* Fills dir with the cgroup directory listing this process's scope, or returns false. Reads
 * /proc/self/cgroup: "0::/path" (cgroup v2, or v1's unified hierarchy when hybrid). */
static bool find_scope_dir(char *dir, size_t size) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (f == NULL)
    return false;
  char line[4096], path[4096] = "";
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "0::", 3) != 0)
      continue;
    line[strcspn(line, "\n")] = '\0';
    snprintf(path, sizeof path, "%s", line + 3);
  }
  fclose(f);
  const char *leaf = strrchr(path, '/');
  size_t n = leaf == NULL ? 0 : strlen(leaf);
  if (leaf == NULL || strncmp(leaf, "/app-ssc-", 9) != 0 || n < 7 ||
      strcmp(leaf + n - 6, ".scope") != 0)
    return false;
  static const char *const mounts[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
  for (size_t i = 0; i < sizeof mounts / sizeof mounts[0]; i++) {
    int len = snprintf(dir, size, "%s%s/cgroup.procs", mounts[i], path);
    if (len > 0 && (size_t)len < size && access(dir, R_OK) == 0) {
      dir[len - strlen("/cgroup.procs")] = '\0';
      return true;
    }
  }
  return false;
}

/* Sends sig to every process in the scope but this one; returns how many there were. */
static int signal_others(const char *dir, int sig) {
  char file[4200];
  snprintf(file, sizeof file, "%s/cgroup.procs", dir);
  FILE *f = fopen(file, "re");
  if (f == NULL)
    return 0;
  int others = 0;
  long pid;
  while (fscanf(f, "%ld", &pid) == 1) {
    if ((pid_t)pid == getpid())
      continue;
    others++;
    (void)kill((pid_t)pid, sig);
    if (sig == SIGTERM)
      (void)kill((pid_t)pid, SIGCONT);
  }
  fclose(f);
  return others;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* The unit is the boundary: nothing outlives the program in it. SIGTERM first, SIGKILL for
 * what is left after GRACE_MS. Processes of other users (sudo in relaxed) cannot be killed
 * by the caller; the scope then ends when they do. */
static void end_scope(void) {
  char dir[4096];
  if (!find_scope_dir(dir, sizeof dir))
    return;
  int sig = SIGTERM;
  for (long waited = 0; waited < 4 * GRACE_MS; waited += POLL_MS) {
    if (waited >= GRACE_MS)
      sig = SIGKILL;
    if (signal_others(dir, sig) == 0)
      return;
    sleep_ms(POLL_MS);
  }
}

/* ---- signals ---- */

static void on_forwarded(int sig) {
  pending_signals |= 1 << sig;
}

/* Only interrupts the wait below: the loop reaps. */
static void on_child(int sig) {
  (void)sig;
}

/* The supervisor ignores the terminal's signals and catches hangup and termination, to pass
 * them on; the child puts every one back to default before exec (an ignored signal stays
 * ignored across exec). */
static void set_signals(bool child) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof ignored_signals / sizeof ignored_signals[0]; i++) {
    sa.sa_handler = child ? SIG_DFL : SIG_IGN;
    if (sigaction(ignored_signals[i], &sa, NULL) != 0)
      die_with_error("sigaction");
  }
  for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++) {
    sa.sa_handler = child ? SIG_DFL : on_forwarded;
    if (sigaction(forwarded_signals[i], &sa, NULL) != 0)
      die_with_error("sigaction");
  }
  sa.sa_handler = child ? SIG_DFL : on_child;
  if (sigaction(SIGCHLD, &sa, NULL) != 0)
    die_with_error("sigaction");
}

/* The supervisor's signals are blocked but while it waits in ppoll (with *waiting as the mask),
 * so that none is lost between a check and the wait; the child gets the mask ssc-tab had. */
static void block_signals(sigset_t *old, sigset_t *waiting) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
    sigaddset(&set, forwarded_signals[i]);
  if (sigprocmask(SIG_BLOCK, &set, old) != 0)
    die_with_error("sigprocmask");
  *waiting = *old;
  sigdelset(waiting, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
    sigdelset(waiting, forwarded_signals[i]);
}

/* ---- strict: the private /tmp comes from the launcher ---- */

extern char **environ;

/* The child's environment as NUL-terminated entries in a memfd on fd 3 (not close-on-exec). */
static void environment_to_fd3(void) {
  int fd = memfd_create("ssc-environment", 0);
  if (fd < 0)
    die_with_error("memfd_create");
  for (char **e = environ; *e != NULL; e++) {
    size_t len = strlen(*e) + 1;
    for (size_t off = 0; off < len;) {
      ssize_t n = write(fd, *e + off, len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        die_with_error("write environment");
      off += (size_t)n;
    }
  }
  if (fd != 3 && dup2(fd, 3) != 3)
    die_with_error("dup2");
  if (fd != 3 && close(fd) != 0)
    die_with_error("close");
}

__attribute__((noreturn)) static void exec_with_private_tmp(const char *launcher, char **program) {
  size_t n = 0;
  while (program[n] != NULL)
    n++;
  char **argv = xcalloc(n + 2, sizeof(char *));
  argv[0] = "ssc-private-tmp";
  memcpy(argv + 1, program, n * sizeof(char *));
  environment_to_fd3();
  char *no_env[] = {NULL};
  execve(launcher, argv, no_env);
  die_with_error("cannot run %s", launcher);
}

/* ---- main ---- */

int main(int argc, char **argv) {
  const char *launcher = NULL;
  if (argc > 2 && strcmp(argv[1], "--private-tmp") == 0) {
    launcher = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc < 3)
    die("usage: ssc-tab [--private-tmp LAUNCHER] PATH ARGV0 [ARGS...] (started by ssc, not by "
        "hand)");
  struct termios modes;
  bool have_modes = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &modes) == 0;

  struct oom_watch oom;
  char scope[4096];
  oom_watch_init(&oom, find_scope_dir(scope, sizeof scope) ? argv[2] : NULL);
  sigset_t unblocked, waiting;
  block_signals(&unblocked, &waiting);
  set_signals(false);
  pid_t child = fork();
  if (child < 0)
    die_with_error("fork");
  if (child == 0) {
    set_signals(true);
    if (sigprocmask(SIG_SETMASK, &unblocked, NULL) != 0)
      die_with_error("sigprocmask");
    if (launcher != NULL)
      exec_with_private_tmp(launcher, argv + 1);
    execv(argv[1], argv + 2);
    die_with_error_status(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE, "cannot run %s",
                          argv[1]);
  }

  int status = 0;
  for (;;) {
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++) {
      int sig = forwarded_signals[i];
      if ((pending_signals & (1 << sig)) != 0) {
        pending_signals &= ~(1 << sig);
        (void)kill(child, sig);
      }
    }
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child)
      break;
    if (r < 0 && errno != EINTR)
      die_with_error("waitpid");
    oom_watch_check(&oom, child);
    struct pollfd fd = {.fd = oom.inotify_fd, .events = POLLIN};
    int timeout = oom_watch_timeout_ms(&oom);
    struct timespec ts = {timeout / 1000, (timeout % 1000) * 1000000L};
    if (ppoll(&fd, oom.inotify_fd >= 0 ? 1 : 0, timeout < 0 ? NULL : &ts, &waiting) < 0 &&
        errno != EINTR)
      die_with_error("ppoll");
  }
  oom_watch_finish(&oom, status);
  end_scope();
  if (have_modes)
    (void)tcsetattr(STDIN_FILENO, TCSANOW, &modes);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
