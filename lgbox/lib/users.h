/*
 * users.h - user and group names to ids from /etc/passwd and /etc/group
 * (users.c), for launch --user and net-setup tap --owner/--group.  The
 * files are read directly: the appliance has no NSS, and musl's lookup
 * functions would bring their own file parser and an nscd client.
 */
#ifndef LGBOX_LIB_USERS_H
#define LGBOX_LIB_USERS_H

/*
 * A user name or number; *gid gets the user's group from /etc/passwd (a
 * number without an entry there is its own group).  0, or -1 if unknown.
 */
int user_lookup(const char *name, unsigned int *uid, unsigned int *gid);
/* A group name or number; 0, or -1 if unknown. */
int group_lookup(const char *name, unsigned int *gid);

#endif /* LGBOX_LIB_USERS_H */
