/* Unit tests of exactly-once sessions, envelopes, snapshots of sessions and of the
 * key-value store, and determinism: replicas fed the same log agree byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "ballot/fsm.h"
#include "ballot/kv.h"
#include "ballot/rng.h"
#include "common/buf.h"

#define WORDS_MAX 32

/* A replica: a key-value store behind a session table. */
typedef struct replica {
	ballot_kv *kv;
	ballot_sessions *s;
	ballot_buf reply;
} replica;

static void replica_init(replica *r, uint64_t ttl_ms, uint32_t sessions_max)
{
	ballot_session_config config = ballot_session_config_default();
	if (ttl_ms != 0)
		config.ttl_ms = ttl_ms;
	if (sessions_max != 0)
		config.sessions_max = sessions_max;
	assert_int_equal(ballot_kv_new(&r->kv), 0);
	assert_int_equal(ballot_sessions_new(&config, ballot_kv_fsm(r->kv), &r->s, NULL), 0);
	ballot_buf_init(&r->reply, 0);
}

static void replica_free(replica *r)
{
	ballot_sessions_free(r->s);
	ballot_kv_free(r->kv);
	ballot_buf_free(&r->reply);
}

static size_t split(char *copy, const char **argv, size_t *lens)
{
	size_t argc = 0;
	for (char *w = strtok(copy, " "); w != NULL; w = strtok(NULL, " ")) {
		assert_true(argc < WORDS_MAX);
		argv[argc] = w;
		lens[argc] = strlen(w);
		argc++;
	}
	return argc;
}

/* Appends the envelope of one command (space-separated words) to out. */
static void envelope(ballot_buf *out, uint64_t client, uint64_t seq, uint64_t time_ms, const char *line)
{
	char copy[512];
	snprintf(copy, sizeof copy, "%s", line);
	const char *argv[WORDS_MAX];
	size_t lens[WORDS_MAX];
	size_t argc = split(copy, argv, lens);
	ballot_envelope e = {.client_id = client, .seq = seq, .time_ms = time_ms};
	assert_int_equal(ballot_envelope_encode(&e, out), 0);
	assert_int_equal(ballot_kv_encode(argc, argv, lens, out), 0);
}

static const char *apply_entry(replica *r, uint64_t index, const ballot_buf *entry)
{
	ballot_buf_clear(&r->reply);
	assert_int_equal(ballot_sessions_apply(r->s, index, entry->data, entry->len, &r->reply), 0);
	return r->reply.len > 0 ? r->reply.data : "";
}

/* Proposes one command through the sessions and returns the reply. */
static const char *propose(replica *r, uint64_t client, uint64_t seq, uint64_t time_ms, const char *line)
{
	static uint64_t index;
	ballot_buf entry;
	ballot_buf_init(&entry, 0);
	envelope(&entry, client, seq, time_ms, line);
	apply_entry(r, ++index, &entry);
	ballot_buf_free(&entry);
	return r->reply.data;
}

static void snapshot_of(replica *r, ballot_buf *out)
{
	ballot_buf_init(out, 0);
	assert_int_equal(ballot_sessions_snapshot(r->s, out), 0);
}

/* --- Envelopes ---------------------------------------------------------------------------- */

static void envelope_round_trips_and_refuses_short_or_unknown_input(void **state)
{
	(void)state;
	ballot_buf b;
	ballot_buf_init(&b, 0);
	ballot_envelope e = {.client_id = 0x0102030405060708, .seq = 42, .time_ms = 1700000000000, .cmd = "xyz",
			     .cmd_len = 3};
	assert_int_equal(ballot_envelope_encode(&e, &b), 0);
	assert_int_equal(b.len, BALLOT_ENVELOPE_HEADER_BYTES + 3);
	assert_int_equal((unsigned char)b.data[0], BALLOT_ENVELOPE_VERSION);
	assert_int_equal((unsigned char)b.data[1], 0x08); /* little-endian */
	ballot_envelope d;
	assert_int_equal(ballot_envelope_decode(b.data, b.len, &d, NULL), 0);
	assert_true(d.client_id == e.client_id);
	assert_true(d.seq == 42);
	assert_true(d.time_ms == e.time_ms);
	assert_int_equal(d.cmd_len, 3);
	assert_memory_equal(d.cmd, "xyz", 3);
	for (size_t len = 0; len < BALLOT_ENVELOPE_HEADER_BYTES; len++) {
		ballot_errmsg em;
		assert_int_equal(ballot_envelope_decode(b.data, len, &d, &em), BALLOT_ECORRUPT);
	}
	assert_int_equal(ballot_envelope_decode(b.data, BALLOT_ENVELOPE_HEADER_BYTES, &d, NULL), 0);
	assert_int_equal(d.cmd_len, 0);
	b.data[0] = 2;
	ballot_errmsg em;
	assert_int_equal(ballot_envelope_decode(b.data, b.len, &d, &em), BALLOT_ECORRUPT);
	assert_string_equal(em.text, "envelope version 2; this build reads 1");
	ballot_buf_free(&b);
}

