/* Exactly-once client sessions in front of any ballot_fsm, and the envelope a proposal
 * travels in (see ballot/fsm.h).
 *
 * The table is a hash map from client id to session plus a list of the sessions in the
 * order they were last used. The session clock never goes back and every use stamps the
 * clock, so the list is also ordered by last-used time: expiry and eviction both take from
 * its old end, in O(1) per session. Everything here depends on the applied entries alone,
 * and the snapshot keeps the list order, so a replica restored from a snapshot forgets
 * the same sessions at the same entries as one that applied the whole log. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ballot/fsm.h"
#include "ballot/resp.h"
#include "common/assert.h"
#include "common/buf.h"
#include "kv/bytes_out.h"

#define SNAPSHOT_MAGIC "BSES"
#define SNAPSHOT_MAGIC_BYTES 4
#define SNAPSHOT_VERSION 1
#define SNAPSHOT_HEADER_BYTES (SNAPSHOT_MAGIC_BYTES + 1 + 8 + 4)
/* Per session: client id, seq, last used, reply length. */
#define SNAPSHOT_SESSION_MIN_BYTES (8 + 8 + 8 + 8)
#define SNAPSHOT_TRAILER_BYTES (8 + 8) /* machine length ... checksum */

/* Buckets of a new session table; it doubles past load 1. */
#define SESSION_BUCKETS_MIN 64

int ballot_fsm_append(ballot_buf *out, const void *data, size_t len)
{
	return ballot_buf_append(out, data, len);
}

/* --- Envelopes ---------------------------------------------------------------------------- */

int ballot_envelope_encode(const ballot_envelope *e, ballot_buf *out)
{
	int rc = ballot_buf_reserve(out, BALLOT_ENVELOPE_HEADER_BYTES + e->cmd_len);
	if (rc != 0)
		return rc;
	buf_put_u8(out, BALLOT_ENVELOPE_VERSION);
	buf_put_u64(out, e->client_id);
	buf_put_u64(out, e->seq);
	buf_put_u64(out, e->time_ms);
	ballot_buf_append(out, e->cmd, e->cmd_len);
	return 0;
}

int ballot_envelope_decode(const void *data, size_t len, ballot_envelope *e, ballot_errmsg *em)
{
	byte_reader r = byte_reader_of(data, len);
	uint8_t version;
	if (!read_u8(&r, &version))
		return ballot_errorf(em, BALLOT_ECORRUPT, "empty envelope");
	if (version != BALLOT_ENVELOPE_VERSION)
		return ballot_errorf(em, BALLOT_ECORRUPT, "envelope version %u; this build reads %d", version,
				     BALLOT_ENVELOPE_VERSION);
	ballot_envelope d = {0};
	if (!read_u64(&r, &d.client_id) || !read_u64(&r, &d.seq) || !read_u64(&r, &d.time_ms))
		return ballot_errorf(em, BALLOT_ECORRUPT, "envelope of %zu bytes is shorter than its %d-byte header",
				     len, BALLOT_ENVELOPE_HEADER_BYTES);
	d.cmd = r.p;
	d.cmd_len = r.left;
	*e = d;
	return 0;
}

/* --- The session table ------------------------------------------------------------------ */

typedef struct session {
	uint64_t client_id;
	uint64_t seq;          /* the last sequence number applied */
	uint64_t last_used_ms; /* session clock at its last use */
	struct session *older; /* the use-order list */
	struct session *newer;
	struct session *hash_next;
	char *reply; /* the reply to seq, owned */
	size_t reply_len;
} session;

typedef struct session_table {
	session **buckets;
	size_t bucket_count; /* a power of two */
	size_t count;
	session *oldest;
	session *newest;
	uint64_t clock_ms;
} session_table;

struct ballot_sessions {
	ballot_session_config config;
	ballot_fsm fsm;
	session_table t;
};

static size_t bucket_of(const session_table *t, uint64_t client_id)
{
	/* splitmix64's finalizer: client ids may be sequential. */
	uint64_t x = client_id;
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return (size_t)(x & (t->bucket_count - 1));
}

