/*
 * die.h's family: one line "ssc: ..." on stderr, then _exit (no atexit handler or stdio
 * buffer of a half-done process runs).
 */
#define _GNU_SOURCE
#include "die.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noreturn, format(printf, 3, 0))) static void die_v(int status, int errsv,
                                                                  const char *fmt, va_list ap) {
  char msg[768], line[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  int n = snprintf(line, sizeof line, "ssc: %s%s%s\n", msg, errsv != 0 ? ": " : "",
                   errsv != 0 ? strerror(errsv) : "");
  if (n < 0)
    _exit(status);
  if ((size_t)n >= sizeof line) {
    n = sizeof line - 1;
    line[n - 1] = '\n';
  }
  /* One write so the line is not interleaved; nothing useful is left to do if it fails. */
  if (write(STDERR_FILENO, line, (size_t)n) < 0)
    _exit(status);
  _exit(status);
}

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  die_v(DIE_STATUS, 0, fmt, ap);
}

void die_with_error(const char *fmt, ...) {
  int errsv = errno; /* first: anything below may clobber it */
  va_list ap;
  va_start(ap, fmt);
  die_v(DIE_STATUS, errsv, fmt, ap);
}

void die_with_error_status(int status, const char *fmt, ...) {
  int errsv = errno; /* first, as above */
  va_list ap;
  va_start(ap, fmt);
  die_v(status, errsv, fmt, ap);
}

void *xcalloc(size_t count, size_t size) {
  void *p = calloc(count, size);
  if (p == NULL)
    die_with_error("calloc");
  return p;
}

void *xmalloc(size_t size) {
  void *p = malloc(size);
  if (p == NULL)
    die_with_error("malloc");
  return p;
}