static void malformed_envelope_is_an_error_reply(void **state)
{
	(void)state;
	replica r;
	replica_init(&r, 0, 0);
	ballot_buf_clear(&r.reply);
	assert_int_equal(ballot_sessions_apply(r.s, 1, "\x01\x02", 2, &r.reply), 0);
	assert_string_equal(r.reply.data,
			    "-ERR malformed envelope: envelope of 2 bytes is shorter than its 25-byte header\r\n");
	replica_free(&r);
}

/* --- Sessions ---------------------------------------------------------------------------- */

static void incr_retried_with_same_sequence_counts_once(void **state)
{
	(void)state;
	replica r;
	replica_init(&r, 0, 0);
	assert_string_equal(propose(&r, 7, 1, 1000, "INCR n"), ":1\r\n");
	/* A retry after a leader change: the same sequence number is committed again. */
	assert_string_equal(propose(&r, 7, 1, 1010, "INCR n"), ":1\r\n");
	assert_string_equal(propose(&r, 7, 2, 1020, "INCR n"), ":2\r\n");
	assert_string_equal(propose(&r, 7, 2, 1030, "INCR n"), ":2\r\n");
	assert_string_equal(propose(&r, 0, 0, 1040, "GET n"), "$1\r\n2\r\n");
	assert_int_equal(ballot_sessions_count(r.s), 1);
	replica_free(&r);
}

static void stale_request_is_refused_without_applying(void **state)
{
	(void)state;
	replica r;
	replica_init(&r, 0, 0);
	propose(&r, 7, 1, 1000, "INCR n");
	propose(&r, 7, 2, 1000, "INCR n");
	assert_string_equal(propose(&r, 7, 1, 1000, "INCR n"),
			    "-ERR stale request: sequence 1 of client 7 already superseded by 2\r\n");
	assert_string_equal(propose(&r, 0, 0, 1000, "GET n"), "$1\r\n2\r\n");
	/* Sequence numbers may skip ahead. */
	assert_string_equal(propose(&r, 7, 10, 1000, "INCR n"), ":3\r\n");
	replica_free(&r);
}

static void client_zero_is_applied_every_time(void **state)
{
	(void)state;
	replica r;
	replica_init(&r, 0, 0);
	assert_string_equal(propose(&r, 0, 5, 1000, "INCR n"), ":1\r\n");
	assert_string_equal(propose(&r, 0, 5, 1000, "INCR n"), ":2\r\n");
	assert_int_equal(ballot_sessions_count(r.s), 0);
	replica_free(&r);
}

static void unknown_session_past_its_first_request_is_expired(void **state)
{
	(void)state;
	replica r;
	replica_init(&r, 0, 0);
	assert_string_equal(propose(&r, 9, 3, 1000, "INCR n"),
			    "-ERR session expired: client 9 has no session for sequence 3; start a new session "
			    "with a new client id\r\n");
	assert_string_equal(propose(&r, 9, 0, 1000, "INCR n"), "-ERR invalid request: sequence numbers start at 1\r\n");
	assert_string_equal(propose(&r, 0, 0, 1000, "EXISTS n"), ":0\r\n");
	assert_int_equal(ballot_sessions_count(r.s), 0);
	replica_free(&r);
}

