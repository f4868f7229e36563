/* Named network namespaces (netns/ns.h). Creation follows what the kernel needs for a name
 * to outlive the thread that made the namespace: a fresh namespace from unshare, its nsfs
 * file bind-mounted on an empty file in /run/netns, then the thread goes home. */
#include "netns/ns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Where the ownership locks live; not in /run/netns, which holds namespaces only. */
#define LOCK_DIR "/run/braid"

static int path_of(const char *name, char *path, size_t len)
{
	if (!name[0] || strchr(name, '/') || strlen(name) > BRAID_NETNS_NAME_MAX)
		return -EINVAL;
	snprintf(path, len, "%s/%s", BRAID_NETNS_DIR, name);
	return 0;
}

int braid_netns_enter(int netns_fd)
{
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (home < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		int e = -errno;

		close(home);
		return e;
	}
	return home;
}

int braid_netns_leave(int home_fd)
{
	int rc = setns(home_fd, CLONE_NEWNET) < 0 ? -errno : 0;

	close(home_fd);
	return rc;
}

/* In a new namespace, pins it at path; the thread is back home whatever happens. */
static int unshare_and_pin(const char *path)
{
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), rc = 0;

	if (home < 0)
		return -errno;
	if (unshare(CLONE_NEWNET) < 0)
		rc = -errno;
	else if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0)
		rc = -errno;
	if (braid_netns_leave(home) < 0 && rc == 0)
		rc = -EPERM;
	return rc;
}

int braid_netns_create(const char *name)
{
	char path[sizeof(BRAID_NETNS_DIR) + BRAID_NETNS_NAME_MAX + 2];
	int fd, rc = path_of(name, path, sizeof(path));

	if (rc)
		return rc;
	if (mkdir(BRAID_NETNS_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	rc = unshare_and_pin(path);
	if (rc == 0)
		rc = braid_netns_open(name);
	if (rc < 0) {
		umount2(path, MNT_DETACH);
		unlink(path);
	}
	return rc;
}

int braid_netns_open(const char *name)
{
	char path[sizeof(BRAID_NETNS_DIR) + BRAID_NETNS_NAME_MAX + 2];
	int rc = path_of(name, path, sizeof(path)), fd;

	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int braid_netns_remove(const char *name)
{
	char path[sizeof(BRAID_NETNS_DIR) + BRAID_NETNS_NAME_MAX + 2];
	int rc = path_of(name, path, sizeof(path));

	if (rc)
		return rc;
	/* A file left by a run killed between creating it and mounting has no mount: EINVAL. */
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return -errno;
	return unlink(path) < 0 ? -errno : 0;
}

/* PREFIX-tx, PREFIX-rx or PREFIX-lN: the roles of netns/bench.h, matched exactly so that
 * prefix "a" never takes "a-b-tx", a namespace of prefix "a-b". */
static int is_ours(const char *entry, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *role = entry + n + 1;

	if (strncmp(entry, prefix, n) != 0 || entry[n] != '-')
		return 0;
	if (strcmp(role, "tx") == 0 || strcmp(role, "rx") == 0)
		return 1;
	if (role[0] != 'l' || role[1] == '\0')
		return 0;
	for (const char *p = role + 1; *p; p++)
		if (*p < '0' || *p > '9' || p - role > 3)
			return 0;
	return 1;
}

int braid_netns_remove_prefix(const char *prefix)
{
	DIR *dir = opendir(BRAID_NETNS_DIR);
	struct dirent *entry;
	int removed = 0, rc = 0;

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((entry = readdir(dir)) != NULL) {
		if (!is_ours(entry->d_name, prefix))
			continue;
		int r = braid_netns_remove(entry->d_name);

		if (r == 0)
			removed++;
		else if (rc == 0)
			rc = r;
	}
	closedir(dir);
	return rc ? rc : removed;
}

static int lock_path(const char *prefix, char *path, size_t len)
{
	if (!prefix[0] || strchr(prefix, '/') || strlen(prefix) > BRAID_NETNS_NAME_MAX)
		return -EINVAL;
	snprintf(path, len, "%s/netns-%s.lock", LOCK_DIR, prefix);
	return 0;
}

void braid_netns_unlock(const char *prefix, int lock_fd)
{
	char path[sizeof(LOCK_DIR) + BRAID_NETNS_NAME_MAX + 16];

	/* Unlinked while still held, so no other process can take a lock on it meanwhile. */
	if (lock_path(prefix, path, sizeof(path)) == 0)
		unlink(path);
	close(lock_fd);
	/* The folder goes with the last lock (a live run's lock keeps it: rmdir fails). */
	rmdir(LOCK_DIR);
}

int braid_netns_lock(const char *prefix)
{
	char path[sizeof(LOCK_DIR) + BRAID_NETNS_NAME_MAX + 16];
	int fd, rc = lock_path(prefix, path, sizeof(path));

	if (rc)
		return rc;
	if (mkdir(LOCK_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return e;
	}
	return fd;
}
