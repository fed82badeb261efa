/*
 * format.h - printf formatting without floating point (format.c).
 */
#ifndef LGBOX_LIB_FORMAT_H
#define LGBOX_LIB_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * vsnprintf() for %s %c %d %u %x %% with the flags - and 0, width,
 * precision and the sizes l, ll and z; returns the length of the whole
 * output, of which size - 1 bytes and a NUL are stored.
 */
int lgbox_vformat(char *buf, size_t size, const char *fmt, va_list ap);

#endif /* LGBOX_LIB_FORMAT_H */