static void sessions_expire_by_entry_time_not_clock(void **state)
{
	(void)state;
	replica r;
	replica_init(&r, 1000, 0);
	propose(&r, 1, 1, 5000, "INCR n");
	/* Idle for exactly the TTL: kept. */
	propose(&r, 0, 0, 6000, "DBSIZE");
	assert_int_equal(ballot_sessions_count(r.s), 1);
	/* A new leader whose clock is behind does not turn the session clock back. */
	propose(&r, 0, 0, 100, "DBSIZE");
	assert_true(ballot_sessions_clock_ms(r.s) == 6000);
	/* One millisecond more, by the entries' time: forgotten, whatever the wall clock says. */
	propose(&r, 0, 0, 6001, "DBSIZE");
	assert_int_equal(ballot_sessions_count(r.s), 0);
	assert_string_equal(propose(&r, 1, 2, 6002, "INCR n"),
			    "-ERR session expired: client 1 has no session for sequence 2; start a new session "
			    "with a new client id\r\n");
	/* A used session is not idle: each use restarts its TTL. */
	propose(&r, 2, 1, 7000, "INCR m");
	propose(&r, 2, 1, 7900, "INCR m");
	propose(&r, 0, 0, 8800, "DBSIZE");
	assert_int_equal(ballot_sessions_count(r.s), 1);
	replica_free(&r);
}

static void full_table_evicts_the_least_recently_used_session(void **state)
{
	(void)state;
	replica r;
	replica_init(&r, 0, 3);
	propose(&r, 1, 1, 1000, "INCR a");
	propose(&r, 2, 1, 1001, "INCR b");
	propose(&r, 3, 1, 1002, "INCR c");
	propose(&r, 1, 2, 1003, "INCR a"); /* client 2 is now the least recently used */
	propose(&r, 4, 1, 1004, "INCR d");
	assert_int_equal(ballot_sessions_count(r.s), 3);
	assert_string_equal(propose(&r, 2, 2, 1005, "INCR b"),
			    "-ERR session expired: client 2 has no session for sequence 2; start a new session "
			    "with a new client id\r\n");
	assert_string_equal(propose(&r, 1, 2, 1006, "INCR a"), ":2\r\n");
	assert_string_equal(propose(&r, 3, 1, 1007, "INCR c"), ":1\r\n");
	replica_free(&r);
}

static void config_check_refuses_zero_and_past_limits(void **state)
{
	(void)state;
	ballot_session_config c = ballot_session_config_default();
	assert_int_equal(ballot_session_config_check(&c, NULL), 0);
	c.ttl_ms = 0;
	assert_int_equal(ballot_session_config_check(&c, NULL), BALLOT_EINVAL);
	c = ballot_session_config_default();
	c.sessions_max = BALLOT_SESSIONS_MAX + 1;
	ballot_errmsg em;
	assert_int_equal(ballot_session_config_check(&c, &em), BALLOT_ELIMIT);
	ballot_kv *kv;
	ballot_sessions *s;
	assert_int_equal(ballot_kv_new(&kv), 0);
	assert_int_equal(ballot_sessions_new(&c, ballot_kv_fsm(kv), &s, NULL), BALLOT_ELIMIT);
	assert_null(s);
	ballot_kv_free(kv);
}

/* --- Snapshots ----------------------------------------------------------------------------- */

static void build_some_state(replica *r)
{
	propose(r, 1, 1, 1000, "SET greeting hello");
	propose(r, 2, 1, 1001, "INCR counter");
	propose(r, 2, 2, 1002, "INCRBY counter 10");
	propose(r, 3, 1, 1003, "MSET a 1 b 2 c 3");
	propose(r, 0, 0, 1004, "DEL b");
}

static void snapshot_restore_round_trip_preserves_data_and_sessions(void **state)
{
	(void)state;
	replica a, b;
	replica_init(&a, 0, 0);
	replica_init(&b, 0, 0);
	build_some_state(&a);
	ballot_buf snap;
	snapshot_of(&a, &snap);
	assert_memory_equal(snap.data, "BSES", 4);
	ballot_errmsg em;
	assert_int_equal(ballot_sessions_restore(b.s, snap.data, snap.len, &em), 0);
	ballot_buf again;
	snapshot_of(&b, &again);
	assert_int_equal(again.len, snap.len);
	assert_memory_equal(again.data, snap.data, snap.len);
	assert_int_equal(ballot_sessions_count(b.s), 3);
	assert_true(ballot_sessions_clock_ms(b.s) == 1004);
	/* The restored replica answers a retry from the cached reply, and has the data. */
	assert_string_equal(propose(&b, 2, 2, 1005, "INCRBY counter 10"), ":11\r\n");
	assert_string_equal(propose(&b, 0, 0, 1006, "MGET greeting counter a b c"),
			    "*5\r\n$5\r\nhello\r\n$2\r\n11\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n");
	ballot_buf_free(&snap);
	ballot_buf_free(&again);
	replica_free(&a);
	replica_free(&b);
}

