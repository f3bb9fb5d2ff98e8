/*
 * ssc-launcher: the setuid-root entry point of ssc, installed as PREFIX/bin/ssc.
 *
 * It does as little as possible as root, in named phases, one file each; main.c runs them in
 * order. When privileged it connects, still root, to the root broker service that systemd runs
 * (ssc-broker.socket), the only process that talks to systemd, and sends it the hand-off; then
 * it drops to the caller for good and execs the Node front end (keeping the PID the shell waits
 * for), which inherits the connection on fd SSC_BROKER_FD. Everything the caller controls
 * (argv, environment, cwd) travels as data in a sealed memfd on fd SSC_HANDOFF_FD, laid out as
 * handoff.h says; the front end gets a fixed environment.
 *
 *   caller.c       record what the caller brought, then scrub fds, signals, dumpability
 *   limits.c       the caller's resource limits: checked, replaced as root, given back
 *   trust.c        the installation root execs: root-owned and closed to others
 *   handoff.c      the sealed memfd with the caller's data, and fds put on fixed numbers
 *   drop.c         becoming the caller for good, read back from the kernel
 *   connect.c      the connection to the root broker service, and the hello sent on it
 *   front_end.c    the front end exec'd as the caller; exec of Node with a fixed environment
 *   private_tmp.c  terminal mode's private /tmp (argv[0] "ssc-private-tmp")
 *
 * Running un-installed: when the launcher is NOT privileged (no setuid bit, a nosuid mount,
 * run from build/Release), the environment variable SSC_DEV_LIBDIR, if set, replaces the
 * compiled-in SSC_LIBDIR. It is never honoured when the effective uid is 0.
 *
 * This header is internal to the launcher: the structs and the phases main.c wires together.
 */
#ifndef SSC_LAUNCHER_H
#define SSC_LAUNCHER_H

#include <limits.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "../common/die.h"
#include "handoff.h"

#if !defined(SSC_LIBDIR) || !defined(SSC_NODE)
#error "SSC_LIBDIR and SSC_NODE must be defined at compile time"
#endif

#define PRIVATE_TMP_ARGV0 "ssc-private-tmp"

/* What the caller brought, recorded once before anything is changed. */
struct caller {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  gid_t *groups;
  int ngroups;
  mode_t umask;
  pid_t pid; /* ours before the fork: the front end keeps it */
  char *cwd; /* NULL when getcwd() failed; cwd_errno says why */
  int cwd_errno;
  struct rlimit limits[RLIM_NLIMITS];
  bool privileged; /* effective uid 0 at start */
};

/* What Node is started with: when privileged, the resolved paths check_installation trusted. */
struct paths {
  char node[PATH_MAX], front_end[PATH_MAX], broker[PATH_MAX];
};

/* caller.c */
void ensure_std_fds(void);
void close_stray_fds(int first);
void set_nondumpable(void);
void record_caller(struct caller *c);
void reset_signals(void);

/* limits.c */
void check_limits(const struct caller *c);
void set_privileged_limits(const struct caller *c);
void restore_limits(const struct caller *c);

/* trust.c */
void check_installation(const struct caller *c, struct paths *p);

/* handoff.c */
int write_handoff(const struct caller *c, char **argv, char **envp);
void install_handoff(int memfd);
void move_fd(int from, int to);

/* drop.c */
void verify_ids(uid_t uid, gid_t gid, const gid_t *groups, int ngroups);
void drop_privs(const struct caller *c);
bool privs_dropped(void);

/* connect.c */
int connect_broker(int memfd);

/* front_end.c */
__attribute__((noreturn)) void exec_node(const char *node, const char *name, const char *entry);
__attribute__((noreturn)) void run_front_end(const struct caller *c, const struct paths *p,
                                             int memfd, int broker_fd);

/* private_tmp.c */
__attribute__((noreturn)) void private_tmp_main(int argc, char **argv);

#endif
