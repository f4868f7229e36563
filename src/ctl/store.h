/* braidd's sessions kept in SQLite (WAL), so that a restart, even after SIGKILL, brings
 * them back with their ids, the ports they had bound and their counters' last saved
 * values. A database that cannot be read is an error the daemon stops on: it never starts
 * afresh over sessions it could not read. */
#ifndef BRAID_CTL_STORE_H
#define BRAID_CTL_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "ctl/manager.h"

struct ctl_store;

/* Opens and checks the database (its integrity and schema). A missing file is created
 * only when `create` is set, as a file only its owner can read (it holds PSKs). */
struct ctl_store *ctl_store_open(const char *path, bool create, char *err, size_t err_len);
void ctl_store_close(struct ctl_store *s);

/* Recreates every saved session in the manager; returns how many, or -1 with err. */
int ctl_store_load(struct ctl_store *s, struct ctl_manager *m, char *err, size_t err_len);
/* Keeps the table in step with the manager: subscribe with the store as arg. */
void ctl_store_on_event(void *arg, enum ctl_event_type type, const struct ctl_status *st);
/* Saves every session's counters in one transaction; false (with err) on failure. */
bool ctl_store_save_counters(struct ctl_store *s, struct ctl_manager *m, char *err,
			     size_t err_len);

#endif