static void restore_rejects_a_flipped_bit_and_keeps_old_state(void **state)
{
	(void)state;
	replica a, b;
	replica_init(&a, 0, 0);
	replica_init(&b, 0, 0);
	build_some_state(&a);
	propose(&b, 5, 1, 99, "SET mine 1");
	ballot_buf snap, before;
	snapshot_of(&a, &snap);
	snapshot_of(&b, &before);
	for (size_t bit = 0; bit < snap.len * 8; bit++) {
		snap.data[bit / 8] ^= (char)(1 << (bit % 8));
		ballot_errmsg em;
		assert_int_equal(ballot_sessions_restore(b.s, snap.data, snap.len, &em), BALLOT_ECORRUPT);
		snap.data[bit / 8] ^= (char)(1 << (bit % 8));
	}
	for (size_t len = 0; len < snap.len; len++)
		assert_int_equal(ballot_sessions_restore(b.s, snap.data, len, NULL), BALLOT_ECORRUPT);
	ballot_buf after;
	snapshot_of(&b, &after);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.data, before.data, before.len);
	ballot_buf_free(&snap);
	ballot_buf_free(&before);
	ballot_buf_free(&after);
	replica_free(&a);
	replica_free(&b);
}

static void restore_refuses_more_sessions_than_configured(void **state)
{
	(void)state;
	replica a, small;
	replica_init(&a, 0, 0);
	replica_init(&small, 0, 2);
	build_some_state(&a);
	ballot_buf snap;
	snapshot_of(&a, &snap);
	ballot_errmsg em;
	assert_int_equal(ballot_sessions_restore(small.s, snap.data, snap.len, &em), BALLOT_ELIMIT);
	assert_non_null(strstr(em.text, "same session configuration"));
	assert_int_equal(ballot_kv_count(small.kv), 0);
	ballot_buf_free(&snap);
	replica_free(&a);
	replica_free(&small);
}

static void kv_snapshot(ballot_kv *kv, ballot_buf *out)
{
	ballot_buf_init(out, 0);
	assert_int_equal(ballot_kv_snapshot(kv, out), 0);
}

static void kv_snapshot_is_the_same_for_the_same_keys_whatever_the_history(void **state)
{
	(void)state;
	replica a, b;
	replica_init(&a, 0, 0);
	replica_init(&b, 0, 0);
	char line[64];
	for (int i = 0; i < 5000; i++) {
		snprintf(line, sizeof line, "SET k%d %d", i, i);
		propose(&a, 0, 0, 1, line);
	}
	/* The same keys and values, built in the opposite order, through long values, APPEND
	 * and keys added and deleted in between (the table grows and shrinks). */
	for (int i = 4999; i >= 0; i--) {
		char digits[16];
		snprintf(digits, sizeof digits, "%d", i);
		snprintf(line, sizeof line, "SET k%d 12345678901234567890123456789012345678901234567890", i);
		propose(&b, 0, 0, 1, line);
		snprintf(line, sizeof line, "SET k%d %c", i, digits[0]);
		propose(&b, 0, 0, 1, line);
		if (digits[1] != '\0') {
			snprintf(line, sizeof line, "APPEND k%d %s", i, digits + 1);
			propose(&b, 0, 0, 1, line);
		}
		snprintf(line, sizeof line, "SET junk%d x", i);
		propose(&b, 0, 0, 1, line);
	}
	propose(&b, 0, 0, 1, "SET k0 0");
	for (int i = 0; i < 5000; i++) {
		snprintf(line, sizeof line, "DEL junk%d", i);
		propose(&b, 0, 0, 1, line);
	}
	propose(&b, 0, 0, 1, "SET k0 0");
	ballot_buf sa, sb;
	kv_snapshot(a.kv, &sa);
	kv_snapshot(b.kv, &sb);
	assert_int_equal(sa.len, sb.len);
	assert_memory_equal(sa.data, sb.data, sa.len);
	ballot_buf_free(&sa);
	ballot_buf_free(&sb);
	replica_free(&a);
	replica_free(&b);
}