static int table_init(session_table *t)
{
	*t = (session_table){.bucket_count = SESSION_BUCKETS_MIN};
	t->buckets = calloc(t->bucket_count, sizeof *t->buckets);
	return t->buckets != NULL ? 0 : BALLOT_ENOMEM;
}

static void table_free(session_table *t)
{
	session *s = t->oldest;
	while (s != NULL) {
		session *next = s->newer;
		free(s->reply);
		free(s);
		s = next;
	}
	free(t->buckets);
	*t = (session_table){0};
}

static session *table_find(const session_table *t, uint64_t client_id)
{
	for (session *s = t->buckets[bucket_of(t, client_id)]; s != NULL; s = s->hash_next) {
		if (s->client_id == client_id)
			return s;
	}
	return NULL;
}

/* Doubles the buckets; on allocation failure keeps the old ones (longer chains). */
static void table_grow(session_table *t)
{
	size_t count = t->bucket_count * 2;
	session **buckets = calloc(count, sizeof *buckets);
	if (buckets == NULL)
		return;
	free(t->buckets);
	t->buckets = buckets;
	t->bucket_count = count;
	for (session *s = t->oldest; s != NULL; s = s->newer) {
		size_t b = bucket_of(t, s->client_id);
		s->hash_next = buckets[b];
		buckets[b] = s;
	}
}

static void list_unlink(session_table *t, session *s)
{
	if (s->older != NULL)
		s->older->newer = s->newer;
	else
		t->oldest = s->newer;
	if (s->newer != NULL)
		s->newer->older = s->older;
	else
		t->newest = s->older;
	s->older = s->newer = NULL;
}

static void list_push_newest(session_table *t, session *s)
{
	s->older = t->newest;
	s->newer = NULL;
	if (t->newest != NULL)
		t->newest->newer = s;
	else
		t->oldest = s;
	t->newest = s;
}

/* Links a new session as the most recently used. */
static void table_add(session_table *t, session *s)
{
	size_t b = bucket_of(t, s->client_id);
	s->hash_next = t->buckets[b];
	t->buckets[b] = s;
	list_push_newest(t, s);
	t->count++;
	if (t->count > t->bucket_count)
		table_grow(t);
}

static void table_remove(session_table *t, session *s)
{
	session **link = &t->buckets[bucket_of(t, s->client_id)];
	while (*link != s)
		link = &(*link)->hash_next;
	*link = s->hash_next;
	list_unlink(t, s);
	BALLOT_ASSERT(t->count > 0);
	t->count--;
	free(s->reply);
	free(s);
}

static void table_touch(session_table *t, session *s)
{
	BALLOT_ASSERT(s->last_used_ms <= t->clock_ms);
	s->last_used_ms = t->clock_ms;
	list_unlink(t, s);
	list_push_newest(t, s);
}

/* --- Configuration and lifetime ----------------------------------------------------------- */

ballot_session_config ballot_session_config_default(void)
{
	return (ballot_session_config){.ttl_ms = BALLOT_SESSION_TTL_DEFAULT_MS,
				       .sessions_max = BALLOT_SESSIONS_DEFAULT};
}

int ballot_session_config_check(const ballot_session_config *config, ballot_errmsg *em)
{
	if (config->ttl_ms < 1 || config->ttl_ms > BALLOT_SESSION_TTL_MAX_MS)
		return ballot_errorf(em, BALLOT_EINVAL, "session ttl %" PRIu64 " ms: must be 1 .. %llu ms",
				     config->ttl_ms, (unsigned long long)BALLOT_SESSION_TTL_MAX_MS);
	if (config->sessions_max < 1 || config->sessions_max > BALLOT_SESSIONS_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "sessions_max %" PRIu32 ": must be 1 .. %u",
				     config->sessions_max, BALLOT_SESSIONS_MAX);
	return 0;
}

