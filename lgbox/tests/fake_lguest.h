/*
 * fake_lguest.h - a scripted stand-in for /dev/lguest (fake_lguest.c),
 * linked into test_vcpu instead of launch/lguest_dev.c.  A test lists the
 * exits LGUEST_RUN should return; the fake records what launch passed to
 * LGUEST_INIT, the data launch answered to MMIO reads, and raised irqs.
 */
#ifndef LGBOX_TEST_FAKE_LGUEST_H
#define LGBOX_TEST_FAKE_LGUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/lguest.h>

enum fake_step_kind {
	FAKE_EXIT,		/* return exit (struct lguest_run as given) */
	FAKE_SIGNAL,		/* raise(signal), then fail with EINTR */
	FAKE_WAIT_SIGNAL,	/* sleep until a signal, then fail with EINTR */
	FAKE_ERROR,		/* fail with errno = error */
};

struct fake_step {
	enum fake_step_kind kind;
	struct lguest_run run;
	int signal, error;
};

struct fake_lguest {
	const struct fake_step *steps;
	unsigned int nr_steps, next;
	bool open_fails;
	struct lguest_init init;
	bool init_done;
	uint64_t mmio_answers[8];	/* data launch gave back for MMIO reads */
	unsigned int nr_answers;
	unsigned int irqs;
	uint64_t irq_lines;		/* bit N: line N was raised */
};

extern struct fake_lguest fake;

#endif /* LGBOX_TEST_FAKE_LGUEST_H */
