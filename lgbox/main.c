/*
 * main.c - the multicall dispatcher.  lgbox is one static binary holding all
 * applets (BusyBox style) so that the appliance carries a single small file:
 * it runs the applet named by basename(argv[0]) (a link named "launch") or by
 * its first argument ("lgbox launch ..."), and manages itself with --list,
 * --install [-s] DIR, --help and --version.
 *
 * Applets are found through the "lgbox_applets" ELF section filled by
 * LGBOX_APPLET(); every applet parses its options with lgbox_getopt(), which
 * answers --help/-h and --version wherever they stand, so all behave alike.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lgbox.h"

#ifndef LGBOX_VERSION
#define LGBOX_VERSION "unknown"
#endif

/* Weak: a build with no applet at all has no such section. */
extern const struct lgbox_applet __start_lgbox_applets[] __attribute__((weak));
extern const struct lgbox_applet __stop_lgbox_applets[] __attribute__((weak));

#define for_each_applet(a) \
	for (a = __start_lgbox_applets; a < __stop_lgbox_applets; a++)

static const struct lgbox_applet *find_applet(const char *name)
{
	const struct lgbox_applet *a;

	for_each_applet(a)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

/*
 * Section order is link order; users expect --list sorted.  Returns the
 * number of applets; *sorted is a malloc'ed array the caller frees.  An
 * insertion sort: there are a handful of names, and qsort costs 2 KB.
 */
static size_t sorted_applets(const struct lgbox_applet ***sorted)
{
	size_t n = __stop_lgbox_applets - __start_lgbox_applets, i, j;
	const struct lgbox_applet **list = calloc(n ? n : 1, sizeof(*list));

	if (!list)
		lgbox_die("out of memory");
	for (i = 0; i < n; i++) {
		for (j = i; j > 0 && strcmp(list[j - 1]->name, __start_lgbox_applets[i].name) > 0; j--)
			list[j] = list[j - 1];
		list[j] = &__start_lgbox_applets[i];
	}
	*sorted = list;
	return n;
}

static void print_applet_list(FILE *out, const char *indent)
{
	const struct lgbox_applet **list;
	size_t n = sorted_applets(&list), i;

	for (i = 0; i < n; i++)
		fprintf(out, "%s%s\n", indent, list[i]->name);
	free(list);
}

static void print_main_usage(FILE *out)
{
	fprintf(out,
		"lgbox %s: the lguest appliance multicall binary\n"
		"\n"
		"Usage: lgbox APPLET [ARGS...]   (or call a link named APPLET)\n"
		"       lgbox --list             list the applets built in\n"
		"       lgbox --install [-s] DIR create a hard link (-s: symbolic link)\n"
		"                                named after each applet in DIR\n"
		"       lgbox --help | --version\n"
		"       lgbox APPLET --help      usage of one applet\n"
		"\n"
		"Applets:\n", LGBOX_VERSION);
	print_applet_list(out, "  ");
}

/*
 * Is DIR/NAME already a link to this binary?  stat() follows symbolic links,
 * so comparing inodes covers both hard and symbolic links.
 */
static int is_link_to(const char *path, const struct stat *self)
{
	struct stat st;

	return stat(path, &st) == 0 && st.st_dev == self->st_dev &&
	       st.st_ino == self->st_ino;
}

/*
 * Existing links to this binary are left alone so --install can be re-run;
 * anything else already at DIR/NAME is reported, never replaced.
 */
static int install_links(const char *dir, int symbolic)
{
	char self_path[PATH_MAX], link_path[PATH_MAX];
	const struct lgbox_applet *a;
	struct stat self;
	ssize_t len;
	int failed = 0;

	len = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (len < 0 || stat(self_path, &self) < 0) {
		lgbox_warn_errno("--install: cannot find this binary through /proc/self/exe (is /proc mounted?)");
		return LGBOX_EXIT_FAILURE;
	}
	self_path[len] = '\0';

	for_each_applet(a) {
		snprintf(link_path, sizeof(link_path), "%s/%s", dir, a->name);
		if (is_link_to(link_path, &self))
			continue;
		if ((symbolic ? symlink(self_path, link_path) :
				link(self_path, link_path)) == 0)
			continue;
		if (errno == EEXIST)
			lgbox_warn("--install: %s exists and is not lgbox; left unchanged", link_path);
		else if (errno == EXDEV)
			lgbox_warn("--install: cannot hard-link %s across file systems; use --install -s",
				   link_path);
		else
			lgbox_warn_errno("--install: cannot create %s", link_path);
		failed = 1;
	}
	return failed ? LGBOX_EXIT_FAILURE : LGBOX_EXIT_OK;
}

static int lgbox_self_main(int argc, char **argv)
{
	if (argc < 2) {
		print_main_usage(stderr);
		return LGBOX_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_main_usage(stdout);
		return LGBOX_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("lgbox %s\n", LGBOX_VERSION);
		return LGBOX_EXIT_OK;
	}
	if (strcmp(argv[1], "--list") == 0) {
		print_applet_list(stdout, "");
		return LGBOX_EXIT_OK;
	}
	if (strcmp(argv[1], "--install") == 0) {
		int symbolic = argc > 2 && strcmp(argv[2], "-s") == 0;

		if (argc != 3 + symbolic)
			return lgbox_usage_error("--install needs one directory: lgbox --install [-s] DIR");
		return install_links(argv[2 + symbolic], symbolic);
	}
	if (argv[1][0] == '-')
		return lgbox_usage_error("unknown option %s (see 'lgbox --help')", argv[1]);
	return lgbox_usage_error("unknown applet \"%s\" (see 'lgbox --list')", argv[1]);
}

/* --help and --version are answered by lgbox_getopt(), wherever they stand. */
static int run_applet(const struct lgbox_applet *a, int argc, char **argv)
{
	lgbox_applet = a->name;
	lgbox_applet_usage = a->usage;
	return a->main(argc, argv);
}

int main(int argc, char **argv)
{
	const struct lgbox_applet *a;
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

	base = base ? base + 1 : (argc > 0 ? argv[0] : "lgbox");
	/* Any other name (lgbox, lgbox.debug, ...) is the multiplexer. */
	a = find_applet(base);
	if (a)
		return run_applet(a, argc, argv);
	if (argc > 1 && (a = find_applet(argv[1])))
		return run_applet(a, argc - 1, argv + 1);
	return lgbox_self_main(argc, argv);
}
