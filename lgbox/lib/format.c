/*
 * format.c - printf formatting without floating point.  lgbox prints only
 * strings and integers, yet musl's vfprintf, which every printf-family
 * function ends in, carries floating point formatting and long double
 * helpers: 9 KB of the static binary.  lgbox_vformat() does what lgbox
 * uses: the conversions s c d u x and %%, the flags - and 0, a width and a
 * precision (digits or *), and the sizes l, ll and z.  Anything else is
 * copied out as written, so a stray "%f" shows instead of crashing.
 *
 * In the static musl build this file's vfprintf() replaces musl's, so
 * printf, fprintf, snprintf and the rest all format here; glibc's printf
 * functions do not go through vfprintf, so with glibc (the host build of
 * the unit tests) lgbox_vformat() is tested on its own.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

struct out {
	char *buf;
	size_t size, len;	/* len counts what did not fit too */
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, unsigned int width,
		       bool left, char fill)
{
	size_t i;

	for (i = n; !left && i < width; i++)
		put(o, fill);
	for (i = 0; i < n; i++)
		put(o, s[i]);
	for (i = n; left && i < width; i++)
		put(o, ' ');
}

/* value in base 10 or 16, with a '-' when negative is set. */
static void put_number(struct out *o, unsigned long long value, unsigned int base,
		       bool negative, unsigned int width, bool left, bool zero)
{
	char digits[24];
	size_t n = sizeof(digits);

	do
		digits[--n] = "0123456789abcdef"[value % base];
	while (value /= base);
	if (negative && zero && !left) {
		put(o, '-');
		width = width ? width - 1 : 0;
	} else if (negative) {
		digits[--n] = '-';
	}
	put_padded(o, digits + n, sizeof(digits) - n, width, left, zero && !left ? '0' : ' ');
}

/* Digits or '*' at *fmt; -1 when there are none. */
static int read_count(const char **fmt, va_list *ap)
{
	int n = -1;

	if (**fmt == '*') {
		(*fmt)++;
		return va_arg(*ap, int);
	}
	while (**fmt >= '0' && **fmt <= '9')
		n = (n < 0 ? 0 : n * 10) + *(*fmt)++ - '0';
	return n;
}

int lgbox_vformat(char *buf, size_t size, const char *fmt, va_list args)
{
	struct out o = { buf, size, 0 };
	va_list ap;

	va_copy(ap, args);
	for (; *fmt; fmt++) {
		const char *start = fmt, *s;
		bool left = false, zero = false, wide = false;
		int width, precision = -1;
		unsigned long long u;
		long long d;
		char c;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++)
			*fmt == '-' ? (left = true) : (zero = true);
		width = read_count(&fmt, &ap);
		if (width < -1) {	/* a negative '*' width: left-aligned */
			left = true;
			width = -width;
		}
		if (*fmt == '.') {
			fmt++;
			precision = read_count(&fmt, &ap);
			if (precision < 0)
				precision = fmt[-1] == '*' ? -1 : 0;
		}
		/* l, ll and z are all 64 bits on x86-64 */
		while (*fmt == 'l' || *fmt == 'z') {
			wide = true;
			fmt++;
		}
		width = width < 0 ? 0 : width;
		switch (*fmt) {
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			put_padded(&o, s, precision >= 0 ? strnlen(s, precision) : strlen(s),
				   width, left, ' ');
			break;
		case 'c':
			c = (char)va_arg(ap, int);
			put_padded(&o, &c, 1, width, left, ' ');
			break;
		case 'd':
			d = wide ? va_arg(ap, long long) : va_arg(ap, int);
			put_number(&o, d < 0 ? -(unsigned long long)d : (unsigned long long)d, 10,
				   d < 0, width, left, zero);
			break;
		case 'u':
		case 'x':
			u = wide ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
			put_number(&o, u, *fmt == 'u' ? 10 : 16, false, width, left, zero);
			break;
		case '%':
			put(&o, '%');
			break;
		default:	/* not one of ours: shown as written */
			while (start <= fmt && *start)
				put(&o, *start++);
			if (!*fmt)
				fmt--;
		}
	}
	va_end(ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

#ifndef __GLIBC__
int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
	char small[512], *buf = small;
	int len = lgbox_vformat(small, sizeof(small), fmt, ap);

	if ((size_t)len >= sizeof(small)) {
		buf = malloc(len + 1);
		if (!buf)
			return -1;
		lgbox_vformat(buf, len + 1, fmt, ap);
	}
	if (fwrite(buf, 1, len, f) != (size_t)len)
		len = -1;
	if (buf != small)
		free(buf);
	return len;
}
#endif
