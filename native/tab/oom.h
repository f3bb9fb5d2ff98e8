/*
 * The scope's OOM kills, as ssc-tab reports them on the terminal: the program's own death
 * ("NAME was killed: out of memory") or another process of it ("a process of NAME was
 * killed for memory (N so far)"), the same lines a waiting ssc prints (src/cli/oom.ts).
 */
#ifndef SSC_TAB_OOM_H
#define SSC_TAB_OOM_H

#include <stdbool.h>
#include <sys/types.h>

struct oom_watch {
  char file[4200];  /* the scope's memory.events (v2) or memory.oom_control (v1); "" if none */
  int inotify_fd;   /* v2: the kernel signals each change; -1 when polled */
  long seen;        /* kills read so far */
  long others;      /* of them, processes other than the program */
  bool main_killed; /* one of them was the program itself */
  const char *name; /* the program as the caller typed it */
};

/* Finds this process's scope's OOM counter; with none (or no name: not in an ssc scope), the
 * watch stays empty and says nothing. */
void oom_watch_init(struct oom_watch *w, const char *name);
/* The poll(2) timeout to use: -1 (wait for the inotify fd) or the polling interval. */
int oom_watch_timeout_ms(const struct oom_watch *w);
/* Reads the count; each new kill is the program's when it died of SIGKILL or has one pending
 * (looked at without reaping it), else another process's, said at once. */
void oom_watch_check(struct oom_watch *w, pid_t program);
/* After the program ended: reads once more (the scope still holds this process, so its cgroup is
 * there) and says "NAME was killed: out of memory" when it died by SIGKILL for memory. */
void oom_watch_finish(struct oom_watch *w, int status);

#endif
