/*
 * The installation root execs: node, each entry, and what each entry loads beside itself.
 *
 * Root execs Node with these files, so someone who can replace one of them (or a directory
 * above it) owns root. When privileged, only the compiled-in, root-owned installation counts:
 * every file and every directory above it must be root's and writable by nobody else, and
 * the resolved paths are what gets exec'd. Unprivileged, nothing is gained by lying, and
 * SSC_DEV_LIBDIR may name another library directory.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "launcher.h"

/* One file of the installation. Node is exec'd with an entry, the loader (src/entry/load.ts);
 * the loader and the bundle it runs read the files listed after the entry beside the path the
 * entry resolved to, by fixed name. */
struct trusted_file {
  const char *name;  /* an absolute path, or a name in the library directory or beside an entry */
  bool executable;   /* must have its owner's execute bit */
  bool beside_entry; /* beside the last file above it with an exec_path; else where `name` says */
  char *exec_path;   /* node and each entry: where the path to exec goes (resolved when checked) */
};

/* One path component: root's, writable by nobody else, and of the expected kind. */
static void check_component(const char *path, bool final, bool executable) {
  struct stat st;
  if (lstat(path, &st) == -1)
    die_with_error("refusing to run: cannot stat %s", path);
  if (st.st_uid != 0)
    die("refusing to run: %s is owned by uid %u, not root", path, st.st_uid);
  if (st.st_mode & S_IWGRP)
    die("refusing to run: %s is group-writable", path);
  if (st.st_mode & S_IWOTH)
    die("refusing to run: %s is writable by others", path);
  if (!final && !S_ISDIR(st.st_mode))
    die("refusing to run: %s is not a directory", path);
  if (final && !S_ISREG(st.st_mode))
    die("refusing to run: %s is not a regular file", path);
  if (final && executable && !(st.st_mode & S_IXUSR))
    die("refusing to run: %s is not executable", path);
}

/* Resolve `path` into `resolved` (no symlink is followed after this), then check every
 * component from / down: root-owned directories closed to others cannot change under us. */
static void check_trusted(const char *path, bool executable, char resolved[PATH_MAX]) {
  if (realpath(path, resolved) == NULL)
    die_with_error("refusing to run: cannot resolve %s", path);
  char prefix[PATH_MAX];
  size_t len = strlen(resolved);
  check_component("/", len == 1, executable);
  for (size_t end = 1; end <= len; end++) {
    if (end < len && resolved[end] != '/')
      continue;
    memcpy(prefix, resolved, end);
    prefix[end] = '\0';
    check_component(prefix, end == len, executable);
  }
}

static void join_path(char out[PATH_MAX], const char *dir, const char *file) {
  int n = snprintf(out, PATH_MAX, "%s/%s", dir, file);
  if (n < 0 || n >= PATH_MAX)
    die("path too long: %s/%s", dir, file);
}

/* A file an entry reads beside itself, by fixed name. `entry` is the resolved path that will
 * be exec'd. */
static void check_beside(const char *entry, const char *file) {
  char dir[PATH_MAX], path[PATH_MAX], resolved[PATH_MAX];
  memcpy(dir, entry, PATH_MAX);
  char *slash = strrchr(dir, '/');
  if (slash == NULL)
    die("internal error: %s is not an absolute path", entry);
  *slash = '\0';
  join_path(path, dir, file);
  check_trusted(path, false, resolved);
}

/* Fills `p` with what Node is started with; when privileged, after every file root execs
 * Node with has been checked, and with the resolved paths. */
void check_installation(const struct caller *c, struct paths *p) {
  const char *libdir = SSC_LIBDIR;
  const char *dev = getenv("SSC_DEV_LIBDIR");
  if (!c->privileged && dev != NULL && dev[0] != '\0')
    libdir = dev;
  /* Each entry's bundle, V8's code cache for it (code too: trusted exactly like the bundle),
   * our addon and usocket's. */
  const struct trusted_file installation[] = {
      {SSC_NODE, true, false, p->node},       {"ssc.js", false, false, p->front_end},
      {"ssc.bundle.js", false, true, NULL},   {"ssc.cache", false, true, NULL},
      {"ssc_native.node", false, true, NULL}, {"uwrap.node", false, true, NULL},
      {"broker.js", false, false, p->broker}, {"broker.bundle.js", false, true, NULL},
      {"broker.cache", false, true, NULL},    {"ssc_native.node", false, true, NULL},
      {"uwrap.node", false, true, NULL},
  };
  const char *entry = NULL;
  for (size_t i = 0; i < sizeof installation / sizeof installation[0]; i++) {
    const struct trusted_file *f = &installation[i];
    char path[PATH_MAX], resolved[PATH_MAX];
    if (f->beside_entry) {
      if (entry == NULL)
        die("internal error: %s is listed before any entry", f->name);
      if (c->privileged)
        check_beside(entry, f->name);
      continue;
    }
    if (f->name[0] == '/') {
      if (snprintf(path, PATH_MAX, "%s", f->name) >= PATH_MAX)
        die("path too long: %s", f->name);
    } else {
      join_path(path, libdir, f->name);
    }
    if (c->privileged)
      check_trusted(path, f->executable, resolved);
    else
      memcpy(resolved, path, PATH_MAX);
    if (f->exec_path != NULL) {
      memcpy(f->exec_path, resolved, PATH_MAX);
      entry = f->exec_path;
    }
  }
}
