#include "ctl/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA_VERSION 1

struct ctl_store {
	sqlite3 *db;
	struct ctl_manager *manager; /* set by load, for the specs of new sessions */
	char path[1024];
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS sessions ("
	" id TEXT PRIMARY KEY, kind INTEGER NOT NULL, transport INTEGER NOT NULL,"
	" listen_address TEXT NOT NULL, listen_port INTEGER NOT NULL,"
	" listen_interface TEXT NOT NULL,"
	" forward_address TEXT NOT NULL, forward_port INTEGER NOT NULL,"
	" forward_interface TEXT NOT NULL,"
	" destination_address TEXT NOT NULL, destination_port INTEGER NOT NULL,"
	" destination_interface TEXT NOT NULL,"
	" rtcp INTEGER NOT NULL, max_packet_rate INTEGER NOT NULL,"
	" max_bitrate INTEGER NOT NULL, idle_timeout_ms INTEGER NOT NULL,"
	" output TEXT NOT NULL, latency_ms INTEGER NOT NULL, psk BLOB,"
	" packets_received INTEGER NOT NULL DEFAULT 0, packets_sent INTEGER NOT NULL DEFAULT 0,"
	" bytes_received INTEGER NOT NULL DEFAULT 0, bytes_sent INTEGER NOT NULL DEFAULT 0,"
	" packets_lost INTEGER NOT NULL DEFAULT 0, packets_invalid INTEGER NOT NULL DEFAULT 0,"
	" packets_rate_limited INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL DEFAULT (strftime('%s','now')));";

static bool fail(struct ctl_store *s, char *err, size_t err_len, const char *what)
{
	snprintf(err, err_len, "database '%s': %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return false;
}

/* A one-row answer as text ("ok", "wal"...). */
static bool pragma_text(struct ctl_store *s, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st;
	bool ok = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
		  sqlite3_step(st) == SQLITE_ROW;
	if (ok)
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return ok;
}

static bool pragma_int(struct ctl_store *s, const char *sql, int *out)
{
	sqlite3_stmt *st;
	bool ok = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
		  sqlite3_step(st) == SQLITE_ROW;
	if (ok)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return ok;
}

/* Integrity first: a damaged file is refused before anything is written to it. */
static bool check_and_prepare(struct ctl_store *s, bool created, char *err, size_t err_len)
{
	char text[256];
	int version = 0;
	if (!pragma_text(s, "PRAGMA quick_check", text, sizeof(text)))
		return fail(s, err, err_len, "cannot be read");
	if (strcmp(text, "ok") != 0) {
		snprintf(err, err_len, "database '%s' is damaged: %s", s->path, text);
		return false;
	}
	if (!pragma_int(s, "PRAGMA user_version", &version))
		return fail(s, err, err_len, "cannot read its version");
	if (!created && version != SCHEMA_VERSION) {
		snprintf(err, err_len, "database '%s' has schema version %d, braidd knows %d: "
			 "not a braidd database, or another version's", s->path, version,
			 SCHEMA_VERSION);
		return false;
	}
	if (!pragma_text(s, "PRAGMA journal_mode=WAL", text, sizeof(text)) ||
	    strcmp(text, "wal") != 0)
		return fail(s, err, err_len, "cannot switch to WAL");
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
	if (sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(s, err, err_len, "cannot set up its table");
	return true;
}

/* Makes the file first, owner-only: SQLite would make it with the umask's mode. */
static bool create_file(const char *path, char *err, size_t err_len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, err_len, "cannot create database '%s': %s", path, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

struct ctl_store *ctl_store_open(const char *path, bool create, char *err, size_t err_len)
{
	bool exists = access(path, F_OK) == 0;
	if (!exists && !create) {
		snprintf(err, err_len, "database '%s' does not exist (give --create-db to make a "
			 "new one)", path);
		return NULL;
	}
	if (!exists && !create_file(path, err, err_len))
		return NULL;
	struct ctl_store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fail(s, err, err_len, "cannot be opened");
		ctl_store_close(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 2000);
	if (!check_and_prepare(s, !exists, err, err_len)) {
		ctl_store_close(s);
		return NULL;
	}
	return s;
}

void ctl_store_close(struct ctl_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s);
}

static void read_endpoint(sqlite3_stmt *st, int col, struct ctl_endpoint *ep)
{
	snprintf(ep->address, sizeof(ep->address), "%s",
		 (const char *)sqlite3_column_text(st, col));
	ep->port = (uint32_t)sqlite3_column_int64(st, col + 1);
	snprintf(ep->interface, sizeof(ep->interface), "%s",
		 (const char *)sqlite3_column_text(st, col + 2));
}

static void read_row(sqlite3_stmt *st, struct ctl_spec *spec, struct ctl_stats *counters)
{
	memset(spec, 0, sizeof(*spec));
	memset(counters, 0, sizeof(*counters));
	spec->kind = (enum ctl_kind)sqlite3_column_int(st, 1);
	spec->transport = (enum ctl_transport)sqlite3_column_int(st, 2);
	read_endpoint(st, 3, &spec->listen);
	read_endpoint(st, 6, &spec->forward);
	read_endpoint(st, 9, &spec->destination);
	spec->rtcp = sqlite3_column_int(st, 12) != 0;
	spec->max_packet_rate = (uint64_t)sqlite3_column_int64(st, 13);
	spec->max_bitrate = (uint64_t)sqlite3_column_int64(st, 14);
	spec->idle_timeout_ms = (uint64_t)sqlite3_column_int64(st, 15);
	snprintf(spec->output, sizeof(spec->output), "%s", (const char *)sqlite3_column_text(st, 16));
	spec->latency_ms = (uint64_t)sqlite3_column_int64(st, 17);
	int psk_len = sqlite3_column_bytes(st, 18);
	if (psk_len > 0 && (size_t)psk_len <= sizeof(spec->psk)) {
		memcpy(spec->psk, sqlite3_column_blob(st, 18), (size_t)psk_len);
		spec->psk_len = (size_t)psk_len;
	}
	uint64_t *c[] = { &counters->packets_received, &counters->packets_sent,
			  &counters->bytes_received, &counters->bytes_sent, &counters->packets_lost,
			  &counters->packets_invalid, &counters->packets_rate_limited };
	for (int i = 0; i < 7; i++)
		*c[i] = (uint64_t)sqlite3_column_int64(st, 19 + i);
}

int ctl_store_load(struct ctl_store *s, struct ctl_manager *m, char *err, size_t err_len)
{
	sqlite3_stmt *st;
	int count = 0, rc;
	s->manager = m;
	if (sqlite3_prepare_v2(s->db, "SELECT * FROM sessions ORDER BY created, rowid", -1, &st,
			       NULL) != SQLITE_OK)
		return fail(s, err, err_len, "cannot read its sessions"), -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ctl_spec spec;
		struct ctl_stats counters;
		char why[CTL_ERROR_MAX];
		const char *id = (const char *)sqlite3_column_text(st, 0);
		read_row(st, &spec, &counters);
		if (ctl_manager_restore(m, id ? id : "", &spec, &counters, why, sizeof(why)))
			fprintf(stderr, "braidd: database '%s': session %.32s not restored: %s\n",
				s->path, id ? id : "?", why);
		else
			count++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(s, err, err_len, "cannot read its sessions"), -1;
	return count;
}

static void bind_endpoint(sqlite3_stmt *st, int col, const struct ctl_endpoint *ep)
{
	sqlite3_bind_text(st, col, ep->address, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, col + 1, ep->port);
	sqlite3_bind_text(st, col + 2, ep->interface, -1, SQLITE_TRANSIENT);
}

/* A restored session is announced as created too: its row, counters included, stays. */
static void insert(struct ctl_store *s, const struct ctl_status *status)
{
	struct ctl_spec spec;
	sqlite3_stmt *st;
	if (!s->manager || ctl_manager_spec(s->manager, status->id, &spec) != CTL_OK)
		return;
	if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO sessions (id, kind, transport,"
			       " listen_address, listen_port, listen_interface, forward_address,"
			       " forward_port, forward_interface, destination_address,"
			       " destination_port, destination_interface, rtcp, max_packet_rate,"
			       " max_bitrate, idle_timeout_ms, output, latency_ms, psk)"
			       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st,
			       NULL) != SQLITE_OK) {
		fprintf(stderr, "braidd: database '%s': %s\n", s->path, sqlite3_errmsg(s->db));
		return;
	}
	sqlite3_bind_text(st, 1, status->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, spec.kind);
	sqlite3_bind_int(st, 3, spec.transport);
	bind_endpoint(st, 4, &spec.listen);
	bind_endpoint(st, 7, &spec.forward);
	bind_endpoint(st, 10, &spec.destination);
	sqlite3_bind_int(st, 13, spec.rtcp);
	sqlite3_bind_int64(st, 14, (sqlite3_int64)spec.max_packet_rate);
	sqlite3_bind_int64(st, 15, (sqlite3_int64)spec.max_bitrate);
	sqlite3_bind_int64(st, 16, (sqlite3_int64)spec.idle_timeout_ms);
	sqlite3_bind_text(st, 17, spec.output, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 18, (sqlite3_int64)spec.latency_ms);
	sqlite3_bind_blob(st, 19, spec.psk, (int)spec.psk_len, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		fprintf(stderr, "braidd: database '%s': session %s not saved: %s\n", s->path,
			status->id, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
}

static void delete_row(struct ctl_store *s, const char *id)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM sessions WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		fprintf(stderr, "braidd: database '%s': session %s not removed: %s\n", s->path, id,
			sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
}

void ctl_store_on_event(void *arg, enum ctl_event_type type, const struct ctl_status *st)
{
	if (type == CTL_EVENT_CREATED)
		insert(arg, st);
	else if (type == CTL_EVENT_CLOSED)
		delete_row(arg, st->id);
}

struct save_pass {
	struct ctl_store *s;
	sqlite3_stmt *st;
	bool ok;
};

static void save_one(void *arg, const struct ctl_status *status)
{
	struct save_pass *p = arg;
	const struct ctl_stats *c = &status->stats;
	const uint64_t values[] = { c->packets_received, c->packets_sent, c->bytes_received,
				    c->bytes_sent, c->packets_lost, c->packets_invalid,
				    c->packets_rate_limited };
	sqlite3_reset(p->st);
	for (int i = 0; i < 7; i++)
		sqlite3_bind_int64(p->st, i + 1, (sqlite3_int64)values[i]);
	sqlite3_bind_text(p->st, 8, status->id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(p->st) != SQLITE_DONE)
		p->ok = false;
}

bool ctl_store_save_counters(struct ctl_store *s, struct ctl_manager *m, char *err,
			     size_t err_len)
{
	struct save_pass p = { .s = s, .ok = true };
	if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return fail(s, err, err_len, "cannot save counters");
	if (sqlite3_prepare_v2(s->db, "UPDATE sessions SET packets_received=?, packets_sent=?,"
			       " bytes_received=?, bytes_sent=?, packets_lost=?,"
			       " packets_invalid=?, packets_rate_limited=? WHERE id=?", -1, &p.st,
			       NULL) != SQLITE_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return fail(s, err, err_len, "cannot save counters");
	}
	ctl_manager_foreach(m, save_one, &p);
	sqlite3_finalize(p.st);
	if (!p.ok || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail(s, err, err_len, "cannot save counters");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return false;
	}
	return true;
}
