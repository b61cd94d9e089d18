/* The randomized crash test of durable storage: many seeded rounds of random appends,
 * syncs, truncations, hard state saves, snapshots, compactions and crashes (power loss
 * with torn writes and lost directory operations, process kills, failures in the middle of
 * an operation) over the simulated disk. After every recovery:
 *
 *   nothing acknowledged is lost: every entry synced before the crash (and not truncated
 *   since) is there, unchanged; the hard state and the snapshot are the last ones saved;
 *   nothing else appears: every entry recovered is one that was appended, in order;
 *   recovery is final: opening again right away finds nothing more to repair.
 *
 * A failing round prints its seed; BALLOT_STORAGE_SEED=N runs that round alone, and
 * BALLOT_STORAGE_TRACE=1 prints each step and each recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/fs.h"
#include "ballot/rng.h"
#include "ballot/storage.h"

#define ROUNDS 1000
#define STEPS 100
#define INDEX_MAX 100000

typedef struct model_entry {
	uint64_t term, salt;
	uint32_t len;
} model_entry;

typedef struct snap_model {
	bool has;
	uint64_t index, term, salt;
	uint32_t len;
} snap_model;

/* What the storage has been told, and what it has acknowledged. */
typedef struct model {
	model_entry *e; /* by index */
	uint64_t last;    /* last index appended (acknowledged or not) */
	uint64_t durable; /* entries up to here were acknowledged (synced) */
	uint64_t term;    /* the term of new appends; never goes back */
	snap_model snap;
	snap_model snap_alt; /* a snapshot save that failed midway: either may be on disk */
	bool snap_alt_install;
	ballot_hard_state hs;
	bool hs_alt_pending;
	ballot_hard_state hs_alt;
} model;

typedef struct round {
	uint64_t seed;
	ballot_rng rng;
	ballot_fs_sim *sim;
	ballot_fs *fs;
	ballot_storage *s;
	ballot_storage_recovery rec;
	ballot_storage_options opts;
	ballot_errmsg em;
	model m;
	ballot_config config;
	unsigned crashes, torn, failures_injected;
} round;

static ballot_rbuf *bytes_of(uint64_t a, uint64_t b, uint64_t salt, size_t len)
{
	ballot_rbuf *buf = ballot_rbuf_new(NULL, len);
	assert_non_null(buf);
	uint64_t x = a * 0x9E3779B97F4A7C15ull ^ b * 0xC2B2AE3D27D4EB4Full ^ salt;
	for (size_t i = 0; i < len; i++) {
		x ^= x >> 31;
		x *= 0xBF58476D1CE4E5B9ull;
		buf->data[i] = (unsigned char)(x >> 56);
	}
	return buf;
}

static uint64_t below(round *r, uint64_t n)
{
	return ballot_rng_below(&r->rng, n);
}

#define FAIL(r, ...)                                                                                        \
	do {                                                                                                \
		char what_[512];                                                                            \
		snprintf(what_, sizeof what_, __VA_ARGS__);                                                 \
		fail_msg("seed %llu (rerun: BALLOT_STORAGE_SEED=%llu): %s", (unsigned long long)(r)->seed, \
			 (unsigned long long)(r)->seed, what_);                                             \
	} while (0)

