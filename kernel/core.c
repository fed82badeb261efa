// SPDX-License-Identifier: GPL-2.0
/*
 * lg.ko's front door: /dev/lguest and the vCPU run loop.
 *
 * lguest runs a paravirtualized Linux guest on an x86-64 host that has no
 * hardware virtualization (or does not want to use it).  The guest kernel
 * runs at CPL 3, like a user program; what it may not do, it asks of us by
 * hypercall; what it does wrong, the CPU stops with an exception that the
 * switcher brings to us.  Shadow page tables keep it inside the memory its
 * launcher gave it.
 *
 * The launcher opens /dev/lguest (one open file is one guest), describes
 * the guest with LGUEST_INIT and then calls LGUEST_RUN in a loop.  Each run
 * enters the guest over and over, handling page faults, hypercalls and host
 * interrupts here, until something needs the launcher: a device access, a
 * notification, console output, or the guest's end.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/nospec.h>
#include <asm/traps.h>
#include <asm/pgtable.h>
#include <asm/tlbflush.h>
#include <asm/tsc.h>
#include <linux/delay.h>
#include <linux/math64.h>
#include <linux/ktime.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include "lg.h"

/* The TSC frequency guests are told (struct lguest_shared.tsc_khz). */
unsigned int lg_tsc_khz;

/*
 * Guests use the TSC as their clock, so they must know its rate.  The host
 * kernel usually does; when its calibration failed (emulated hosts without
 * HPET or ACPI timers), measure the TSC against the host's clock.
 */
static unsigned int measure_tsc_khz(void)
{
	u64 t0, c0, ns;

	if (tsc_khz)
		return tsc_khz;
	t0 = ktime_get_ns();
	c0 = rdtsc_ordered();
	msleep(50);
	ns = ktime_get_ns() - t0;
	return ns ? div64_u64((rdtsc_ordered() - c0) * 1000000ULL, ns) : 0;
}

/* Biggest guest we accept: the pinned-page array is 8 bytes per page. */
#define LG_MAX_MEM	(64ULL << 30)

/*
 * Launchers whose page tables carry the switcher, and how many of their
 * guests are alive: the entry goes when the last one does.
 */
struct lg_mm {
	struct list_head list;
	struct mm_struct *mm;
	unsigned int guests;
};
static LIST_HEAD(lg_mms);
static DEFINE_MUTEX(lg_mms_lock);

static int get_switcher_mapping(struct mm_struct *mm)
{
	struct lg_mm *m;
	int err = 0;

	mutex_lock(&lg_mms_lock);
	list_for_each_entry(m, &lg_mms, list) {
		if (m->mm == mm) {
			m->guests++;
			goto out;
		}
	}
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	err = m ? lg_switcher_map_mm(mm) : -ENOMEM;
	if (err) {
		kfree(m);
		goto out;
	}
	mmgrab(mm);
	m->mm = mm;
	m->guests = 1;
	list_add(&m->list, &lg_mms);
out:
	mutex_unlock(&lg_mms_lock);
	return err;
}

static void put_switcher_mapping(struct mm_struct *mm)
{
	struct lg_mm *m;

	mutex_lock(&lg_mms_lock);
	list_for_each_entry(m, &lg_mms, list) {
		if (m->mm == mm) {
			if (!--m->guests) {
				lg_switcher_unmap_mm(mm);
				list_del(&m->list);
				mmdrop(mm);
				kfree(m);
			}
			break;
		}
	}
	mutex_unlock(&lg_mms_lock);
}

/*
 * Every guest, for /proc/lguest: one line per guest with its launcher's pid
 * and its counters (struct lguest_stats), for the operator and for
 * benchmarks, which compare counts rather than times.
 */
static LIST_HEAD(lg_guests);
static DEFINE_MUTEX(lg_guests_lock);