/* Appends a key record to a hand-made key-value snapshot. */
static void put_record(ballot_buf *b, const char *key, const char *val)
{
	uint32_t kl = (uint32_t)strlen(key), vl = (uint32_t)strlen(val);
	ballot_buf_append(b, &kl, 4); /* the tests run on little-endian machines */
	ballot_buf_append(b, key, kl);
	ballot_buf_append(b, &vl, 4);
	ballot_buf_append(b, val, vl);
}

static void kv_restore_rejects_keys_out_of_order_even_with_a_good_checksum(void **state)
{
	(void)state;
	ballot_kv *kv;
	assert_int_equal(ballot_kv_new(&kv), 0);
	/* Keys go in (XXH3-64 hash, bytes) order: lo before hi. */
	bool a_first = XXH3_64bits("a", 1) < XXH3_64bits("b", 1);
	const char *lo = a_first ? "a" : "b", *hi = a_first ? "b" : "a";
	ballot_buf b;
	ballot_buf_init(&b, 0);
	uint64_t n = 2;
	ballot_buf_append(&b, "BKVS\x02", 5);
	ballot_buf_append(&b, &n, 8);
	put_record(&b, hi, "1");
	put_record(&b, lo, "2");
	uint64_t sum = XXH3_64bits(b.data, b.len);
	ballot_buf_append(&b, &sum, 8);
	ballot_errmsg em;
	assert_int_equal(ballot_kv_restore(kv, b.data, b.len, &em), BALLOT_ECORRUPT);
	assert_string_equal(em.text, "key-value snapshot: key 1 is out of order");
	/* The same records in order restore. */
	ballot_buf_clear(&b);
	ballot_buf_append(&b, "BKVS\x02", 5);
	ballot_buf_append(&b, &n, 8);
	put_record(&b, lo, "2");
	put_record(&b, hi, "1");
	sum = XXH3_64bits(b.data, b.len);
	ballot_buf_append(&b, &sum, 8);
	assert_int_equal(ballot_kv_restore(kv, b.data, b.len, &em), 0);
	assert_int_equal(ballot_kv_count(kv), 2);
	/* A snapshot of version 1 (byte order) is refused by name. */
	b.data[4] = 1;
	b.len -= 8;
	sum = XXH3_64bits(b.data, b.len);
	ballot_buf_append(&b, &sum, 8);
	assert_int_equal(ballot_kv_restore(kv, b.data, b.len, &em), BALLOT_ECORRUPT);
	assert_string_equal(em.text, "key-value snapshot version 1; this build reads 2");
	ballot_buf_free(&b);
	ballot_kv_free(kv);
}

static void sessions_fsm_vtable_wraps_the_machine(void **state)
{
	(void)state;
	replica r;
	replica_init(&r, 0, 0);
	ballot_fsm fsm = ballot_sessions_fsm(r.s);
	ballot_buf entry;
	ballot_buf_init(&entry, 0);
	envelope(&entry, 4, 1, 1000, "SET k v");
	ballot_buf_clear(&r.reply);
	assert_int_equal(fsm.apply(fsm.ctx, 1, 0, entry.data, entry.len, &r.reply), 0);
	assert_string_equal(r.reply.data, "+OK\r\n");
	ballot_buf_clear(&entry);
	envelope(&entry, 0, 0, 0, "GET k");
	ballot_buf_clear(&r.reply);
	assert_int_equal(fsm.query(fsm.ctx, entry.data, entry.len, &r.reply), 0);
	assert_string_equal(r.reply.data, "$1\r\nv\r\n");
	ballot_buf snap;
	ballot_buf_init(&snap, 0);
	assert_int_equal(fsm.snapshot(fsm.ctx, &snap), 0);
	assert_int_equal(fsm.restore(fsm.ctx, snap.data, snap.len, NULL), 0);
	assert_int_equal(ballot_sessions_count(r.s), 1);
	ballot_buf_free(&snap);
	ballot_buf_free(&entry);
	replica_free(&r);
}

/* --- Determinism ------------------------------------------------------------------------- */

#define LOG_ENTRIES 6000
#define CLIENTS 12
#define KEYS 24

static const char *random_key(ballot_rng *rng, char *buf)
{
	sprintf(buf, "k%u", (unsigned)ballot_rng_below(rng, KEYS));
	return buf;
}

