/*
 * sandbox.c - what the guest process gives up before it runs the guest.
 * By then everything it needs is open (/dev/lguest, images, taps, network
 * files, sockets), and from then on it parses what the guest writes into
 * its rings, so it keeps as little as it can, in this order:
 *
 *   0. a memory-lock limit the size of guest RAM: lg.ko charges guest
 *      memory to RLIMIT_MEMLOCK at LGUEST_INIT, which comes later, once
 *      CAP_IPC_LOCK (which would exempt it) is gone;
 *   1. no capability can come back (the bounding set is emptied);
 *   2. --chroot DIR;
 *   3. --user: supplementary groups dropped, then gid and uid, all three
 *      of each (real, effective, saved); that clears every capability;
 *   4. without --user: the capabilities of root are dropped all the same;
 *   5. no new privileges (no setuid binary can restore any), and a
 *      seccomp filter allowing only the system calls the device model, the
 *      vCPU loop and musl's threads and malloc make, some with their
 *      arguments checked: ioctl only on /dev/lguest's and the terminal's
 *      and block devices' requests, no executable mappings, clone only for
 *      threads, open only to append to a console log, signals to threads
 *      only SIGUSR1 (how a vCPU thread is woken).
 *
 * Steps 1, 4 and 5 are --sandbox (default yes).  A call outside the filter
 * gets SIGSYS; the handler says which and ends the guest process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/lguest.h>
#include <linux/seccomp.h>

#include "../lgbox.h"
#include "launch.h"

/* System calls allowed whatever their arguments. */
static const unsigned short allowed[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64,
	SYS_preadv, SYS_pwritev, SYS_lseek, SYS_close, SYS_fstat, SYS_newfstatat,
	SYS_fcntl, SYS_poll, SYS_ppoll, SYS_futex, SYS_nanosleep, SYS_clock_nanosleep,
	SYS_clock_gettime, SYS_gettimeofday, SYS_getpid, SYS_gettid, SYS_exit,
	SYS_exit_group, SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn,
	SYS_restart_syscall, SYS_brk, SYS_munmap, SYS_madvise, SYS_mremap,
	SYS_set_robust_list, SYS_sched_yield, SYS_getrandom, SYS_fdatasync,
	SYS_fsync, SYS_fallocate, SYS_accept4, SYS_sendto, SYS_recvfrom,
	SYS_sendmsg, SYS_recvmsg, SYS_setsockopt, SYS_shutdown, SYS_rename,
	SYS_eventfd2, SYS_setitimer, SYS_alarm,
};

/* ioctl requests allowed: the vCPU, the terminal, block devices. */
static const unsigned int allowed_ioctls[] = {
	LGUEST_INIT, LGUEST_RUN, LGUEST_IRQ, TCGETS, TCSETS, TCSETSW, TCSETSF, BLKDISCARD,
	BLKZEROOUT,
};

/*
 * open()/openat() flags allowed: a console log reopened after its rotation.
 * musl adds O_LARGEFILE, the kernel's 0100000 on x86-64, which is ignored.
 */
#define LOG_OPEN_FLAGS	(O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC)
#define KERNEL_O_LARGEFILE	0100000

#define MAX_FILTER	200
#define ARG_LOW(n)	(offsetof(struct seccomp_data, args[n]))	/* little-endian */

struct filter {
	struct sock_filter insns[MAX_FILTER];
	unsigned short len;
};

static void emit(struct filter *f, struct sock_filter insn)
{
	if (f->len < MAX_FILTER)
		f->insns[f->len++] = insn;
}

static void ret(struct filter *f, unsigned int action)
{
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action));
}

/* if (A == value) return action; */
static void allow_if(struct filter *f, unsigned int value, unsigned int action)
{
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1));
	ret(f, action);
}

/*
 * A block for system call nr whose argument arg is checked: entered when
 * the call number matches, skipped (to the next block) otherwise.  Returns
 * where the jump over it must be patched; body() emits the check, which
 * must end in a return.
 */
static unsigned short begin_checked(struct filter *f, unsigned int nr, unsigned int arg)
{
	unsigned short at = f->len;

	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 0));
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(arg)));
	return at;
}

/* A mismatch jumps to the next block with the call number still loaded. */
static void end_checked(struct filter *f, unsigned short at)
{
	f->insns[at].jf = f->len - at - 1;
}

/* if (A & bits) trap, else allow */
static void allow_without_bits(struct filter *f, unsigned int bits)
{
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, bits, 0, 1));
	ret(f, SECCOMP_RET_TRAP);
	ret(f, SECCOMP_RET_ALLOW);
}

static void allow_log_open(struct filter *f)
{
	emit(f, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~KERNEL_O_LARGEFILE));
	allow_if(f, LOG_OPEN_FLAGS, SECCOMP_RET_ALLOW);
	ret(f, SECCOMP_RET_TRAP);
}

