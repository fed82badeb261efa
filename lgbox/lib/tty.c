/*
 * tty.c: raw terminal mode and escape-key names (see tty.h).
 *
 * Raw here means what a serial console wants: every byte passes through
 * unchanged in both directions (no echo, no line editing, no signals from
 * ^C/^Z, no CR/LF translation), so the guest's own tty layer does all of
 * that, as on a real serial line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tty.h"

int tty_enter_raw(int fd, struct tty_saved *saved)
{
	struct termios raw;

	saved->active = false;
	saved->fd = fd;
	if (tcgetattr(fd, &saved->mode) < 0)
		return -errno;
	raw = saved->mode;
	raw.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	raw.c_oflag &= ~OPOST;
	raw.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag &= ~(CSIZE | PARENB);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	/* TCSADRAIN keeps what the user typed ahead; TCSAFLUSH would drop it. */
	if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
		return -errno;
	saved->active = true;
	return 0;
}

void tty_restore(struct tty_saved *saved)
{
	if (!saved->active)
		return;
	saved->active = false;
	tcsetattr(saved->fd, TCSADRAIN, &saved->mode);
}

int tty_parse_key(const char *text)
{
	if (!strcmp(text, "none"))
		return TTY_KEY_NONE;
	if (text[0] != '^' || !text[1] || text[2])
		return -EINVAL;
	if (text[1] == '?')
		return 0x7f;
	/* ^@ .. ^_ and the lower-case letters map onto control codes 0..31. */
	if ((text[1] >= '@' && text[1] <= '_') || (text[1] >= 'a' && text[1] <= 'z'))
		return text[1] & 0x1f;
	return -EINVAL;
}

const char *tty_key_name(int key, char *buf, size_t size)
{
	if (key == TTY_KEY_NONE)
		snprintf(buf, size, "none");
	else if (key == 0x7f)
		snprintf(buf, size, "Ctrl-?");
	else
		snprintf(buf, size, "Ctrl-%c", key | 0x40);
	return buf;
}
