/*
 * tty.h: raw terminal mode that is always given back, and escape keys.
 *
 * Used by console-attach (and by anything else that hands the user's
 * terminal to a guest): the saved mode is restored exactly once, from any
 * exit path, including a signal handler (only tcsetattr is called there,
 * which is async-signal-safe).
 */
#ifndef LGBOX_TTY_H
#define LGBOX_TTY_H

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

struct tty_saved {
	int fd;
	bool active;		/* raw mode is on and must be undone */
	struct termios mode;	/* the mode to restore */
};

/* Saves fd's mode and switches it to raw; 0 or a negative errno. */
int tty_enter_raw(int fd, struct tty_saved *saved);
/* Puts the saved mode back; does nothing if already restored. */
void tty_restore(struct tty_saved *saved);

/* No escape key at all (-e none). */
#define TTY_KEY_NONE (-1)

/*
 * Parses "^]", "^X", "^x", "^?" or "none" into a byte (or TTY_KEY_NONE);
 * -EINVAL for anything else.
 */
int tty_parse_key(const char *text);
/* "Ctrl-]" style name for messages. */
const char *tty_key_name(int key, char *buf, size_t size);

#endif
