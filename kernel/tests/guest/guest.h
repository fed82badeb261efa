/*
 * guest.h - what the parts of the lg.ko test guest share: hypercall
 * wrappers, the trap frame, fault and upcall records, page-table helpers,
 * console output and the test-case registry.
 *
 * The test guest is a freestanding x86-64 kernel that runs at CPL 3 under
 * lg.ko and checks the ABI of <linux/lguest.h> one behaviour at a time.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/lguest.h>
#include "guest-asm.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PAGE_SIZE	4096UL
#define PAGE_MASK	(~(PAGE_SIZE - 1))
#define noreturn	__attribute__((noreturn))

/* Addresses the cases aim at. */
#define HOLE_START	0xffff800000000000UL	/* the switcher's hole ... */
#define HOLE_END	0xffff880000000000UL	/* ... up to here, exclusive */
#define FAR_BEYOND_RAM	0x4000000000UL		/* 256 GiB: no RAM, no device */

/* rflags for user mode: bit 1 is always set; with or without the IF. */
#define RFLAGS_FIXED	0x2UL

#define USER_RFLAGS	(LGUEST_IF_FLAG | RFLAGS_FIXED)

/* Native exception vectors and page-fault error code bits. */
#define X86_TRAP_DB	1
#define X86_TRAP_BP	3
#define X86_TRAP_UD	6
#define X86_TRAP_GP	13
#define X86_TRAP_PF	14
#define PF_PRESENT	0x1
#define PF_WRITE	0x2
#define PF_USER		0x4
#define PF_RSVD		0x8
#define PF_INSTR	0x10

/* Page-table entry bits. */
#define PTE_P		0x1UL
#define PTE_W		0x2UL
#define PTE_U		0x4UL
#define PTE_PWT		0x8UL
#define PTE_PCD		0x10UL
#define PTE_A		0x20UL
#define PTE_D		0x40UL
#define PTE_PS		0x80UL
#define PTE_G		0x100UL
#define PTE_NX		(1UL << 63)
#define PTE_ADDR	0x000ffffffffff000UL

static inline u64 hcall5(u64 nr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	register u64 r10 asm("r10") = a4;
	register u64 r8 asm("r8") = a5;

	asm volatile("syscall"
		     : "+a"(nr)
		     : "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8)
		     : "rcx", "r11", "memory");
	return nr;
}

#define hcall0(nr)		hcall5(nr, 0, 0, 0, 0, 0)
#define hcall1(nr, a)		hcall5(nr, a, 0, 0, 0, 0)
#define hcall2(nr, a, b)	hcall5(nr, a, b, 0, 0, 0)
#define hcall3(nr, a, b, c)	hcall5(nr, a, b, c, 0, 0)

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (u64)hi << 32 | lo;
}

static inline void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}

/* Everything the trap entry saved: GPRs, vector, error code, native frame. */
struct trap_regs {
	u64 rax, rbx, rcx, rdx, rsi, rdi, rbp;
	u64 r8, r9, r10, r11, r12, r13, r14, r15;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss;
};

/* The last fault a probe (extable entry) recovered from. */
struct fault_record {
	unsigned int count;
	u64 vector, error, rip, cs, rsp, cr2;
	u64 irq_enabled;	/* shared->irq_enabled seen by the handler */
};

/* Debug traps (#DB) in guest-kernel mode, each taken and its TF cleared. */
struct debug_record {
	unsigned int count;
	u64 rip;		/* of the last one */
};

/* Upcalls (LGUEST_UPCALL_VECTOR) seen since the counters were reset. */
struct upcall_record {
	unsigned int count;
	unsigned int empty;	/* upcalls that found no pending line */
	u64 lines;		/* every line taken, ORed */
	u64 irq_enabled_inside;	/* shared->irq_enabled seen by the handler */
	u64 rip, cs, rflags;
	u64 tsc;		/* rdtsc at handler entry (benchmark) */
};

/* How a user-mode run ended: the event that brought the CPU back. */
struct user_exit {
	struct trap_regs regs;
	u64 cr2;
	u64 irq_enabled;	/* shared->irq_enabled when the event arrived */
	u64 frame_addr;		/* where the frame was built (kernel stack?) */
};

/* A register snapshot for the hypercall round-trip check (entry.S). */
struct gprs {
	u64 rax, rbx, rcx, rdx, rsi, rdi, rbp;
	u64 r8, r9, r10, r11, r12, r13, r14, r15, rsp;
};

/* setjmp/longjmp for the kernel side: callee-saved registers only. */
struct kctx {
	u64 rip, rsp, rbx, rbp, r12, r13, r14, r15;
};

