/* Named network namespaces as iproute2 keeps them: a namespace is pinned by a bind mount of
 * its nsfs file at /run/netns/NAME, so `ip netns exec NAME` finds it, and it lives until that
 * mount goes and the last process and socket inside it are gone. braid makes them itself
 * (unshare, mount) and never runs ip. */
#ifndef BRAID_NETNS_NS_H
#define BRAID_NETNS_NS_H

#include <stddef.h>

#define BRAID_NETNS_DIR "/run/netns"
/* Namespace names are file names; braid's are PREFIX-ROLE. */
#define BRAID_NETNS_NAME_MAX 64

/* Creates the namespace NAME (fresh: loopback down, nothing else) and returns an fd open on
 * it (close it when done), or -errno; -EEXIST when the name is taken. The calling thread's
 * own namespace does not change. */
int braid_netns_create(const char *name);
/* An fd on the namespace NAME, or -errno. */
int braid_netns_open(const char *name);
/* Unpins the namespace NAME (unmount, unlink). It dies, with every device in it, once no
 * process or socket holds it. 0, or -errno (-ENOENT when there was none). */
int braid_netns_remove(const char *name);
/* Removes every namespace of PREFIX's bench: PREFIX-tx, PREFIX-rx and PREFIX-lN (N of 1 to
 * 3 digits). Returns how many, or -errno. */
int braid_netns_remove_prefix(const char *prefix);

/* Moves the calling thread into the namespace fd refers to. Returns an fd on the namespace
 * it was in, for braid_netns_leave, or -errno. */
int braid_netns_enter(int netns_fd);
/* Goes back to the namespace braid_netns_enter returned, and closes that fd. 0 or -errno. */
int braid_netns_leave(int home_fd);

/* Takes the lock that says a braid process owns PREFIX's namespaces: an fd to keep open
 * while they exist, -EBUSY when another live process holds it, or -errno. */
int braid_netns_lock(const char *prefix);
/* Releases it and removes the lock file. */
void braid_netns_unlock(const char *prefix, int lock_fd);

#endif