#define OK(r, call)                                                                                         \
	do {                                                                                                \
		int rc_ = (call);                                                                           \
		if (rc_ != 0)                                                                               \
			FAIL(r, "%s: %s: %s", #call, ballot_strerror(rc_), (r)->em.text);                   \
	} while (0)

/* ---- checking a recovery ----------------------------------------------------------------- */

static bool snap_is(const ballot_storage_recovery *rec, const snap_model *sm, const ballot_config *config)
{
	if (!sm->has)
		return !rec->has_snapshot;
	const ballot_raft_storage *st = &rec->state;
	if (!rec->has_snapshot || st->snap_index != sm->index || st->snap_term != sm->term)
		return false;
	if (st->snap_config.count != config->count)
		return false;
	ballot_rbuf *want = bytes_of(sm->index, sm->term, sm->salt, sm->len);
	bool same = st->snap_data != NULL && st->snap_data->len == sm->len &&
		    memcmp(st->snap_data->data, want->data, sm->len) == 0;
	ballot_rbuf_unref(want);
	return same;
}

static bool hs_is(const ballot_hard_state *a, const ballot_hard_state *b)
{
	return a->term == b->term && a->vote == b->vote && a->commit == b->commit;
}

static void check_entry(round *r, const ballot_entry *got, uint64_t index)
{
	if (index > r->m.last)
		FAIL(r, "recovered entry %llu, but only %llu were appended", (unsigned long long)index,
		     (unsigned long long)r->m.last);
	const model_entry *want = &r->m.e[index];
	if (got->index != index || got->term != want->term)
		FAIL(r, "entry %llu: recovered index %llu term %llu, appended term %llu", (unsigned long long)index,
		     (unsigned long long)got->index, (unsigned long long)got->term, (unsigned long long)want->term);
	size_t len = got->data != NULL ? got->data->len : 0;
	if (len != want->len)
		FAIL(r, "entry %llu: %zu bytes, appended %u", (unsigned long long)index, len, want->len);
	if (len == 0)
		return;
	ballot_rbuf *b = bytes_of(index, want->term, want->salt, len);
	if (memcmp(b->data, got->data->data, len) != 0)
		FAIL(r, "entry %llu: payload differs", (unsigned long long)index);
	ballot_rbuf_unref(b);
}

/* Checks the recovery against the model, then makes the model what was recovered. */
static void check_recovery(round *r)
{
	model *m = &r->m;
	const ballot_raft_storage *st = &r->rec.state;
	bool on_alt = false;
	if (!snap_is(&r->rec, &m->snap, &r->config)) {
		if (!m->snap_alt.has || !snap_is(&r->rec, &m->snap_alt, &r->config))
			FAIL(r, "snapshot: recovered %s at %llu, saved %s at %llu", r->rec.has_snapshot ? "one" : "none",
			     (unsigned long long)st->snap_index, m->snap.has ? "one" : "none",
			     (unsigned long long)m->snap.index);
		on_alt = true;
	}
	if (!hs_is(&st->hard_state, &m->hs) && !(m->hs_alt_pending && hs_is(&st->hard_state, &m->hs_alt)))
		FAIL(r, "hard state: recovered term %llu vote %llu commit %llu, saved term %llu vote %llu commit %llu",
		     (unsigned long long)st->hard_state.term, (unsigned long long)st->hard_state.vote,
		     (unsigned long long)st->hard_state.commit, (unsigned long long)m->hs.term,
		     (unsigned long long)m->hs.vote, (unsigned long long)m->hs.commit);
	uint64_t snap = st->snap_index;
	uint64_t last = snap + st->entry_count;
	/* Nothing acknowledged is lost (an installed snapshot replaced the log on purpose). */
	bool installed = on_alt && m->snap_alt_install;
	if (!installed && last < m->durable)
		FAIL(r, "lost acknowledged entries: recovered up to %llu, %llu were synced", (unsigned long long)last,
		     (unsigned long long)m->durable);
	for (size_t i = 0; i < st->entry_count; i++)
		check_entry(r, &st->entries[i], snap + 1 + i);
	if (on_alt)
		m->snap = m->snap_alt;
	m->snap_alt.has = false;
	m->hs = st->hard_state;
	m->hs_alt_pending = false;
	m->last = last;
	m->durable = last;
	if (st->entry_count > 0 && st->entries[st->entry_count - 1].term > m->term)
		m->term = st->entries[st->entry_count - 1].term;
	if (m->hs.term > m->term)
		m->term = m->hs.term;
	if (m->snap.has && m->snap.term > m->term)
		m->term = m->snap.term;
}

static void reopen(round *r)
{
	ballot_storage_close(r->s);
	r->s = NULL;
	ballot_storage_recovery_free(&r->rec);
	int rc = ballot_storage_open(r->fs, "/node", &r->opts, &r->s, &r->rec, &r->em);
	if (rc != 0)
		FAIL(r, "recovery after crash %u: %s: %s", r->crashes, ballot_strerror(rc), r->em.text);
	r->torn += r->rec.warning_count > 0;
	if (getenv("BALLOT_STORAGE_TRACE") != NULL) {
		ballot_fs_names names;
		if (ballot_fs_list(r->fs, "/node", &names, NULL) == 0) {
			for (size_t i = 0; i < names.count; i++)
				fprintf(stderr, "  %s\n", names.names[i]);
			ballot_fs_names_free(&names);
		}
		fprintf(stderr, "  reopened: snap %llu, %zu entries, %u warnings %s\n",
			(unsigned long long)r->rec.state.snap_index, r->rec.state.entry_count, r->rec.warning_count,
			r->rec.warning_count ? r->rec.warnings[0] : "");
	}
}

static void crash_and_recover(round *r)
{
	static const unsigned hows[] = {
		BALLOT_FS_SIM_CRASH_POWER,
		BALLOT_FS_SIM_CRASH_TEAR,
		BALLOT_FS_SIM_CRASH_TEAR | BALLOT_FS_SIM_CRASH_DIR_RANDOM,
		BALLOT_FS_SIM_CRASH_DIR_RANDOM,
		BALLOT_FS_SIM_CRASH_PROCESS,
	};
	ballot_fs_sim_fail_after(r->sim, UINT64_MAX);
	ballot_fs_sim_crash(r->sim, hows[below(r, sizeof hows / sizeof hows[0])]);
	r->crashes++;
	ballot_storage_close(r->s);
	r->s = NULL;
	reopen(r);
	check_recovery(r);
	/* Recovery is final: a second open finds nothing to repair and the same log. */
	size_t count = r->rec.state.entry_count;
	reopen(r);
	if (r->rec.warning_count != 0)
		FAIL(r, "second open after a recovery warned: %s", r->rec.warnings[0]);
	if (r->rec.state.entry_count != count)
		FAIL(r, "second open found %zu entries, the first %zu", r->rec.state.entry_count, count);
	check_recovery(r);
}

/* ---- operations ---------------------------------------------------------------------------- */

static void model_grow(round *r, uint64_t index)
{
	if (index >= INDEX_MAX)
		FAIL(r, "index %llu past the test's bound", (unsigned long long)index);
}

/* Returns the storage's code; a failure injected into it is expected. */
static int op_append(round *r)
{
	model *m = &r->m;
	size_t n = 1 + (size_t)below(r, 8);
	ballot_entry batch[8];
	for (size_t i = 0; i < n; i++) {
		uint64_t index = m->last + 1 + i;
		model_grow(r, index);
		uint32_t len = (uint32_t)below(r, 300);
		if (below(r, 40) == 0)
			len = 2000 + (uint32_t)below(r, 6000); /* larger than a segment, now and then */
		uint64_t salt = ballot_rng_next(&r->rng);
		m->e[index] = (model_entry){.term = m->term, .salt = salt, .len = len};
		batch[i] = (ballot_entry){.index = index, .term = m->term, .type = BALLOT_ENTRY_NORMAL,
					  .data = len > 0 ? bytes_of(index, m->term, salt, len) : NULL};
	}
	int rc = ballot_storage_append(r->s, batch, n, &r->em);
	for (size_t i = 0; i < n; i++)
		ballot_rbuf_unref(batch[i].data);
	m->last += n; /* handed over: after a failure midway, some may have reached the disk */
	return rc;
}

static int op_sync(round *r)
{
	int rc = ballot_storage_sync(r->s, &r->em);
	if (rc == 0)
		r->m.durable = r->m.last;
	return rc;
}

static int op_truncate(round *r)
{
	model *m = &r->m;
	uint64_t low = m->snap.has ? m->snap.index + 1 : 1;
	if (m->last < low)
		return 0;
	uint64_t from = low + below(r, m->last - low + 2);
	int rc = ballot_storage_truncate(r->s, from, &r->em);
	/* Done or not (a failure midway), entries before `from` that were durable stay so;
	 * entries from `from` on may survive only if the truncation did not finish. */
	if (m->durable >= from)
		m->durable = from - 1;
	if (rc == 0 && m->last >= from)
		m->last = from - 1;
	if (rc == 0)
		m->term += below(r, 2); /* a new leader overwrites the suffix */
	return rc;
}

static int op_hard_state(round *r)
{
	model *m = &r->m;
	if (below(r, 3) == 0)
		m->term++;
	ballot_hard_state hs = {.term = m->term, .vote = below(r, 5), .commit = below(r, m->durable + 1)};
	int rc = ballot_storage_save_hard_state(r->s, &hs, &r->em);
	if (rc == 0) {
		m->hs = hs;
	} else {
		m->hs_alt_pending = true;
		m->hs_alt = hs;
	}
	return rc;
}

static int op_snapshot(round *r)
{
	model *m = &r->m;
	uint64_t low = m->snap.has ? m->snap.index : 0;
	if (m->durable <= low)
		return 0;
	uint64_t index = low + 1 + below(r, m->durable - low);
	snap_model sm = {.has = true, .index = index, .term = m->e[index].term, .salt = ballot_rng_next(&r->rng),
			 .len = 1 + (uint32_t)below(r, 3000)};
	ballot_rbuf *data = bytes_of(sm.index, sm.term, sm.salt, sm.len);
	int rc = ballot_storage_save_snapshot(r->s, sm.index, sm.term, &r->config, data, &r->em);
	ballot_rbuf_unref(data);
	if (rc != 0) {
		m->snap_alt = sm;
		m->snap_alt_install = false;
		return rc;
	}
	m->snap = sm;
	uint64_t keep = below(r, 40);
	return ballot_storage_compact(r->s, index > keep ? index - keep : 0, &r->em);
}

static int op_install(round *r)
{
	model *m = &r->m;
	uint64_t low = m->snap.has ? m->snap.index : 0;
	uint64_t index = (m->last > low ? m->last : low) + below(r, 20);
	if (index <= low)
		index = low + 1;
	model_grow(r, index);
	snap_model sm = {.has = true, .index = index, .term = m->term, .salt = ballot_rng_next(&r->rng),
			 .len = 1 + (uint32_t)below(r, 2000)};
	ballot_rbuf *data = bytes_of(sm.index, sm.term, sm.salt, sm.len);
	int rc = ballot_storage_install_snapshot(r->s, sm.index, sm.term, &r->config, data, &r->em);
	ballot_rbuf_unref(data);
	if (rc != 0) {
		m->snap_alt = sm;
		m->snap_alt_install = true;
		return rc;
	}
	m->snap = sm;
	m->last = index;
	m->durable = index;
	return 0;
}

static void run_round(uint64_t seed, unsigned *crashes, unsigned *torn, unsigned *failures)
{
	round r;
	memset(&r, 0, sizeof r);
	r.seed = seed;
	ballot_rng_seed(&r.rng, seed);
	assert_int_equal(ballot_fs_sim_new(&r.sim, seed), 0);
	r.fs = ballot_fs_sim_fs(r.sim);
	ballot_storage_options_default(&r.opts);
	r.opts.segment_bytes = BALLOT_WAL_SEGMENT_BYTES_MIN;
	r.m.e = calloc(INDEX_MAX, sizeof *r.m.e);
	assert_non_null(r.m.e);
	r.m.term = 1;
	r.config.count = 1;
	r.config.members[0] = (ballot_member){.id = 1, .role = BALLOT_MEMBER_VOTER};
	reopen(&r);
	for (int step = 0; step < STEPS; step++) {
		/* Now and then, make the k-th next disk operation fail: the operation stops there,
		 * as if the machine lost power at that point, and the machine does. */
		bool inject = below(&r, 6) == 0;
		if (inject) {
			ballot_fs_sim_fail_after(r.sim, below(&r, 8));
			r.failures_injected++;
		}
		uint64_t pick = below(&r, 100);
		int rc;
		if (pick < 40)
			rc = op_append(&r);
		else if (pick < 65)
			rc = op_sync(&r);
		else if (pick < 75)
			rc = op_truncate(&r);
		else if (pick < 85)
			rc = op_hard_state(&r);
		else if (pick < 92)
			rc = op_snapshot(&r);
		else
			rc = op_install(&r);
		if (getenv("BALLOT_STORAGE_TRACE") != NULL)
			fprintf(stderr, "step %d: op %llu inject %d rc %d last %llu durable %llu snap %llu %s\n", step,
				(unsigned long long)pick, inject, rc, (unsigned long long)r.m.last,
				(unsigned long long)r.m.durable, (unsigned long long)r.m.snap.index, rc ? r.em.text : "");
		if (rc != 0 && !inject)
			FAIL(&r, "step %d: operation failed without an injected fault: %s", step, r.em.text);
		if (rc != 0 || inject || below(&r, 8) == 0)
			crash_and_recover(&r);
		else if (below(&r, 20) == 0) {
			OK(&r, ballot_storage_sync(r.s, &r.em)); /* a clean restart */
			r.m.durable = r.m.last;
			reopen(&r);
			check_recovery(&r);
		}
	}
	crash_and_recover(&r);
	*crashes += r.crashes;
	*torn += r.torn;
	*failures += r.failures_injected;
	ballot_storage_close(r.s);
	ballot_storage_recovery_free(&r.rec);
	ballot_fs_sim_free(r.sim);
	free(r.m.e);
}

static void storage_nothing_acknowledged_is_lost_across_random_crashes(void **state)
{
	(void)state;
	unsigned crashes = 0, torn = 0, failures = 0;
	const char *only = getenv("BALLOT_STORAGE_SEED");
	if (only != NULL) {
		run_round(strtoull(only, NULL, 10), &crashes, &torn, &failures);
		return;
	}
	for (uint64_t seed = 1; seed <= ROUNDS; seed++)
		run_round(seed, &crashes, &torn, &failures);
	print_message("%d rounds: %u crashes, %u injected failures, %u recoveries with repairs\n", ROUNDS, crashes,
		      failures, torn);
	assert_true(crashes > ROUNDS * 5);
	assert_true(torn > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(storage_nothing_acknowledged_is_lost_across_random_crashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
