/*
 * The hand-off from the setuid launcher to Node: one sealed memfd.
 *
 * The launcher writes it, seals it (F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE)
 * and leaves it open at fd SSC_HANDOFF_FD in both processes it execs (the unprivileged
 * front end and, when privileged, the root broker). src/handoff.ts decodes it.
 *
 * Every integer is an unsigned 32-bit little-endian value unless noted.
 *
 *   Header (written by the launcher from what the kernel says, never from caller data)
 *     0   magic        "SSCH"
 *     4   version      SSC_HANDOFF_VERSION
 *     8   header_len   bytes from offset 0 to the first byte of caller data
 *    12   flags        SSC_HANDOFF_F_*
 *    16   ruid         the caller's real uid
 *    20   rgid         the caller's real gid
 *    24   umask        the caller's umask
 *    28   cwd_errno    0 when getcwd() succeeded, else its errno (cwd_len is then 0)
 *    32   nofile_soft  the caller's RLIMIT_NOFILE soft limit (0xffffffff = unlimited or larger)
 *    36   pid          the launcher's getpid() before it forks: the front end's PID (the parent
 *                      keeps it across exec), which the broker asks logind about (version 2)
 *    40   ngroups      number of supplementary groups that follow
 *    44   groups[ngroups]
 *
 *   Caller data (opaque bytes: the caller controls all of it)
 *         argc, then argc x (len, bytes)    argv[0] included, no terminating NULs
 *         envc, then envc x (len, bytes)    "NAME=value" exactly as execve gave them
 *         cwd_len, bytes                    getcwd() result
 */
#ifndef SSC_HANDOFF_H
#define SSC_HANDOFF_H

#define SSC_HANDOFF_MAGIC "SSCH"
#define SSC_HANDOFF_VERSION 2u
#define SSC_HANDOFF_FD 3
/* The connection to the broker (ssc-broker.socket), present only when privileged. */
#define SSC_BROKER_FD 4
/* Where systemd listens for the broker (systemd/ssc-broker.socket's ListenStream=). */
#define SSC_BROKER_SOCKET "/run/ssc-broker.sock"
/* The launcher's first message on it, sent with its descriptors (src/broker/launcher-peer.ts). */
#define SSC_BROKER_HELLO "SSC1"

/* The launcher was setuid root and forked a broker that holds fd SSC_BROKER_FD. */
#define SSC_HANDOFF_F_PRIVILEGED 0x1u

#endif
