/*
 * ioloop.c - launch's single I/O thread.  It polls the host side of the
 * devices (console input and attachers, tap devices) so that the vCPU
 * thread only ever handles guest exits.  A watch may say it is not wanted
 * right now (an rx queue without buffers): its fd is then left out of
 * poll() until something calls ioloop_wake(), so a guest that does not
 * read cannot make the thread spin.
 */
#define _GNU_SOURCE	/* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "../lgbox.h"
#include "launch.h"

#define MAX_WATCHES 32

static struct io_watch watches[MAX_WATCHES];
static unsigned int nr_watches;
static pthread_mutex_t watches_lock = PTHREAD_MUTEX_INITIALIZER;
static int wake_pipe[2] = { -1, -1 };

int ioloop_add(const struct io_watch *w)
{
	int ret = -1;

	pthread_mutex_lock(&watches_lock);
	if (nr_watches < MAX_WATCHES) {
		watches[nr_watches++] = *w;
		ret = 0;
	}
	pthread_mutex_unlock(&watches_lock);
	ioloop_wake();
	return ret;
}

void ioloop_remove(int fd)
{
	unsigned int i;

	pthread_mutex_lock(&watches_lock);
	for (i = 0; i < nr_watches; i++) {
		if (watches[i].fd == fd) {
			watches[i] = watches[--nr_watches];
			break;
		}
	}
	pthread_mutex_unlock(&watches_lock);
	ioloop_wake();
}

void ioloop_wake(void)
{
	char c = 0;

	if (wake_pipe[1] >= 0 && write(wake_pipe[1], &c, 1) < 0 && errno != EAGAIN)
		lgbox_warn_errno("cannot wake the I/O thread");
}

static void drain_wake_pipe(void)
{
	char buf[64];

	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
}

static void *ioloop_thread(void *unused)
{
	struct pollfd pfds[MAX_WATCHES + 1];
	struct io_watch all[MAX_WATCHES], active[MAX_WATCHES];
	unsigned int count, n, i;

	(void)unused;
	for (;;) {
		pfds[0] = (struct pollfd){ .fd = wake_pipe[0], .events = POLLIN };
		/* Copy first: wanted() takes device locks, never under ours. */
		pthread_mutex_lock(&watches_lock);
		memcpy(all, watches, nr_watches * sizeof(all[0]));
		count = nr_watches;
		pthread_mutex_unlock(&watches_lock);
		n = 0;
		for (i = 0; i < count; i++) {
			if (all[i].wanted && !all[i].wanted(all[i].ctx))
				continue;
			active[n] = all[i];
			pfds[1 + n] = (struct pollfd){ .fd = all[i].fd, .events = all[i].events };
			n++;
		}
		if (poll(pfds, n + 1, -1) < 0) {
			if (errno != EINTR)
				lgbox_die_errno("I/O thread: poll");
			continue;
		}
		if (pfds[0].revents)
			drain_wake_pipe();
		for (i = 0; i < n; i++)
			if (pfds[1 + i].revents)
				active[i].ready(active[i].ctx, pfds[1 + i].fd, pfds[1 + i].revents);
	}
	return NULL;
}

int ioloop_start(void)
{
	sigset_t all, old;
	pthread_t thread;
	int err;

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		lgbox_warn_errno("cannot create the I/O thread's wake pipe");
		return -1;
	}
	/* Signals belong to the vCPU thread: they must interrupt LGUEST_RUN. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&thread, NULL, ioloop_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errno = err;
		lgbox_warn_errno("cannot start the I/O thread");
		return -1;
	}
	pthread_detach(thread);
	return 0;
}