/* One random command line, mostly writes, some reads and some errors. */
static void random_command(ballot_rng *rng, char *line, size_t cap)
{
	char k1[16], k2[16];
	unsigned v = (unsigned)ballot_rng_below(rng, 100);
	switch (ballot_rng_below(rng, 28)) {
	case 0: snprintf(line, cap, "SET %s %u", random_key(rng, k1), v); break;
	case 1: snprintf(line, cap, "SET %s v%u NX GET", random_key(rng, k1), v); break;
	case 2: snprintf(line, cap, "INCR %s", random_key(rng, k1)); break;
	case 3: snprintf(line, cap, "INCRBY %s %d", random_key(rng, k1), (int)v - 50); break;
	case 4: snprintf(line, cap, "DECR %s", random_key(rng, k1)); break;
	case 5: snprintf(line, cap, "APPEND %s x%u", random_key(rng, k1), v); break;
	case 6: snprintf(line, cap, "DEL %s %s", random_key(rng, k1), random_key(rng, k2)); break;
	case 7: snprintf(line, cap, "MSET %s %u %s %u", random_key(rng, k1), v, random_key(rng, k2), v + 1); break;
	case 8: snprintf(line, cap, "CAS %s %u %u", random_key(rng, k1), v % 5, v); break;
	case 9: snprintf(line, cap, "SETNX %s %u", random_key(rng, k1), v); break;
	case 10: snprintf(line, cap, "GETSET %s %u", random_key(rng, k1), v); break;
	case 11: snprintf(line, cap, "MGET %s %s", random_key(rng, k1), random_key(rng, k2)); break;
	case 12: snprintf(line, cap, "EXISTS %s %s", random_key(rng, k1), random_key(rng, k2)); break;
	case 13: snprintf(line, cap, "KEYS k1*"); break;
	case 14: snprintf(line, cap, "SCAN %u COUNT 3", v * 1000003u); break;
	case 15: snprintf(line, cap, "STRLEN %s", random_key(rng, k1)); break;
	case 16: snprintf(line, cap, "DBSIZE"); break;
	case 17:
		if (v < 3)
			snprintf(line, cap, "FLUSHDB");
		else
			snprintf(line, cap, "GET %s", random_key(rng, k1));
		break;
	case 18: snprintf(line, cap, "NOSUCH %s", random_key(rng, k1)); break;
	case 19: snprintf(line, cap, "INCRBYFLOAT %s %d.%02u", random_key(rng, k1), (int)v - 50, v); break;
	case 20: snprintf(line, cap, "SETRANGE %s %u y%u", random_key(rng, k1), v % 7, v); break;
	case 21: snprintf(line, cap, "GETRANGE %s %d %d", random_key(rng, k1), (int)v % 5 - 2, (int)v % 7 - 3); break;
	case 22: snprintf(line, cap, "RENAME %s %s", random_key(rng, k1), random_key(rng, k2)); break;
	case 23: snprintf(line, cap, "RENAMENX %s %s", random_key(rng, k1), random_key(rng, k2)); break;
	case 24: snprintf(line, cap, "MSETNX %s %u %s %u", random_key(rng, k1), v, random_key(rng, k2), v); break;
	case 25: snprintf(line, cap, "GETDEL %s", random_key(rng, k1)); break;
	case 26:
		if (v < 50)
			snprintf(line, cap, "RANDOMKEY");
		else
			snprintf(line, cap, "TTL %s", random_key(rng, k1));
		break;
	default: snprintf(line, cap, "SET %s", random_key(rng, k1)); break;
	}
}

/* A random log: clients retry (same sequence), fall behind (stale), go quiet long enough to
 * expire, and leaders' clocks disagree (time sometimes goes back). */
