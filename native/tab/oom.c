/*
 * The scope's OOM kills (see oom.h). Units run with OOMPolicy=continue where the manager takes
 * it, so a kill takes one process, and systemd says nothing of it on the tab: ssc-tab does.
 */
#define _GNU_SOURCE
#include "oom.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* v1 has no change events for memory.oom_control: read it this often. */
#define OOM_POLL_MS 250

/* The cgroup path of this process in the hierarchy whose /proc/self/cgroup line starts with
 * prefix ("0::" for v2, or a v1 line "N:memory:"). */
static bool cgroup_path(const char *controller, char *path, size_t size) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (f == NULL)
    return false;
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    char *first = strchr(line, ':');
    char *second = first == NULL ? NULL : strchr(first + 1, ':');
    if (second == NULL)
      continue;
    *second = '\0';
    bool match = controller == NULL ? first[1] == '\0' : strcmp(first + 1, controller) == 0;
    if (match && (size_t)snprintf(path, size, "%s", second + 1) < size)
      found = true;
  }
  fclose(f);
  return found;
}

static long read_count(const char *file) {
  FILE *f = fopen(file, "re");
  if (f == NULL)
    return -1;
  char line[256];
  long n = -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "oom_kill %ld", &n) == 1)
      break;
  fclose(f);
  return n;
}

void oom_watch_init(struct oom_watch *w, const char *name) {
  memset(w, 0, sizeof *w);
  w->inotify_fd = -1;
  w->name = name;
  if (name == NULL)
    return;
  char path[4096];
  /* cgroup v2: the scope's memory.events, whose every change the kernel signals. */
  if (cgroup_path(NULL, path, sizeof path) &&
      (size_t)snprintf(w->file, sizeof w->file, "/sys/fs/cgroup%s/memory.events", path) <
          sizeof w->file &&
      read_count(w->file) >= 0) {
    w->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (w->inotify_fd >= 0 && inotify_add_watch(w->inotify_fd, w->file, IN_MODIFY) < 0) {
      close(w->inotify_fd);
      w->inotify_fd = -1;
    }
  } else if (cgroup_path("memory", path, sizeof path) &&
             (size_t)snprintf(w->file, sizeof w->file, "/sys/fs/cgroup/memory%s/memory.oom_control",
                              path) < sizeof w->file &&
             read_count(w->file) >= 0) {
    /* cgroup v1: polled. */
  } else {
    w->file[0] = '\0';
  }
  if (w->file[0] != '\0')
    w->seen = read_count(w->file);
}

int oom_watch_timeout_ms(const struct oom_watch *w) {
  return w->file[0] == '\0' || w->inotify_fd >= 0 ? -1 : OOM_POLL_MS;
}

/* SIGKILL pending for a running process. */
static bool sigkill_pending(pid_t pid) {
  char file[64], line[256];
  snprintf(file, sizeof file, "/proc/%d/status", (int)pid);
  FILE *f = fopen(file, "re");
  if (f == NULL)
    return false;
  bool pending = false;
  uint64_t mask;
  while (!pending && fgets(line, sizeof line, f) != NULL)
    if ((sscanf(line, "SigPnd: %" SCNx64, &mask) == 1 ||
         sscanf(line, "ShdPnd: %" SCNx64, &mask) == 1) &&
        (mask & (UINT64_C(1) << (SIGKILL - 1))) != 0)
      pending = true;
  fclose(f);
  return pending;
}

/* The exit status in /proc/PID/stat (field 52): do_exit sets it before the process gives its
 * memory back, so a victim still exiting shows it; 0 while it runs. */
static int exit_status(pid_t pid) {
  char file[64], buf[2048];
  snprintf(file, sizeof file, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(file, "re");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold ") " */
  if (p == NULL)
    return 0;
  int field = 2, status = 0;
  for (; *p != '\0'; p++)
    if (*p == ' ' && ++field == 52) {
      status = atoi(p + 1);
      break;
    }
  return status;
}

/* Was the program (this process's child, not reaped yet) killed by the kill just counted? Its
 * end is looked at without reaping it (WNOWAIT); running, by its exit status or a pending
 * SIGKILL. */
static bool program_dying_of_sigkill(pid_t program) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_PID, (id_t)program, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == program)
    return si.si_code == CLD_KILLED && si.si_status == SIGKILL;
  return (exit_status(program) & 0x7f) == SIGKILL || sigkill_pending(program);
}

/* The kernel counts an OOM kill just before it sends the SIGKILL (mm/oom_kill.c): a program that
 * shows no sign of it yet is looked at once more, a moment later. */
static bool program_killed(pid_t program) {
  if (program_dying_of_sigkill(program))
    return true;
  struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
  while (nanosleep(&pause, &pause) == -1 && errno == EINTR) {
  }
  return program_dying_of_sigkill(program);
}

static void say_other(struct oom_watch *w) {
  w->others++;
  fprintf(stderr, "ssc: a process of %s was killed for memory (%ld so far)\n", w->name, w->others);
}

static void drain(int fd) {
  char buf[4096];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

void oom_watch_check(struct oom_watch *w, pid_t program) {
  if (w->file[0] == '\0')
    return;
  if (w->inotify_fd >= 0)
    drain(w->inotify_fd);
  long n = read_count(w->file);
  if (n < 0 || w->seen >= n)
    return;
  /* One look (and at most one second look) for all the kills read at once: a burst of kills of
   * other processes holds this loop 100 ms, not 100 ms each. */
  bool killed = !w->main_killed && program_killed(program);
  for (; w->seen < n; w->seen++) {
    if (killed && !w->main_killed)
      w->main_killed = true;
    else
      say_other(w);
  }
}

void oom_watch_finish(struct oom_watch *w, int status) {
  if (w->file[0] == '\0')
    return;
  /* The program is reaped: a kill not read yet was its own only if it died by SIGKILL. */
  bool sigkill = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  long n = read_count(w->file);
  for (; n >= 0 && w->seen < n; w->seen++) {
    if (sigkill && !w->main_killed)
      w->main_killed = true;
    else
      say_other(w);
  }
  if (sigkill && w->main_killed)
    fprintf(stderr, "ssc: %s was killed: out of memory\n", w->name);
}
