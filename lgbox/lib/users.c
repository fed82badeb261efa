/*
 * users.c - see users.h.  Both files hold "name:password:id:..." lines;
 * passwd has the user's group id as fourth field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lgbox.h"
#include "users.h"

/* Fields 3 and 4 of the line of FILE whose first field is NAME. */
static int find_entry(const char *file, const char *name, unsigned int *id,
		      unsigned int *id2)
{
	char line[512], *field[4], *colon;
	FILE *f = fopen(file, "r");
	uint64_t n, n2;
	int found = -1, i;

	while (f && found < 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		field[0] = line;
		for (i = 1; i < 4; i++) {	/* empty fields count: no strtok */
			colon = field[i - 1] ? strchr(field[i - 1], ':') : NULL;
			field[i] = colon ? colon + 1 : NULL;
			if (colon)
				*colon = '\0';
		}
		if (field[3])
			field[3][strcspn(field[3], ":")] = '\0';
		if (strcmp(field[0], name) || !field[2] ||
		    lgbox_parse_uint(field[2], 0xfffffffe, &n) < 0)
			continue;
		*id = n;
		if (id2)
			*id2 = field[3] && lgbox_parse_uint(field[3], 0xfffffffe, &n2) == 0 ? n2 : n;
		found = 0;
	}
	if (f)
		fclose(f);
	return found;
}

int user_lookup(const char *name, unsigned int *uid, unsigned int *gid)
{
	uint64_t n;

	if (lgbox_parse_uint(name, 0xfffffffe, &n) == 0) {
		*uid = *gid = n;
		return 0;
	}
	return find_entry("/etc/passwd", name, uid, gid);
}

int group_lookup(const char *name, unsigned int *gid)
{
	uint64_t n;

	if (lgbox_parse_uint(name, 0xfffffffe, &n) == 0) {
		*gid = n;
		return 0;
	}
	return find_entry("/etc/group", name, gid, NULL);
}