int ballot_sessions_new(const ballot_session_config *config, ballot_fsm fsm, ballot_sessions **out,
			ballot_errmsg *em)
{
	*out = NULL;
	BALLOT_ASSERT(fsm.apply != NULL);
	BALLOT_ASSERT(fsm.snapshot != NULL);
	BALLOT_ASSERT(fsm.restore != NULL);
	int rc = ballot_session_config_check(config, em);
	if (rc != 0)
		return rc;
	ballot_sessions *s = calloc(1, sizeof *s);
	if (s == NULL || table_init(&s->t) != 0) {
		free(s);
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory for a session table");
	}
	s->config = *config;
	s->fsm = fsm;
	*out = s;
	return 0;
}

void ballot_sessions_free(ballot_sessions *s)
{
	if (s == NULL)
		return;
	table_free(&s->t);
	free(s);
}

size_t ballot_sessions_count(const ballot_sessions *s)
{
	return s->t.count;
}

uint64_t ballot_sessions_clock_ms(const ballot_sessions *s)
{
	return s->t.clock_ms;
}

/* --- Applying ---------------------------------------------------------------------------- */

/* Moves the clock to time_ms if that is later, and forgets the sessions idle for longer
 * than the TTL since. */
static void advance_clock(ballot_sessions *s, uint64_t time_ms)
{
	session_table *t = &s->t;
	if (time_ms > t->clock_ms)
		t->clock_ms = time_ms;
	while (t->oldest != NULL && t->clock_ms - t->oldest->last_used_ms > s->config.ttl_ms)
		table_remove(t, t->oldest);
}

static int reply_cached(ballot_sessions *s, session *se, ballot_buf *reply)
{
	table_touch(&s->t, se);
	return ballot_buf_append(reply, se->reply, se->reply_len);
}

/* Opens the session for a client's first request, forgetting the least recently used one
 * if the table is full. */
static session *open_session(ballot_sessions *s, uint64_t client_id)
{
	session *se = calloc(1, sizeof *se);
	if (se == NULL)
		return NULL;
	if (s->t.count == s->config.sessions_max)
		table_remove(&s->t, s->t.oldest);
	se->client_id = client_id;
	se->last_used_ms = s->t.clock_ms;
	table_add(&s->t, se);
	return se;
}

/* Remembers reply[from..] as the session's reply to seq. */
static int remember(ballot_sessions *s, session *se, uint64_t seq, const ballot_buf *reply, size_t from)
{
	size_t len = reply->len - from;
	char *copy = NULL;
	if (len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			return BALLOT_ENOMEM;
		memcpy(copy, reply->data + from, len);
	}
	free(se->reply);
	se->reply = copy;
	se->reply_len = len;
	se->seq = seq;
	table_touch(&s->t, se);
	return 0;
}

static int apply_in_session(ballot_sessions *s, uint64_t index, const ballot_envelope *e, ballot_buf *reply)
{
	session *se = table_find(&s->t, e->client_id);
	if (e->seq == 0)
		return ballot_resp_error(reply, "ERR invalid request: sequence numbers start at 1");
	if (se == NULL && e->seq > 1)
		return ballot_resp_error(reply,
					 "ERR session expired: client %" PRIu64 " has no session for sequence %" PRIu64
					 "; start a new session with a new client id",
					 e->client_id, e->seq);
	if (se != NULL && e->seq == se->seq)
		return reply_cached(s, se, reply);
	if (se != NULL && e->seq < se->seq)
		return ballot_resp_error(reply,
					 "ERR stale request: sequence %" PRIu64 " of client %" PRIu64
					 " already superseded by %" PRIu64,
					 e->seq, e->client_id, se->seq);
	bool opened = se == NULL;
	if (opened && (se = open_session(s, e->client_id)) == NULL)
		return BALLOT_ENOMEM;
	size_t start = reply->len;
	int rc = s->fsm.apply(s->fsm.ctx, index, s->t.clock_ms, e->cmd, e->cmd_len, reply);
	if (rc == 0)
		rc = remember(s, se, e->seq, reply, start);
	if (rc != 0 && opened)
		table_remove(&s->t, se); /* no session with nothing applied */
	return rc;
}