static const char *const lg_stat_names[] = {
	"entries", "exit_hypercall", "exit_user_syscall", "exit_shadow_fill",
	"exit_page_fault", "exit_mmio", "exit_emulated", "exit_exception",
	"exit_host", "upcalls", "cr3_loads", "shadow_tables_made",
	"shadow_tables_freed", "shadow_evictions", "fast_user_syscalls",
	"fast_irets", "fast_page_faults", "fast_exceptions", "fast_cr3_loads",
};

/*
 * The guest's counters: each vCPU counts its own (only its thread writes
 * them), read here without a lock, so a sum may be a moment old.
 */
static void sum_stats(struct lguest *lg, struct lguest_stats *sum)
{
	u64 *total = (u64 *)sum;
	unsigned int v, i;

	memset(sum, 0, sizeof(*sum));
	for (v = 0; v < lg->nr_vcpus; v++) {
		const u64 *counts = (const u64 *)&lg->vcpus[v].stats;

		for (i = 0; i < sizeof(*sum) / sizeof(u64); i++)
			total[i] += READ_ONCE(counts[i]);
	}
}

static int lg_proc_show(struct seq_file *m, void *unused)
{
	struct lguest_stats stats;
	const u64 *counts = (const u64 *)&stats;
	struct lguest *lg;
	unsigned int i;

	BUILD_BUG_ON(ARRAY_SIZE(lg_stat_names) !=
		     offsetof(struct lguest_stats, hypercalls) / sizeof(u64));
	mutex_lock(&lg_guests_lock);
	list_for_each_entry(lg, &lg_guests, guests) {
		sum_stats(lg, &stats);
		seq_printf(m, "pid=%d vcpus=%u", lg->launcher_tgid, lg->nr_vcpus);
		for (i = 0; i < ARRAY_SIZE(lg_stat_names); i++)
			seq_printf(m, " %s=%llu", lg_stat_names[i], counts[i]);
		for (i = 0; i < LGUEST_STATS_HCALLS; i++)
			seq_printf(m, " hcall%u=%llu", i, stats.hypercalls[i]);
		seq_putc(m, '\n');
	}
	mutex_unlock(&lg_guests_lock);
	return 0;
}

/*
 * The guest's end, by its own wish (power off, reboot, panic) or ours,
 * from any of its vCPUs.  The first end wins; its reason is written before
 * the death is published, and every vCPU is woken or kicked out of the
 * guest so that each reports it to its thread.
 */
void lg_end(struct lguest *lg, u32 how, const char *reason)
{
	unsigned int v;
	bool first = false;

	spin_lock(&lg->death_lock);
	if (!lg->dead) {
		strscpy(lg->death_reason, reason, sizeof(lg->death_reason));
		/* The reason before the death: see run_guest(). */
		smp_store_release(&lg->dead, how);
		first = true;
	}
	spin_unlock(&lg->death_lock);
	if (!first)
		return;
	for (v = 0; v < lg->nr_vcpus; v++) {
		hrtimer_cancel(&lg->vcpus[v].timer);
		lg_kick_vcpu(&lg->vcpus[v]);
	}
}

void lg_kill(struct lg_vcpu *vcpu, const char *fmt, ...)
{
	char reason[LGUEST_REASON_MAX];
	va_list args;

	va_start(args, fmt);
	vsnprintf(reason, sizeof(reason), fmt, args);
	va_end(args);
	pr_info_ratelimited("lg: killing guest of %s[%d] (vCPU %u): %s\n",
			    current->comm, task_pid_nr(current), vcpu->id, reason);
	lg_end(vcpu->lg, LGUEST_EXIT_CRASH, reason);
}

static int lg_open(struct inode *inode, struct file *file)
{
	struct lguest *lg = kzalloc(sizeof(*lg), GFP_KERNEL_ACCOUNT);

	if (!lg)
		return -ENOMEM;
	mutex_init(&lg->init_lock);
	spin_lock_init(&lg->death_lock);
	file->private_data = lg;
	return 0;
}

