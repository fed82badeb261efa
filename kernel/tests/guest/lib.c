/*
 * lib.c - the little C library of the test guest: memory and string
 * helpers the compiler may call, a printf subset, console output through
 * LHCALL_CONSOLE_WRITE, shutdown with a reason, and TSC-based waiting.
 */
#include "guest.h"

union shared_page_u shared_page;
u64 alternate_stack[512] __attribute__((aligned(16)));

void *memset(void *s, int c, size_t n)
{
	u8 *p = s;

	while (n--)
		*p++ = (u8)c;
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++)
		if (*a != *b || !*a)
			return (u8)*a - (u8)*b;
	return 0;
}

struct outbuf {
	char *buf;
	size_t size, len;
};

static void out_char(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_number(struct outbuf *o, u64 v, unsigned int base, int width, char pad)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		out_char(o, pad);
	while (n)
		out_char(o, digits[--n]);
}

/* %s %c %d %u %x %p with l/ll, a width and zero padding: all we print. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		char pad = ' ';
		int width = 0;
		bool is_long = false;
		u64 v;

		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		if (*++fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + *fmt++ - '0';
		while (*fmt == 'l') {
			is_long = true;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			for (width -= (int)strlen(s); width-- > 0;)
				out_char(&o, ' ');
			while (*s)
				out_char(&o, *s++);
			break;
		}
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t s = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);

			if (s < 0) {
				out_char(&o, '-');
				s = -s;
			}
			out_number(&o, (u64)s, 10, width, pad);
			break;
		}
		case 'u':
		case 'x':
			v = is_long ? va_arg(ap, u64) : va_arg(ap, unsigned int);
			out_number(&o, v, *fmt == 'u' ? 10 : 16, width, pad);
			break;
		case 'p':
			out_char(&o, '0');
			out_char(&o, 'x');
			out_number(&o, (u64)va_arg(ap, void *), 16, width, pad);
			break;
		default:
			out_char(&o, *fmt);
			if (!*fmt)
				fmt--;
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* The hypercall carries at most LGUEST_CONSOLE_MAX bytes per exit. */
void console_write(const char *s, size_t len)
{
	while (len) {
		size_t chunk = len < LGUEST_CONSOLE_MAX ? len : LGUEST_CONSOLE_MAX;

		hcall2(LHCALL_CONSOLE_WRITE, (u64)s, chunk);
		s += chunk;
		len -= chunk;
	}
}

void kprintf(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	console_write(line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

noreturn void shutdown(u64 kind, const char *fmt, ...)
{
	static char reason[LGUEST_REASON_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(reason))
		n = sizeof(reason) - 1;
	for (;;)
		hcall3(LHCALL_SHUTDOWN, kind, (u64)reason, n);
}

/* A C number with an optional K/M/G suffix (Linux memparse), advancing *s. */
u64 parse_number(const char **s)
{
	const char *p = *s;
	unsigned int base = 10;
	u64 v = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++) {
		unsigned int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			d = (*p | 0x20) - 'a' + 10;
		else
			break;
		v = v * base + d;
	}
	switch (*p | 0x20) {
	case 'g':
		v <<= 10;
		/* fall through */
	case 'm':
		v <<= 10;
		/* fall through */
	case 'k':
		v <<= 10;
		p++;
		break;
	}
	*s = p;
	return v;
}

u64 tsc_per_ms(void)
{
	return shared.tsc_khz;
}

/* Busy-wait ms milliseconds of TSC time, or until until() says so. */
void spin_ms(u64 ms, bool (*until)(void))
{
	u64 end = rdtsc() + ms * tsc_per_ms();

	while (rdtsc() < end && !(until && until()))
		cpu_relax();
}
