/*
 * Dying: one line "ssc: ..." on stderr, then exit. Shared by the setuid launcher and ssc-tab.
 *
 * A privileged program that hits something it did not expect stops there, before anything
 * else runs: no error is returned to a caller that could forget to check it. One die family,
 * so every message has one form, and the _with_error variants save errno before anything
 * else can clobber it. The x* allocators die instead of returning NULL.
 */
#ifndef SSC_DIE_H
#define SSC_DIE_H

#include <stddef.h>

/* What ssc itself exits with when it cannot go on, as env(1) does. */
#define DIE_STATUS 125

__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
/* The message, then ": " and errno's text when errno is not 0. */
__attribute__((noreturn, format(printf, 1, 2))) void die_with_error(const char *fmt, ...);
/* As die_with_error, with another exit status (126 and 127 after a failed exec). */
__attribute__((noreturn, format(printf, 2, 3))) void die_with_error_status(int status,
                                                                           const char *fmt, ...);

void *xcalloc(size_t count, size_t size);
void *xmalloc(size_t size);

#endif
