/*
 * ssc-exec: the program's command, for a systemd that cannot keep it.
 *
 * NOT setuid: systemd runs it as the caller, as the unit's ExecStart=, on managers
 * older than 254. Those write an ExecStartEx= command back into the transient unit
 * file under a key their own parser does not know (the unit is `bad-setting` after a
 * reload), and write a plain ExecStart= argument's `$` and `;` as `\$` and `\;`, which
 * they read back as two characters: no form of an arbitrary argument survives
 * `daemon-reload` there. So the broker puts the program's path and argv into
 * ExecStart= as base64url words, an alphabet systemd neither escapes nor expands:
 *
 *     ssc-exec PATH ARGV0 [ARGS...]     (each word base64url, without padding)
 *
 * A long argument comes as several words, each after the first marked with a leading
 * `.`: base64 is a third longer, and the kernel takes no single argument of 128 KiB.
 *
 * It decodes them strictly and execs PATH in place with the environment systemd gave
 * it, so the program keeps the unit's main PID, stdio and exit status. When the exec
 * fails it says so in one line and exits like env(1): 127 not found, 126 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_FAILED 125
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127

static void die(int status, const char *what, const char *detail) {
  fprintf(stderr, "ssc: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(status);
}

static int b64value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/*
 * Decodes one base64url word (RFC 4648 section 5, no padding) into a new NUL-terminated
 * string; NULL for anything else, a NUL byte in the result included (execve could not
 * pass it).
 */
static char *decode(const char *in) {
  size_t n = strlen(in);
  if (n % 4 == 1)
    return NULL;
  char *out = malloc(n / 4 * 3 + 3);
  if (!out)
    die(EXIT_FAILED, "out of memory", NULL);
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64value((unsigned char)in[i]);
    if (v < 0)
      goto bad;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      char c = (char)((acc >> bits) & 0xff);
      if (c == '\0')
        goto bad;
      out[o++] = c;
    }
  }
  /* The bits left over must be zero: one encoding per string. */
  if (acc & ((1u << bits) - 1))
    goto bad;
  out[o] = '\0';
  return out;
bad:
  free(out);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3)
    die(EXIT_FAILED,
        "usage: ssc-exec PATH ARGV0 [ARGS...] (base64url words; systemd runs this for ssc)", NULL);
  char *path = decode(argv[1]);
  if (!path || path[0] != '/')
    die(EXIT_FAILED, "ssc-exec: the program's path is not a base64url absolute path", NULL);
  char **args = calloc((size_t)argc - 1, sizeof *args);
  if (!args)
    die(EXIT_FAILED, "out of memory", NULL);
  size_t n = 0;
  for (int i = 2; i < argc; i++) {
    int more = argv[i][0] == '.' && n > 0;
    char *part = decode(argv[i] + (more ? 1 : 0));
    if (!part)
      die(EXIT_FAILED, "ssc-exec: an argument is not base64url", NULL);
    if (!more) {
      args[n++] = part;
      continue;
    }
    /* The rest of the previous argument. */
    size_t a = strlen(args[n - 1]), b = strlen(part);
    char *joined = realloc(args[n - 1], a + b + 1);
    if (!joined)
      die(EXIT_FAILED, "out of memory", NULL);
    memcpy(joined + a, part, b + 1);
    args[n - 1] = joined;
    free(part);
  }
  args[n] = NULL;
  execv(path, args);
  int err = errno;
  char what[64 + 4096];
  snprintf(what, sizeof what, "cannot execute %s", path);
  die(err == ENOENT || err == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE, what, strerror(err));
}
