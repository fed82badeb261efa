/*
 * Unit tests of lib/tty.c: detach-key parsing and naming, and raw mode on a
 * real pseudo-terminal: the mode really is raw (bytes pass untranslated,
 * no echo, no signal keys), restoring gives back the exact earlier mode,
 * and restoring twice is harmless.
 */
#define _GNU_SOURCE
#include "test.h"
#include "../lib/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

static void test_parse_key(void)
{
	CHECK_EQ(tty_parse_key("^]"), 0x1d);
	CHECK_EQ(tty_parse_key("^A"), 0x01);
	CHECK_EQ(tty_parse_key("^a"), 0x01);
	CHECK_EQ(tty_parse_key("^X"), 0x18);
	CHECK_EQ(tty_parse_key("^@"), 0x00);
	CHECK_EQ(tty_parse_key("^?"), 0x7f);
	CHECK_EQ(tty_parse_key("none"), TTY_KEY_NONE);
	CHECK_EQ(tty_parse_key("x"), -EINVAL);
	CHECK_EQ(tty_parse_key("^"), -EINVAL);
	CHECK_EQ(tty_parse_key("^AB"), -EINVAL);
	CHECK_EQ(tty_parse_key("^1"), -EINVAL);
	CHECK_EQ(tty_parse_key(""), -EINVAL);
}

static void test_key_name(void)
{
	char buf[16];

	CHECK(!strcmp(tty_key_name(0x1d, buf, sizeof(buf)), "Ctrl-]"));
	CHECK(!strcmp(tty_key_name(0x18, buf, sizeof(buf)), "Ctrl-X"));
	CHECK(!strcmp(tty_key_name(0x7f, buf, sizeof(buf)), "Ctrl-?"));
	CHECK(!strcmp(tty_key_name(TTY_KEY_NONE, buf, sizeof(buf)), "none"));
}

/* Opens a pty pair; returns the terminal (slave) side, master in *master. */
static int open_pty(int *master)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY);
	if (*master < 0 || grantpt(*master) || unlockpt(*master))
		return -1;
	return open(ptsname(*master), O_RDWR | O_NOCTTY);
}

/* Field by field: struct termios has padding that tcgetattr leaves alone. */
static bool same_mode(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	       a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
	       !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) &&
	       cfgetispeed(a) == cfgetispeed(b) && cfgetospeed(a) == cfgetospeed(b);
}

static void test_raw_and_restore(void)
{
	struct termios before, during, after;
	struct tty_saved saved;
	int master, tty = open_pty(&master);
	char buf[8];

	CHECK(tty >= 0);
	if (tty < 0)
		return;
	CHECK_EQ(tcgetattr(tty, &before), 0);
	CHECK_EQ(tty_enter_raw(tty, &saved), 0);
	CHECK_EQ(tcgetattr(tty, &during), 0);
	CHECK(!(during.c_lflag & (ICANON | ECHO | ISIG)));
	CHECK(!(during.c_iflag & (ICRNL | IXON)));
	CHECK(!(during.c_oflag & OPOST));
	/* A CR and a ^C typed on the terminal arrive as they are, at once. */
	CHECK_EQ(write(master, "\r\x03", 2), 2);
	CHECK_EQ(read(tty, buf, sizeof(buf)), 2);
	CHECK(!memcmp(buf, "\r\x03", 2));

	tty_restore(&saved);
	tty_restore(&saved);
	CHECK_EQ(tcgetattr(tty, &after), 0);
	CHECK(same_mode(&before, &after));
	close(tty);
	close(master);
}

static void test_not_a_tty(void)
{
	struct tty_saved saved;
	int fd = open("/dev/null", O_RDWR);

	CHECK_EQ(tty_enter_raw(fd, &saved), -ENOTTY);
	CHECK(!saved.active);
	tty_restore(&saved);	/* nothing to restore: must not touch fd */
	close(fd);
}

int main(void)
{
	TEST_RUN(test_parse_key);
	TEST_RUN(test_key_name);
	TEST_RUN(test_raw_and_restore);
	TEST_RUN(test_not_a_tty);
	return test_summary();
}