/* entry.S */
extern char kernel_stack[], kernel_stack_top[];
extern struct gprs regs_before, regs_after;
extern const u64 trap_entry_table[32];
void trap_entry_upcall(void);
void syscall_entry(void);
void hcall_regs_roundtrip(void);
int ctx_save(struct kctx *ctx) __attribute__((returns_twice));
noreturn void ctx_restore(struct kctx *ctx, int value);
noreturn void enter_user(u64 rip, u64 rsp, u64 arg, u64 rflags);
void iret_to_next(u64 cs, u64 rflags);
noreturn void iret_through(const struct lguest_iret_frame *frame);
/* Each probe returns 0 if the access or instruction completed, 1 if it faulted. */
int probe_read(u64 addr, u64 *value);
int probe_write(u64 addr, u64 value);
int probe_exec(u64 addr);		/* call addr (a ret) */
int probe_int3(void);

/* user.S: position-independent code run at USER_CODE_VA */
extern char __user_text_start[], __user_text_end[];
extern char user_syscall[], user_syscall_ret[], user_read[], user_read_insn[], user_jump[],
	user_write[], user_write_insn[], user_cli[], user_cli_insn[],
	user_syscall_loop[], user_spin[], user_read_segments[], user_in[],
	user_in_insn[], user_hcall[], user_hostile_read[], user_hostile_ud[],
	user_hostile_gp[], user_hostile_int3[], user_hostile_syscall[],
	user_hostile_spin[], user_hostile_spin_loop[], user_movss_syscall[], user_report_iret_regs[],
	user_syscall_on_stack[];

/* cpu.S: LSL of the vDSO's CPU and node selector (0x7b); 0, or 1: no such */
int lsl_cpunode(u64 *limit);

/* lib.c */
/* The page shared with lg.ko (LHCALL_INIT), alone in its page. */
extern union shared_page_u {
	struct lguest_shared s;
	u8 page[PAGE_SIZE];
} shared_page __attribute__((aligned(PAGE_SIZE)));
#define shared (shared_page.s)
/*
 * A second kernel stack, for cases that store it in the shared page and
 * check that lg.ko puts frames there.
 */
extern u64 alternate_stack[512];
#define ALTERNATE_STACK_TOP	((u64)&alternate_stack[512])
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void console_write(const char *s, size_t len);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void shutdown(u64 kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
u64 parse_number(const char **s);
u64 tsc_per_ms(void);
void spin_ms(u64 ms, bool (*until)(void));

/* mm.c */
extern u64 ram_top;		/* end of guest RAM (e820) */
static inline void *phys_to_virt(u64 pa) { return (void *)(DIRECT_MAP + pa); }
static inline u64 image_to_phys(const void *va) { return (u64)va - KERNEL_MAP; }
void mm_init(const void *boot_params);
u64 alloc_page(void);
u64 *pml4_create(void);
u64 *entry_lookup(u64 *pml4, u64 va, int level, u64 flags);
u64 *pte_lookup(u64 *pml4, u64 va, u64 flags);
void map_page(u64 *pml4, u64 va, u64 pa, u64 flags);
void unmap_page(u64 *pml4, u64 va);
void load_pml4(u64 *pml4);
extern u64 *kernel_pml4;	/* the tables every case starts with */
#define SCRATCH_VA	0xffffc90000000000UL	/* our own PML4 slot */

/* trap.c */
extern struct fault_record last_fault;
extern struct debug_record debug_traps;
extern u64 exec_probe_target;		/* where probe_exec may fault */
extern struct upcall_record upcalls;
void traps_install(void);
void irq_state_reset(void);
struct user_exit *run_user(const char *stub, u64 arg, u64 rflags);
struct user_exit *run_user_through(const struct lguest_iret_frame *frame);
u64 user_va(const char *stub);
extern struct user_exit user_echo;	/* state at the last USER_SYS_ECHO */
extern bool user_exit_on_upcall;	/* an upcall from user mode ends the run */
/* Maps the page of a user-mode page fault (true: resume the instruction). */
extern bool (*user_fault_mapper)(u64 cr2, u64 error);
extern unsigned int user_faults_mapped;

/* main.c: the case registry */
#define CASE_FATAL	0x1	/* succeeds by getting the guest killed */
#define CASE_MANUAL	0x2	/* a helper for the runner, never in the default run */

struct test_case {
	const char *name;
	void (*run)(void);
	unsigned int flags;
};

#define TEST_CASE(name, fn, flags)					\
	static const struct test_case case_##fn				\
	__attribute__((used, section("testcases"), aligned(8))) =	\
		{ name, fn, flags }

void case_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void case_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool case_running(void);
void expect_crash(const char *pattern);
noreturn void spin_announced(void);	/* cases-fatal.c */
extern const char *cmdline;
bool cmdline_find(const char *key, const char **value);
bool cmdline_next(const char *key, const char **pos, const char **value);

/* Record the first failure and leave the case function. */
#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			case_fail(__VA_ARGS__);				\
			return;						\
		}							\
	} while (0)

#endif /* GUEST_H */