int ballot_sessions_apply(ballot_sessions *s, uint64_t index, const void *entry, size_t len, ballot_buf *reply)
{
	ballot_envelope e;
	ballot_errmsg em;
	if (ballot_envelope_decode(entry, len, &e, &em) != 0)
		return ballot_resp_error(reply, "ERR malformed envelope: %s", em.text);
	advance_clock(s, e.time_ms);
	if (e.client_id == 0)
		return s->fsm.apply(s->fsm.ctx, index, s->t.clock_ms, e.cmd, e.cmd_len, reply);
	return apply_in_session(s, index, &e, reply);
}

/* --- Snapshots --------------------------------------------------------------------------- */

static size_t sessions_bytes(const session_table *t)
{
	size_t bytes = 0;
	for (const session *se = t->oldest; se != NULL; se = se->newer)
		bytes += SNAPSHOT_SESSION_MIN_BYTES + se->reply_len;
	return bytes;
}

static void put_sessions(const session_table *t, ballot_buf *out)
{
	ballot_buf_append(out, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES);
	buf_put_u8(out, SNAPSHOT_VERSION);
	buf_put_u64(out, t->clock_ms);
	buf_put_u32(out, (uint32_t)t->count);
	for (const session *se = t->oldest; se != NULL; se = se->newer) {
		buf_put_u64(out, se->client_id);
		buf_put_u64(out, se->seq);
		buf_put_u64(out, se->last_used_ms);
		buf_put_u64(out, se->reply_len);
		ballot_buf_append(out, se->reply, se->reply_len);
	}
}

int ballot_sessions_snapshot(ballot_sessions *s, ballot_buf *out)
{
	size_t start = out->len;
	int rc = ballot_buf_reserve(out, SNAPSHOT_HEADER_BYTES + sessions_bytes(&s->t) + 8);
	if (rc != 0)
		return rc;
	put_sessions(&s->t, out);
	size_t len_at = out->len;
	buf_put_u64(out, 0); /* the machine's length, written below */
	rc = s->fsm.snapshot(s->fsm.ctx, out);
	if (rc == 0) {
		le_put_u64((unsigned char *)out->data + len_at, out->len - len_at - 8);
		rc = buf_put_u64(out, XXH3_64bits(out->data + start, out->len - start));
	}
	if (rc != 0)
		buf_truncate(out, start);
	return rc;
}

/* Reads one session record into a new session in t, checking it against the ones before. */
static int read_session(byte_reader *r, session_table *t, uint32_t i, ballot_errmsg *em)
{
	uint64_t id, seq, used, reply_len;
	const unsigned char *reply;
	if (!read_u64(r, &id) || !read_u64(r, &seq) || !read_u64(r, &used) || !read_u64(r, &reply_len) ||
	    !read_bytes(r, reply_len, &reply))
		return ballot_errorf(em, BALLOT_ECORRUPT, "session snapshot: session %u is truncated", i);
	uint64_t newest_used = t->newest != NULL ? t->newest->last_used_ms : 0;
	if (id == 0 || seq == 0 || used < newest_used || used > t->clock_ms || table_find(t, id) != NULL)
		return ballot_errorf(em, BALLOT_ECORRUPT, "session snapshot: session %u is inconsistent", i);
	session *se = calloc(1, sizeof *se);
	char *copy = reply_len > 0 ? malloc(reply_len) : NULL;
	if (se == NULL || (reply_len > 0 && copy == NULL)) {
		free(se);
		free(copy);
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory restoring session %u", i);
	}
	if (reply_len > 0)
		memcpy(copy, reply, reply_len);
	*se = (session){.client_id = id, .seq = seq, .last_used_ms = used, .reply = copy, .reply_len = reply_len};
	table_add(t, se);
	return 0;
}

