/*
 * fake_lguest.c - implements launch/lguest_dev.h from a script (see
 * fake_lguest.h) so the vCPU loop can be tested without lg.ko.  Running
 * past the end of the script is a test bug and reports as a crash exit.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "../launch/lguest_dev.h"
#include "fake_lguest.h"

#define FAKE_FD 1000

struct fake_lguest fake;
static bool last_was_mmio_read;

int lguest_dev_open(void)
{
	return fake.open_fails ? -1 : FAKE_FD;
}

int lguest_dev_init(int fd, const struct lguest_init *init)
{
	if (fd != FAKE_FD) {
		errno = EBADF;
		return -1;
	}
	fake.init = *init;
	fake.init_done = true;
	return 0;
}

static void record_mmio_answer(const struct lguest_run *run)
{
	if (last_was_mmio_read && fake.nr_answers < 8)
		fake.mmio_answers[fake.nr_answers++] = run->mmio.data;
	last_was_mmio_read = false;
}

int lguest_dev_run(int fd, struct lguest_run *run)
{
	const struct fake_step *step;

	if (fd != FAKE_FD || !fake.init_done) {
		errno = EBADF;
		return -1;
	}
	record_mmio_answer(run);
	if (fake.next == fake.nr_steps) {
		memset(run, 0, sizeof(*run));
		run->exit_reason = LGUEST_EXIT_CRASH;
		strcpy(run->death.reason, "fake_lguest: script ran out");
		return 0;
	}
	step = &fake.steps[fake.next++];
	switch (step->kind) {
	case FAKE_SIGNAL:
		raise(step->signal);
		errno = EINTR;
		return -1;
	case FAKE_WAIT_SIGNAL:
		pause();
		errno = EINTR;
		return -1;
	case FAKE_ERROR:
		errno = step->error;
		return -1;
	case FAKE_EXIT:
		break;
	}
	*run = step->run;
	last_was_mmio_read = run->exit_reason == LGUEST_EXIT_MMIO && !run->mmio.is_write;
	return 0;
}

int lguest_dev_irq(int fd, unsigned int irq)
{
	if (fd != FAKE_FD || irq == 0 || irq >= LGUEST_NR_IRQS) {
		errno = EINVAL;
		return -1;
	}
	fake.irqs++;
	fake.irq_lines |= 1ULL << irq;
	return 0;
}