static void build_filter(struct filter *f)
{
	unsigned short at;
	size_t i;

	f->len = 0;
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					     offsetof(struct seccomp_data, arch)));
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
	ret(f, SECCOMP_RET_KILL_PROCESS);
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					     offsetof(struct seccomp_data, nr)));
	/* x32 system calls share the architecture: refuse their number range. */
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1));
	ret(f, SECCOMP_RET_KILL_PROCESS);
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		allow_if(f, allowed[i], SECCOMP_RET_ALLOW);
	/* glibc tries clone3 first and rseq at every thread; both may fail. */
	allow_if(f, SYS_clone3, SECCOMP_RET_ERRNO | ENOSYS);
	allow_if(f, SYS_rseq, SECCOMP_RET_ERRNO | ENOSYS);

	at = begin_checked(f, SYS_ioctl, 1);
	for (i = 0; i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]); i++)
		allow_if(f, allowed_ioctls[i], SECCOMP_RET_ALLOW);
	ret(f, SECCOMP_RET_TRAP);
	end_checked(f, at);

	at = begin_checked(f, SYS_mmap, 2);
	allow_without_bits(f, PROT_EXEC);
	end_checked(f, at);
	at = begin_checked(f, SYS_mprotect, 2);
	allow_without_bits(f, PROT_EXEC);
	end_checked(f, at);

	/* Threads only: a new process would be outside the filter's reasoning. */
	at = begin_checked(f, SYS_clone, 0);
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1));
	ret(f, SECCOMP_RET_ALLOW);
	ret(f, SECCOMP_RET_TRAP);
	end_checked(f, at);

	/* pthread_kill() (musl: tkill) of SIGUSR1 wakes a vCPU thread (vcpu.c). */
	at = begin_checked(f, SYS_tkill, 1);
	allow_if(f, SIGUSR1, SECCOMP_RET_ALLOW);
	ret(f, SECCOMP_RET_TRAP);
	end_checked(f, at);

	at = begin_checked(f, SYS_open, 1);
	allow_log_open(f);
	end_checked(f, at);
	at = begin_checked(f, SYS_openat, 2);
	allow_log_open(f);
	end_checked(f, at);

	ret(f, SECCOMP_RET_TRAP);
}

static size_t put_number(char *buf, unsigned long n, unsigned int base)
{
	char digits[24];
	size_t i = 0, len = 0;

	do
		digits[i++] = "0123456789abcdef"[n % base];
	while (n /= base);
	while (i)
		buf[len++] = digits[--i];
	return len;
}

/*
 * Async-signal-safe: says which call was refused (with its first two
 * arguments, which tell an ioctl's request) and ends the process.
 */
static void on_sigsys(int sig, siginfo_t *info, void *context)
{
	static const char head[] = "lgbox launch: the guest process made system call ";
	static const char tail[] = ", which its seccomp filter refuses; ending it "
				   "(--sandbox=no runs without the filter)\n";
	const ucontext_t *uc = context;
	char msg[sizeof(head) + 64 + sizeof(tail)];
	size_t len = sizeof(head) - 1;

	(void)sig;
	memcpy(msg, head, len);
	len += put_number(msg + len, info->si_syscall, 10);
	memcpy(msg + len, " (0x", 4);
	len += 4;
	len += put_number(msg + len, uc->uc_mcontext.gregs[REG_RDI], 16);
	memcpy(msg + len, ", 0x", 4);
	len += 4;
	len += put_number(msg + len, uc->uc_mcontext.gregs[REG_RSI], 16);
	msg[len++] = ')';
	memcpy(msg + len, tail, sizeof(tail) - 1);
	len += sizeof(tail) - 1;
	if (write(STDERR_FILENO, msg, len) < 0)
		_exit(LAUNCH_EXIT_FAILURE);
	_exit(LAUNCH_EXIT_FAILURE);
}

/* Before the uid changes, while CAP_SETPCAP is there: nothing can be regained. */
static int drop_bounding_set(void)
{
	int cap;

	for (cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL &&
		    errno != EPERM) {
			lgbox_warn_errno("cannot drop capability %d from the bounding set", cap);
			return -1;
		}
	return 0;
}

static int clear_capabilities(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct none[2] = { { 0 } };

	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, none) < 0) {
		lgbox_warn_errno("cannot drop the guest process's capabilities");
		return -1;
	}
	return 0;
}

static int switch_user(const struct launch_opts *opts)
{
	if (opts->chroot && (chroot(opts->chroot) < 0 || chdir("/") < 0)) {
		lgbox_warn_errno("--chroot %s", opts->chroot);
		return -1;
	}
	if (!opts->user_set)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(opts->gid, opts->gid, opts->gid) < 0 ||
	    setresuid(opts->uid, opts->uid, opts->uid) < 0) {
		lgbox_warn_errno("--user: cannot switch to uid %u gid %u", opts->uid, opts->gid);
		return -1;
	}
	return 0;
}

/*
 * Best effort: raising the hard limit needs CAP_SYS_RESOURCE, which a
 * container's root may lack; then LGUEST_INIT fails and says why.
 */
static void allow_locked_guest_memory(const struct launch_opts *opts)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_MEMLOCK, &limit) < 0 || limit.rlim_cur == RLIM_INFINITY ||
	    limit.rlim_cur >= opts->memory)
		return;
	limit.rlim_cur = opts->memory;
	if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < opts->memory)
		limit.rlim_max = opts->memory;
	if (setrlimit(RLIMIT_MEMLOCK, &limit) < 0 && getrlimit(RLIMIT_MEMLOCK, &limit) == 0 &&
	    limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &limit);
	}
}

int sandbox_enter(const struct launch_opts *opts)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	struct sock_fprog prog;
	struct filter f;

	allow_locked_guest_memory(opts);
	if (opts->sandbox && drop_bounding_set() < 0)
		return -1;
	if (switch_user(opts) < 0)
		return -1;
	if (!opts->sandbox)
		return 0;
	if (clear_capabilities() < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		lgbox_warn_errno("cannot set no_new_privs for the guest process");
		return -1;
	}
	build_filter(&f);
	if (f.len == MAX_FILTER)
		lgbox_die("the seccomp filter needs more than %d instructions", MAX_FILTER);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	prog = (struct sock_fprog){ .len = f.len, .filter = f.insns };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
		lgbox_warn_errno("cannot install the guest process's seccomp filter "
				 "(kernel without CONFIG_SECCOMP_FILTER? --sandbox=no runs without it)");
		return -1;
	}
	return 0;
}