/* Checks the checksum, magic and version, leaving r after them. */
static int snapshot_open(const void *data, size_t len, byte_reader *r, ballot_errmsg *em)
{
	if (len < SNAPSHOT_HEADER_BYTES + SNAPSHOT_TRAILER_BYTES)
		return ballot_errorf(em, BALLOT_ECORRUPT, "session snapshot of %zu bytes is truncated", len);
	size_t body = len - 8;
	if (XXH3_64bits(data, body) != le_get_u64((const unsigned char *)data + body))
		return ballot_errorf(em, BALLOT_ECORRUPT, "session snapshot of %zu bytes fails its checksum", len);
	*r = byte_reader_of(data, body);
	uint8_t version;
	if (!read_magic(r, SNAPSHOT_MAGIC, SNAPSHOT_MAGIC_BYTES))
		return ballot_errorf(em, BALLOT_ECORRUPT, "not a session snapshot (no \"" SNAPSHOT_MAGIC "\")");
	bool ok = read_u8(r, &version);
	BALLOT_ASSERT(ok);
	if (version != SNAPSHOT_VERSION)
		return ballot_errorf(em, BALLOT_ECORRUPT, "session snapshot version %u; this build reads %d", version,
				     SNAPSHOT_VERSION);
	return 0;
}

/* Reads the session part of a snapshot into the new table t. */
static int read_sessions(const ballot_sessions *s, byte_reader *r, session_table *t, ballot_errmsg *em)
{
	uint32_t n;
	bool ok = read_u64(r, &t->clock_ms) && read_u32(r, &n);
	BALLOT_ASSERT(ok); /* snapshot_open checked the length */
	if (n > s->config.sessions_max)
		return ballot_errorf(em, BALLOT_ELIMIT,
				     "snapshot holds %u sessions, more than this replica's sessions_max %" PRIu32
				     "; every replica needs the same session configuration",
				     n, s->config.sessions_max);
	for (uint32_t i = 0; i < n; i++) {
		int rc = read_session(r, t, i, em);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int ballot_sessions_restore(ballot_sessions *s, const void *data, size_t len, ballot_errmsg *em)
{
	byte_reader r = {0};
	int rc = snapshot_open(data, len, &r, em);
	if (rc != 0)
		return rc;
	session_table fresh;
	if (table_init(&fresh) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory for a session table");
	rc = read_sessions(s, &r, &fresh, em);
	uint64_t machine_len = 0;
	if (rc == 0 && (!read_u64(&r, &machine_len) || machine_len != r.left))
		rc = ballot_errorf(em, BALLOT_ECORRUPT, "session snapshot: the machine's snapshot is truncated");
	if (rc == 0)
		rc = s->fsm.restore(s->fsm.ctx, r.p, r.left, em);
	if (rc != 0) {
		table_free(&fresh);
		return rc;
	}
	table_free(&s->t);
	s->t = fresh;
	return 0;
}

/* --- The table as a ballot_fsm ---------------------------------------------------------- */

static int fsm_apply(void *ctx, uint64_t index, uint64_t time_ms, const void *cmd, size_t len, ballot_buf *reply)
{
	(void)time_ms; /* the envelope carries the time */
	return ballot_sessions_apply(ctx, index, cmd, len, reply);
}

static int fsm_query(void *ctx, const void *cmd, size_t len, ballot_buf *reply)
{
	ballot_sessions *s = ctx;
	ballot_envelope e;
	ballot_errmsg em;
	if (ballot_envelope_decode(cmd, len, &e, &em) != 0)
		return ballot_resp_error(reply, "ERR malformed envelope: %s", em.text);
	if (s->fsm.query == NULL)
		return ballot_resp_error(reply, "ERR this state machine answers reads only through the log");
	return s->fsm.query(s->fsm.ctx, e.cmd, e.cmd_len, reply);
}

static int fsm_snapshot(void *ctx, ballot_buf *out)
{
	return ballot_sessions_snapshot(ctx, out);
}

static int fsm_restore(void *ctx, const void *data, size_t len, ballot_errmsg *em)
{
	return ballot_sessions_restore(ctx, data, len, em);
}

ballot_fsm ballot_sessions_fsm(ballot_sessions *s)
{
	return (ballot_fsm){.ctx = s, .apply = fsm_apply, .query = fsm_query, .snapshot = fsm_snapshot,
			    .restore = fsm_restore};
}