/*
 * Guest memory is pinned (FOLL_LONGTERM) as the guest touches it, so it is
 * locked memory like an mlock()ed range: it counts against the launcher's
 * RLIMIT_MEMLOCK (unless it has CAP_IPC_LOCK) for the whole guest at once,
 * when the guest is created.  A launcher that drops its privileges must do
 * so after LGUEST_INIT or raise the limit first.
 */
static int charge_locked_memory(struct lguest *lg)
{
	int err = account_locked_vm(lg->mm, lg->mem_size >> PAGE_SHIFT, true);

	if (!err)
		lg->locked_pages = lg->mem_size >> PAGE_SHIFT;
	return err;
}

/* The launcher's mm may be past its last user when the file is closed. */
static void uncharge_locked_memory(struct lguest *lg)
{
	if (!lg->locked_pages || !mmget_not_zero(lg->mm))
		return;
	account_locked_vm(lg->mm, lg->locked_pages, false);
	mmput(lg->mm);
	lg->locked_pages = 0;
}

/* A vCPU before LGUEST_INIT gives it anything: nothing to undo yet. */
static void vcpu_init(struct lguest *lg, struct lg_vcpu *vcpu, unsigned int id)
{
	vcpu->lg = lg;
	vcpu->id = id;
	mutex_init(&vcpu->run_lock);
	init_waitqueue_head(&vcpu->wq);
	lg_timer_init(vcpu);
}

/* Undo vcpu_create(), in either state. */
static void vcpu_destroy(struct lg_vcpu *vcpu)
{
	hrtimer_cancel(&vcpu->timer);
	lg_shadow_free(vcpu);
	lg_fpu_free(vcpu);
}

static int vcpu_create(struct lg_vcpu *vcpu, u64 cr3)
{
	int err;

	vcpu->cr3 = cr3;
	err = lg_shadow_init(vcpu);
	if (!err)
		err = lg_fpu_init(vcpu);
	vcpu->regs.rflags = X86_EFLAGS_FIXED;
	return err;
}

/* Undo lg_guest_create(), in either state: every pointer is reset. */
static void lg_guest_destroy(struct lguest *lg)
{
	unsigned int v;

	/* /proc/lguest reads the vCPUs of listed guests. */
	mutex_lock(&lg_guests_lock);
	if (lg->listed)
		list_del(&lg->guests);
	lg->listed = false;
	mutex_unlock(&lg_guests_lock);
	for (v = 0; lg->vcpus && v < lg->nr_vcpus; v++)
		vcpu_destroy(&lg->vcpus[v]);
	kvfree(lg->vcpus);
	lg->vcpus = NULL;
	lg->nr_vcpus = 0;
	lg_unpin_all(lg);
	uncharge_locked_memory(lg);
	if (lg->switcher_mapped)
		put_switcher_mapping(lg->mm);
	lg->switcher_mapped = false;
	lg->mm = NULL;
	lg->initialized = false;
}

static int lg_release(struct inode *inode, struct file *file)
{
	struct lguest *lg = file->private_data;

	lg_guest_destroy(lg);
	kfree(lg);
	return 0;
}