static void random_log(uint64_t seed, ballot_buf *log)
{
	ballot_rng rng;
	ballot_rng_seed(&rng, seed);
	uint64_t seq[CLIENTS] = {0};
	uint64_t time_ms = 1000000;
	for (int i = 0; i < LOG_ENTRIES; i++) {
		ballot_buf_init(&log[i], 0);
		unsigned client = (unsigned)ballot_rng_below(&rng, CLIENTS);
		uint64_t r = ballot_rng_below(&rng, 10);
		if (client > 0 && r == 0 && seq[client] > 1)
			seq[client]--; /* stale */
		else if (client > 0 && r > 1)
			seq[client]++; /* else a retry of the same sequence */
		if (client > 0 && seq[client] == 0)
			seq[client] = 1;
		time_ms += ballot_rng_below(&rng, 50);
		uint64_t stamp = ballot_rng_below(&rng, 20) == 0 ? time_ms - 3000 : time_ms;
		char line[128];
		random_command(&rng, line, sizeof line);
		if (ballot_rng_below(&rng, 15) == 0) {
			/* A MULTI/EXEC batch of three commands. */
			ballot_envelope e = {.client_id = client, .seq = seq[client], .time_ms = stamp};
			assert_int_equal(ballot_envelope_encode(&e, &log[i]), 0);
			ballot_kv_batch batch;
			assert_int_equal(ballot_kv_batch_begin(&batch, &log[i]), 0);
			for (int c = 0; c < 3; c++) {
				char copy[128];
				const char *argv[WORDS_MAX];
				size_t lens[WORDS_MAX];
				random_command(&rng, copy, sizeof copy);
				size_t argc = split(copy, argv, lens);
				assert_int_equal(ballot_kv_batch_add(&batch, argc, argv, lens), 0);
			}
		} else {
			envelope(&log[i], client, seq[client], stamp, line);
		}
	}
}

static void same_random_log_gives_the_same_state_and_replies_on_every_replica(void **state)
{
	(void)state;
	static ballot_buf log[LOG_ENTRIES];
	const uint64_t seeds[] = {1, 2, 0xba11071};
	for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
		random_log(seeds[s], log);
		replica a, b, c;
		/* A short TTL and a small table, so sessions expire and get evicted. */
		replica_init(&a, 2000, 6);
		replica_init(&b, 2000, 6);
		replica_init(&c, 2000, 6);
		int expired = 0;
		for (int i = 0; i < LOG_ENTRIES; i++) {
			if (i == LOG_ENTRIES / 2) {
				ballot_buf snap;
				snapshot_of(&a, &snap);
				assert_int_equal(ballot_sessions_restore(c.s, snap.data, snap.len, NULL), 0);
				ballot_buf_free(&snap);
			}
			char *ra = strdup(apply_entry(&a, (uint64_t)i + 1, &log[i]));
			expired += strstr(ra, "session expired") != NULL;
			assert_string_equal(apply_entry(&b, (uint64_t)i + 1, &log[i]), ra);
			if (i >= LOG_ENTRIES / 2)
				assert_string_equal(apply_entry(&c, (uint64_t)i + 1, &log[i]), ra);
			free(ra);
		}
		assert_true(expired > 0);
		ballot_buf sa, sb, sc;
		snapshot_of(&a, &sa);
		snapshot_of(&b, &sb);
		snapshot_of(&c, &sc);
		assert_int_equal(sa.len, sb.len);
		assert_memory_equal(sa.data, sb.data, sa.len);
		assert_int_equal(sa.len, sc.len);
		assert_memory_equal(sa.data, sc.data, sa.len);
		ballot_buf_free(&sa);
		ballot_buf_free(&sb);
		ballot_buf_free(&sc);
		replica_free(&a);
		replica_free(&b);
		replica_free(&c);
		for (int i = 0; i < LOG_ENTRIES; i++)
			ballot_buf_free(&log[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(envelope_round_trips_and_refuses_short_or_unknown_input),
		cmocka_unit_test(malformed_envelope_is_an_error_reply),
		cmocka_unit_test(incr_retried_with_same_sequence_counts_once),
		cmocka_unit_test(stale_request_is_refused_without_applying),
		cmocka_unit_test(client_zero_is_applied_every_time),
		cmocka_unit_test(unknown_session_past_its_first_request_is_expired),
		cmocka_unit_test(sessions_expire_by_entry_time_not_clock),
		cmocka_unit_test(full_table_evicts_the_least_recently_used_session),
		cmocka_unit_test(config_check_refuses_zero_and_past_limits),
		cmocka_unit_test(snapshot_restore_round_trip_preserves_data_and_sessions),
		cmocka_unit_test(restore_rejects_a_flipped_bit_and_keeps_old_state),
		cmocka_unit_test(restore_refuses_more_sessions_than_configured),
		cmocka_unit_test(kv_snapshot_is_the_same_for_the_same_keys_whatever_the_history),
		cmocka_unit_test(kv_restore_rejects_keys_out_of_order_even_with_a_good_checksum),
		cmocka_unit_test(sessions_fsm_vtable_wraps_the_machine),
		cmocka_unit_test(same_random_log_gives_the_same_state_and_replies_on_every_replica),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
