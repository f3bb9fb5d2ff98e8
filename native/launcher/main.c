/*
 * ssc-launcher's main: the phases in the order they run (launcher.h lists the files).
 *
 * argv[0] "ssc-private-tmp" is terminal mode's second use of this binary (private_tmp.c);
 * everything else is a launch: scrub and record the caller, check the installation, write
 * the hand-off, connect to the broker service when privileged, and become the front end as the
 * caller.
 */
#define _GNU_SOURCE
#include <string.h>

#include "launcher.h"

/* The compiled-in paths, readable in the binary: install.sh checks them to decide whether the
 * launcher must be rebuilt for the prefix it installs to. */
__attribute__((used)) static const char build_config[] =
    "ssc-launcher-config: libdir=" SSC_LIBDIR " node=" SSC_NODE ";";

int main(int argc, char **argv, char **envp) {
  static struct caller c;
  static struct paths p;
  (void)argc; /* argv is walked to its NULL: argc may be 0 */
  if (argv[0] != NULL && strcmp(argv[0], PRIVATE_TMP_ARGV0) == 0)
    private_tmp_main(argc, argv);
  ensure_std_fds();
  close_stray_fds(3);
  set_nondumpable();
  record_caller(&c);
  check_limits(&c);
  reset_signals();
  if (c.privileged)
    set_privileged_limits(&c);
  check_installation(&c, &p);
  int memfd = write_handoff(&c, argv, envp);
  if (!c.privileged)
    run_front_end(&c, &p, memfd, -1);
  int broker_fd = connect_broker(memfd);
  run_front_end(&c, &p, memfd, broker_fd);
}