static int check_init(const struct lguest_init *in)
{
	if (in->abi_version != LGUEST_ABI_VERSION) {
		pr_info_ratelimited("lg: launcher speaks ABI %u, lg.ko speaks %u\n",
				    in->abi_version, LGUEST_ABI_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (in->flags || in->reserved || !in->nr_vcpus ||
	    in->nr_vcpus > LGUEST_MAX_VCPUS)
		return -EINVAL;
	if (!in->mem_size || in->mem_size > LG_MAX_MEM ||
	    (in->mem_base | in->mem_size) & ~PAGE_MASK ||
	    !access_ok((void __user *)in->mem_base, in->mem_size))
		return -EINVAL;
	if ((in->mmio_base | in->mmio_size) & ~PAGE_MASK ||
	    (in->mmio_size && in->mmio_base < in->mem_size) ||
	    in->mmio_base + in->mmio_size < in->mmio_base)
		return -EINVAL;
	if (!lg_canonical(in->entry) || !lg_canonical(in->initial_rsp) ||
	    in->initial_cr3 & ~PAGE_MASK ||
	    in->initial_cr3 >= in->mem_size)
		return -EINVAL;
	return 0;
}

/* Everything a guest holds in the host, made from a checked lguest_init. */
static int lg_guest_create(struct lguest *lg, const struct lguest_init *in)
{
	struct lg_vcpu *boot;
	unsigned int v;
	int err;

	lg->mm = current->mm;
	lg->mem_base = in->mem_base;
	lg->mem_size = in->mem_size;
	lg->mmio_base = in->mmio_base;
	lg->mmio_size = in->mmio_size;
	err = charge_locked_memory(lg);
	if (err)
		return err;
	lg->pinned = kvcalloc(in->mem_size >> PAGE_SHIFT, sizeof(*lg->pinned),
			      GFP_KERNEL_ACCOUNT);
	if (!lg->pinned)
		return -ENOMEM;
	lg->vcpus = kvcalloc(in->nr_vcpus, sizeof(*lg->vcpus),
			     GFP_KERNEL_ACCOUNT);
	if (!lg->vcpus)
		return -ENOMEM;
	for (v = 0; v < in->nr_vcpus; v++) {
		vcpu_init(lg, &lg->vcpus[v], v);
		lg->nr_vcpus++;
		err = vcpu_create(&lg->vcpus[v], in->initial_cr3);
		if (err)
			return err;
	}
	err = get_switcher_mapping(lg->mm);
	if (err)
		return err;
	lg->switcher_mapped = true;
	lg->launcher_tgid = task_tgid_nr(current);
	mutex_lock(&lg_guests_lock);
	list_add_tail(&lg->guests, &lg_guests);
	lg->listed = true;
	mutex_unlock(&lg_guests_lock);
	boot = &lg->vcpus[0];
	boot->regs.rip = in->entry;
	boot->regs.rsp = in->initial_rsp;
	boot->regs.rsi = in->boot_data;
	atomic_set(&boot->start_claimed, 1);
	boot->started = true;
	/* LGUEST_RUN on other threads finds the guest whole, or not at all. */
	smp_store_release(&lg->initialized, true);
	return 0;
}

/*
 * LGUEST_INIT, once per open file.  Under run_lock, so that two threads
 * racing to create the guest (or one racing LGUEST_RUN) find it either not
 * there or whole; a failed INIT leaves nothing behind and may be retried.
 */
static long lg_ioctl_init(struct lguest *lg, void __user *arg)
{
	struct lguest_init in;
	int err;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	err = check_init(&in);
	if (err)
		return err;
	if (mutex_lock_interruptible(&lg->init_lock))
		return -EINTR;
	if (lg->initialized) {
		err = -EBUSY;
	} else {
		err = lg_guest_create(lg, &in);
		if (err)
			lg_guest_destroy(lg);
	}
	mutex_unlock(&lg->init_lock);
	return err;
}

static int handle_page_fault(struct lg_vcpu *vcpu, u64 cr2,
			     struct lguest_run *run)
{
	u64 gpa;
	int r = lg_shadow_fault(vcpu, cr2, vcpu->regs.errcode, &gpa);

	if (r == 0) {
		vcpu->stats.exit_shadow_fill++;
		return 0;
	}
	if (r == LG_PF_MMIO) {
		vcpu->stats.exit_mmio++;
		return lg_emulate_mmio(vcpu, gpa, run);
	}
	if (r < 0) {
		lg_kill(vcpu, "host failed to map guest address %#llx: error %d",
			cr2, r);
		return -1;
	}
	if (vcpu->shared)
		WRITE_ONCE(vcpu->shared->cr2, cr2);
	vcpu->stats.exit_page_fault++;
	return lg_reflect_trap(vcpu, X86_TRAP_PF, true, r & LG_PF_ERRCODE);
}

/*
 * The kernel stack and segment bases the guest stored in the shared page
 * since its last exit (struct lguest_shared): taken before every entry, so
 * they are in force whenever the guest reaches user mode.  The bases go
 * into WRMSR: a non-canonical one would fault in the host, so it kills the
 * guest instead.
 */
static bool take_shared_stores(struct lg_vcpu *vcpu)
{
	u64 stack, fs, gs;

	if (!vcpu->shared)
		return true;
	stack = READ_ONCE(vcpu->shared->kernel_stack);
	fs = READ_ONCE(vcpu->shared->fs_base);
	gs = READ_ONCE(vcpu->shared->gs_base_user);
	if (!lg_canonical(stack) || !lg_canonical(fs) || !lg_canonical(gs)) {
		lg_kill(vcpu, "shared page: kernel stack %#llx, fs base %#llx or user gs base %#llx is not canonical",
			stack, fs, gs);
		return false;
	}
	vcpu->kernel_stack = stack;
	vcpu->fs_base = fs;
	vcpu->gs_base_user = gs;
	return true;
}

/* 0: keep running the guest; 1: return to the launcher; -1: guest killed. */
static int handle_trap(struct lg_vcpu *vcpu, unsigned int trap, u64 cr2,
		       struct lguest_run *run)
{
	switch (trap) {
	case LG_TRAP_HOST:
		vcpu->stats.exit_host++;
		return 0;
	case LG_TRAP_ENTRY_FAULT:
		lg_kill(vcpu, "the CPU refused the guest's state at rip %#llx",
			vcpu->regs.rip);
		return -1;
	case LG_TRAP_SYSCALL:
		if (vcpu->user_mode) {
			vcpu->stats.exit_user_syscall++;
			lg_reflect_syscall(vcpu);
			return 0;
		}
		vcpu->stats.exit_hypercall++;
		return lg_do_hypercall(vcpu, run);
	case X86_TRAP_PF:
		return handle_page_fault(vcpu, cr2, run);
	case X86_TRAP_DF:
		lg_kill(vcpu, "double fault at rip %#llx", vcpu->regs.rip);
		return -1;
	case X86_TRAP_DB:
		/* The guest's handler reads DR6 from the shared page. */
		if (vcpu->shared)
			WRITE_ONCE(vcpu->shared->dr6, vcpu->dr6);
		break;
	case X86_TRAP_GP:
		if (lg_emulate_privileged(vcpu)) {
			vcpu->stats.exit_emulated++;
			return 0;
		}
		break;
	}
	if (trap < FIRST_EXTERNAL_VECTOR) {
		vcpu->stats.exit_exception++;
		return lg_reflect_trap(vcpu, trap, lg_vector_has_errcode(trap),
				       vcpu->regs.errcode);
	}
	lg_kill(vcpu, "unexpected trap %u at rip %#llx", trap, vcpu->regs.rip);
	return -1;
}

static void report_death(struct lg_vcpu *vcpu, struct lguest_run *run)
{
	run->exit_reason = vcpu->lg->dead;
	strscpy(run->death.reason, vcpu->lg->death_reason,
		sizeof(run->death.reason));
	vcpu->death_reported = true;
}

/*
 * A vCPU other than the first waits here until the guest starts it
 * (LHCALL_START_VCPU) or dies.  0 when it may run, -EINTR on a signal.
 */
static bool started_or_dead(struct lg_vcpu *vcpu)
{
	/* Pairs with hcall_start_vcpu(): the registers are set before. */
	return smp_load_acquire(&vcpu->started) || READ_ONCE(vcpu->lg->dead);
}

static int wait_for_start(struct lg_vcpu *vcpu)
{
	return wait_event_interruptible(vcpu->wq, started_or_dead(vcpu));
}

/*
 * Where the host may run something else instead of this vCPU (lg.ko's
 * host kernel preempts only at such points): the time it does is the
 * guest's steal time, and meanwhile the vCPU is marked preempted, so that
 * the guest's other vCPUs do not spin waiting for it.
 */
static void vcpu_yield(struct lg_vcpu *vcpu)
{
	struct lguest_shared *shared = vcpu->shared;
	u64 start;

	if (!need_resched())
		return;
	if (shared)
		WRITE_ONCE(shared->preempted, 1);
	start = ktime_get_ns();
	cond_resched();
	vcpu->steal_ns += ktime_get_ns() - start;
	if (shared) {
		WRITE_ONCE(shared->steal_ns, vcpu->steal_ns);
		WRITE_ONCE(shared->preempted, 0);
	}
}

static long run_guest(struct lg_vcpu *vcpu, struct lguest_run *run)
{
	unsigned int trap;
	u64 cr2;

	if (wait_for_start(vcpu))
		return -EINTR;
	for (;;) {
		/* Pairs with lg_end(): the reason is there once dead is. */
		if (smp_load_acquire(&vcpu->lg->dead)) {
			report_death(vcpu, run);
			return 0;
		}
		if (signal_pending(current))
			return -EINTR;
		vcpu_yield(vcpu);
		if (vcpu->halted) {
			if (wait_event_interruptible(vcpu->wq,
						     lg_irq_deliverable(vcpu) ||
						     READ_ONCE(vcpu->lg->dead)))
				return -EINTR;
			vcpu->halted = false;
			continue;
		}
		/*
		 * The stores first: an interrupt delivered to guest-user code
		 * (pending when the guest kernel's IRET took it there) goes on
		 * the kernel stack its context switch has just stored.
		 */
		if (!take_shared_stores(vcpu) || lg_deliver_pending_irq(vcpu))
			continue;
		vcpu->regs.rflags = (vcpu->regs.rflags & LG_GUEST_RFLAGS) |
				    X86_EFLAGS_IF | X86_EFLAGS_FIXED;
		vcpu->stats.entries++;
		trap = lg_run_guest_once(vcpu, &cr2);
		if (trap != LG_TRAP_HOST)
			pr_debug("lg: vCPU %u: trap %u at rip %#llx cr2 %#llx error %#llx %s\n",
				 vcpu->id, trap, vcpu->regs.rip, cr2,
				 vcpu->regs.errcode,
				 vcpu->user_mode ? "user" : "kernel");
		if (handle_trap(vcpu, trap, cr2, run) == 1)
			return 0;
	}
}

/* The guest and vCPU a LGUEST_RUN names, if this thread may run them. */
static struct lg_vcpu *run_target(struct lguest *lg,
				  const struct lguest_run *run, long *err)
{
	*err = -EINVAL;
	/* Pairs with lg_guest_create(): all of the guest is there. */
	if (run->flags || run->reserved || !smp_load_acquire(&lg->initialized))
		return NULL;
	if (run->vcpu >= lg->nr_vcpus)
		return NULL;
	*err = -EPERM;
	if (current->mm != lg->mm)
		return NULL;
	return &lg->vcpus[array_index_nospec(run->vcpu, lg->nr_vcpus)];
}

static long lg_ioctl_run(struct lguest *lg, void __user *arg)
{
	struct lguest_run run;
	struct lg_vcpu *vcpu;
	long err;

	if (copy_from_user(&run, arg, sizeof(run)))
		return -EFAULT;
	vcpu = run_target(lg, &run, &err);
	if (!vcpu)
		return err;
	if (mutex_lock_interruptible(&vcpu->run_lock))
		return -EINTR;
	if (vcpu->death_reported) {
		err = -ENOENT;
		goto out;
	}
	if (vcpu->mmio_read_pending)
		lg_complete_mmio(vcpu, &run);
	WRITE_ONCE(vcpu->task, current);
	err = run_guest(vcpu, &run);
	WRITE_ONCE(vcpu->task, NULL);
	if (!err && copy_to_user(arg, &run, sizeof(run)))
		err = -EFAULT;
out:
	mutex_unlock(&vcpu->run_lock);
	return err;
}

/* Device lines go to vCPU 0, which takes every device interrupt. */
static long lg_ioctl_irq(struct lguest *lg, void __user *arg)
{
	struct lguest_irq irq;

	if (copy_from_user(&irq, arg, sizeof(irq)))
		return -EFAULT;
	if (irq.reserved || irq.irq == LGUEST_IRQ_TIMER ||
	    irq.irq >= LGUEST_NR_IRQS)
		return -EINVAL;
	/* Pairs with lg_guest_create(): the vCPUs are there. */
	if (!smp_load_acquire(&lg->initialized))
		return -EINVAL;
	lg_raise_irq(&lg->vcpus[0], irq.irq);
	return 0;
}

static long lg_ioctl_stats(struct lguest *lg, void __user *arg)
{
	struct lguest_stats stats;

	/* Pairs with lg_guest_create(): the vCPUs are there. */
	if (smp_load_acquire(&lg->initialized))
		sum_stats(lg, &stats);
	else
		memset(&stats, 0, sizeof(stats));
	return copy_to_user(arg, &stats, sizeof(stats)) ? -EFAULT : 0;
}

static long lg_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct lguest *lg = file->private_data;

	switch (cmd) {
	case LGUEST_GET_ABI_VERSION:
		return LGUEST_ABI_VERSION;
	case LGUEST_INIT:
		return lg_ioctl_init(lg, (void __user *)arg);
	case LGUEST_RUN:
		return lg_ioctl_run(lg, (void __user *)arg);
	case LGUEST_IRQ:
		return lg_ioctl_irq(lg, (void __user *)arg);
	case LGUEST_GET_STATS:
		return lg_ioctl_stats(lg, (void __user *)arg);
	}
	return -ENOTTY;
}

static const struct file_operations lg_fops = {
	.owner = THIS_MODULE,
	.open = lg_open,
	.release = lg_release,
	.unlocked_ioctl = lg_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice lg_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "lguest",
	.fops = &lg_fops,
	.mode = 0600,
};

static int __init lg_init(void)
{
	int err;

	if (pgtable_l5_enabled()) {
		pr_err("lg: the host uses 5-level paging, which lg.ko does not support; boot the host with no5lvl\n");
		return -EOPNOTSUPP;
	}
	/* Every process shares the kernel half of its top level table. */
	if (*((u64 *)__va(read_cr3_pa()) + LG_SWITCHER_PGD_INDEX)) {
		pr_err("lg: the hypervisor hole at %#lx is already in use\n",
		       LG_SWITCHER_BASE);
		return -EBUSY;
	}
	lg_tsc_khz = measure_tsc_khz();
	if (!lg_tsc_khz) {
		pr_err("lg: cannot tell the TSC frequency, which guests need as their clock\n");
		return -ENODEV;
	}
	err = lg_switcher_init();
	if (!err)
		err = misc_register(&lg_dev);
	if (!err && !proc_create_single("lguest", 0400, NULL, lg_proc_show)) {
		misc_deregister(&lg_dev);
		err = -ENOMEM;
	}
	if (err) {
		lg_switcher_exit();
		pr_err("lg: cannot start: error %d\n", err);
		return err;
	}
	pr_info("lg: lguest hypervisor, ABI %d, switcher at %#lx, TSC %u kHz%s\n",
		LGUEST_ABI_VERSION, LG_SWITCHER_BASE, lg_tsc_khz,
		tsc_khz ? "" : " (measured)");
	return 0;
}

static void __exit lg_exit(void)
{
	remove_proc_entry("lguest", NULL);
	misc_deregister(&lg_dev);
	lg_switcher_exit();
}

module_init(lg_init);
module_exit(lg_exit);
MODULE_DESCRIPTION("lguest: a paravirtual hypervisor needing no VT-x/SVM");
MODULE_LICENSE("GPL");
