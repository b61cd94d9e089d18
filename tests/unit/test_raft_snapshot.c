/* Unit tests of the Raft core (ballot/raft.h): log compaction and InstallSnapshot in chunks
 * (Raft §7), and recovery from a snapshot plus entries after a crash. */
#include "raft_harness.h"

#define E 10

static void assert_log_terms(rh_cluster *c, uint64_t id, const char *want)
{
	char got[512];
	rh_log_terms(c, id, got, sizeof got);
	if (strcmp(got, want) != 0)
		RH_FAIL("node %llu log terms [%s], expected [%s]", (unsigned long long)id, got, want);
}

static void propose_all(rh_cluster *c, uint64_t id, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rh_propose(c, id, values[i], NULL), 0);
	rh_deliver_all(c);
}

static const char *const ten[] = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9"};
#define TEN_SM "v0,v1,v2,v3,v4,v5,v6,v7,v8,v9"

/* Raft §7: a server replaces the entries up to its applied index by a snapshot, keeping
 * "the index and term of the last entry in the snapshot" (for the consistency check). */
static void compact_drops_entries_and_keeps_terms(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	propose_all(&c, 1, ten, 5);
	assert_int_equal(rh_commit(&c, 1), 6);
	assert_int_equal(c.nodes[1].applied, 6);

	assert_int_equal(rh_compact(&c, 1, 4), 0);
	ballot_raft_status s = rh_status(&c, 1);
	assert_int_equal(s.snap_index, 4);
	assert_int_equal(s.first_index, 5);
	assert_int_equal(s.last_index, 6);
	assert_null(ballot_raft_entry(rh_raft(&c, 1), 4));
	assert_non_null(ballot_raft_entry(rh_raft(&c, 1), 5));
	assert_int_equal(ballot_raft_term_at(rh_raft(&c, 1), 4), 1);
	assert_int_equal(ballot_raft_term_at(rh_raft(&c, 1), 3), 0);

	/* Not twice at one index, not backwards, not past what is applied. */
	assert_int_equal(rh_compact(&c, 1, 4), BALLOT_EINVAL);
	assert_int_equal(rh_compact(&c, 1, 3), BALLOT_EINVAL);
	assert_int_equal(rh_compact(&c, 1, 7), BALLOT_EINVAL);
	assert_int_equal(rh_propose(&c, 1, "w", NULL), 0);
	assert_int_equal(rh_compact(&c, 1, 7), BALLOT_EINVAL); /* proposed, not applied */

	/* Replication goes on after the snapshot point. */
	rh_deliver_all(&c);
	rh_run(&c, 1);
	for (uint64_t id = 1; id <= 3; id++)
		assert_string_equal(rh_sm(&c, id), "v0,v1,v2,v3,v4,w");
	rh_free(&c);
}

/* Three nodes with options o, 1 leading; 3 is cut off while 1 and 2 commit the ten values. */
static void leave_3_behind(rh_cluster *c, const ballot_raft_options *o)
{
	rh_init_opts(c, 3, o, 1);
	rh_elect(c, 1);
	rh_run(c, 1);
	rh_isolate(c, 3);
	propose_all(c, 1, ten, 10);
}

/* With compact_step_entries, a compaction drops that many entries at once and as many more
 * at each tick or advance, until the log starts after the snapshot; the snapshot itself
 * takes effect at once, and a follower behind the log's start still gets it. */
static void compaction_in_steps_frees_the_log_gradually(void **state)
{
	(void)state;
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	o.compact_step_entries = 3;
	static rh_cluster c;
	leave_3_behind(&c, &o);
	assert_int_equal(rh_commit(&c, 1), 11);
	assert_int_equal(rh_compact(&c, 1, 10), 0);
	ballot_raft_status s = rh_status(&c, 1);
	assert_int_equal(s.snap_index, 10);
	assert_int_equal(s.first_index, 4); /* 3 entries dropped, 7 to go */
	assert_non_null(ballot_raft_entry(rh_raft(&c, 1), 4));
	assert_int_equal(ballot_raft_term_at(rh_raft(&c, 1), 3), 1); /* the log's start keeps its term */
	/* A tick drops 3 more, and so does the advance of the ready it brings (heartbeats). */
	rh_tick(&c, 1);
	assert_int_equal(rh_status(&c, 1).first_index, 10);
	rh_tick(&c, 1);
	assert_int_equal(rh_status(&c, 1).first_index, 11); /* up to the snapshot: done */
	rh_tick(&c, 1);
	assert_int_equal(rh_status(&c, 1).first_index, 11);
	assert_int_equal(rh_status(&c, 1).last_index, 11);
	/* The isolated follower is behind the log's start: it gets the snapshot. */
	rh_heal(&c);
	rh_run(&c, 3);
	assert_int_equal(rh_status(&c, 3).snap_index, 10);
	assert_int_equal(rh_propose(&c, 1, "after", NULL), 0);
	rh_run(&c, 2);
	assert_string_equal(rh_sm(&c, 3), TEN_SM ",after");
	rh_free(&c);
}

/* Raft §7: "the leader uses a new RPC called InstallSnapshot to send snapshots to followers
 * that are too far behind", here in chunks of snapshot_chunk_bytes, in order. */
static void lagging_follower_receives_snapshot_in_chunks(void **state)
{
	(void)state;
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	o.snapshot_chunk_bytes = 4;
	static rh_cluster c;
	leave_3_behind(&c, &o);
	assert_int_equal(rh_commit(&c, 1), 11);
	assert_int_equal(rh_compact(&c, 1, 11), 0);
	rh_heal(&c);
	rh_drop(&c, 0, 0, 0);
	rh_sent_clear(&c);
	rh_run(&c, 3);

	size_t chunks = 0;
	uint64_t next_offset = 0;
	bool done = false;
	for (size_t i = 0; i < c.sent_count; i++) {
		const rh_sent *s = &c.sent[i];
		if (s->type != BALLOT_MSG_SNAPSHOT || s->to != 3)
			continue;
		assert_int_equal(s->offset, next_offset);
		next_offset += 4;
		chunks++;
		done = s->done;
	}
	assert_int_equal(chunks, (strlen(TEN_SM) + 3) / 4);
	assert_true(done);
	ballot_raft_status s = rh_status(&c, 3);
	assert_int_equal(s.snap_index, 11);
	assert_int_equal(c.nodes[3].snap_index, 11);
	assert_string_equal(rh_sm(&c, 3), TEN_SM);

	/* And it is an ordinary follower again. */
	assert_int_equal(rh_propose(&c, 1, "after", NULL), 0);
	rh_run(&c, 2);
	assert_string_equal(rh_sm(&c, 3), TEN_SM ",after");
	rh_free(&c);
}

/* Raft §7: "If [the snapshot is not a prefix of its log], the follower discards its entire
 * log; it is all superseded by the snapshot", and takes the snapshot's index as committed. */
static void snapshot_install_resets_follower_log_and_commit(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 3);
	rh_run(&c, 1);
	/* 3 leads, is cut off, and takes two proposals nobody else sees. */
	rh_isolate(&c, 3);
	assert_int_equal(rh_propose(&c, 3, "s1", NULL), 0);
	assert_int_equal(rh_propose(&c, 3, "s2", NULL), 0);
	assert_log_terms(&c, 3, "1 1 1");
	/* 1 and 2 elect one of them and go on; the leader compacts everything. */
	unsigned rounds = 0;
	while (rh_role(&c, 1) != BALLOT_ROLE_LEADER && rh_role(&c, 2) != BALLOT_ROLE_LEADER) {
		rh_tick(&c, 1);
		rh_tick(&c, 2);
		rh_deliver_all(&c);
		if (++rounds > 10 * E)
			RH_FAIL("1 and 2 elected nobody");
	}
	uint64_t leader = rh_leader(&c);
	propose_all(&c, leader, ten, 3);
	uint64_t last = rh_last(&c, leader);
	assert_int_equal(rh_commit(&c, leader), last);
	assert_int_equal(rh_compact(&c, leader, last), 0);

	rh_heal(&c);
	rh_drop(&c, 0, 0, 0);
	rh_run(&c, 3);
	ballot_raft_status s = rh_status(&c, 3);
	assert_int_equal(s.role, BALLOT_ROLE_FOLLOWER);
	assert_int_equal(s.snap_index, last);
	assert_int_equal(s.first_index, last + 1);
	assert_true(s.commit >= last);
	assert_int_equal(ballot_raft_term_at(rh_raft(&c, 3), last), rh_term(&c, leader));
	assert_string_equal(rh_sm(&c, 3), "v0,v1,v2");
	/* Its disk: the snapshot, and none of the stale entries. */
	assert_int_equal(c.nodes[3].snap_index, last);
	for (size_t i = 0; i < c.nodes[3].log_count; i++)
		assert_true(c.nodes[3].log[i].index > last);
	rh_free(&c);
}

/* A node restarts from what it persisted: the snapshot, then the entries after it, and its
 * state machine comes back to where it was (the committed entries are applied again). */
static void restart_from_snapshot_and_entries_recovers_state(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	propose_all(&c, 1, ten, 4);
	rh_run(&c, 1);
	assert_int_equal(rh_compact(&c, 2, 3), 0);
	assert_int_equal(rh_compact(&c, 1, 4), 0);
	propose_all(&c, 1, ten + 4, 3);
	rh_run(&c, 1);
	const char *want = "v0,v1,v2,v3,v4,v5,v6";
	for (uint64_t id = 1; id <= 2; id++) {
		ballot_raft_status before = rh_status(&c, id);
		assert_string_equal(rh_sm(&c, id), want);
		rh_crash(&c, id);
		rh_restart(&c, id);
		rh_process(&c, id);
		ballot_raft_status after = rh_status(&c, id);
		assert_int_equal(after.term, before.term);
		assert_int_equal(after.vote, before.vote);
		assert_int_equal(after.snap_index, before.snap_index);
		assert_int_equal(after.last_index, before.last_index);
		assert_int_equal(after.last_term, before.last_term);
		assert_int_equal(after.commit, before.commit);
		assert_string_equal(rh_sm(&c, id), want);
	}
	/* The cluster works on: 1 was the leader and must be elected (or follow) again. */
	rh_run(&c, 6 * E);
	uint64_t leader = rh_leader(&c);
	assert_int_not_equal(leader, 0);
	assert_int_equal(rh_propose(&c, leader, "v7", NULL), 0);
	rh_run(&c, 2);
	for (uint64_t id = 1; id <= 3; id++)
		assert_string_equal(rh_sm(&c, id), "v0,v1,v2,v3,v4,v5,v6,v7");
	rh_free(&c);
}

/* Raft §7 with real timing: the leader keeps sending heartbeats while a snapshot travels in
 * chunks, and messages take a tick each way. The transfer must still finish. */
static void snapshot_in_chunks_completes_while_heartbeats_continue(void **state)
{
	(void)state;
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	o.snapshot_chunk_bytes = 4;
	static rh_cluster c;
	leave_3_behind(&c, &o);
	assert_int_equal(rh_compact(&c, 1, 11), 0);
	rh_heal(&c);
	rh_drop(&c, 0, 0, 0);
	/* Each round: every node ticks, then what was on the wire arrives (answers wait for the
	 * next round). 8 chunks need about 8 rounds; allow 10 times that. */
	for (unsigned round = 0; round < 80 && c.nodes[3].snap_index != 11; round++) {
		rh_tick(&c, 0);
		rh_deliver(&c, 0, 0, 0);
	}
	assert_int_equal(c.nodes[3].snap_index, 11);
	rh_run(&c, 2);
	assert_string_equal(rh_sm(&c, 3), TEN_SM);
	rh_free(&c);
}

/* Raft assumes the network may duplicate messages. A chunk delivered twice is answered
 * without undoing the transfer, and the leader sends each chunk once per answer: the
 * snapshot still arrives, and the traffic dies down. */
static void duplicated_snapshot_chunk_does_not_restart_the_transfer(void **state)
{
	(void)state;
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	o.snapshot_chunk_bytes = 4;
	static rh_cluster c;
	leave_3_behind(&c, &o);
	assert_int_equal(rh_compact(&c, 1, 11), 0);
	rh_heal(&c);
	rh_drop(&c, 0, 0, 0);
	rh_tick(&c, 1);
	/* Deliver one hop at a time until the second chunk is on its way; send it twice. */
	const ballot_msg *chunk = NULL;
	for (unsigned pass = 0; pass < 20 && chunk == NULL; pass++) {
		rh_deliver(&c, 0, 0, 0);
		for (size_t k = 0; (chunk = rh_wire_find(&c, 1, 3, BALLOT_MSG_SNAPSHOT, k)) != NULL; k++) {
			if (chunk->offset == 4)
				break;
		}
	}
	assert_non_null(chunk);
	ballot_msg *dup = ballot_msg_clone(chunk);
	assert_non_null(dup);
	rh_wire_push(&c, dup);
	rh_deliver_all(&c);
	assert_int_equal(c.nodes[3].snap_index, 11);
	rh_run(&c, 2);
	assert_string_equal(rh_sm(&c, 3), TEN_SM);
	rh_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compact_drops_entries_and_keeps_terms),
		cmocka_unit_test(compaction_in_steps_frees_the_log_gradually),
		cmocka_unit_test(lagging_follower_receives_snapshot_in_chunks),
		cmocka_unit_test(snapshot_install_resets_follower_log_and_commit),
		cmocka_unit_test(restart_from_snapshot_and_entries_recovers_state),
		cmocka_unit_test(snapshot_in_chunks_completes_while_heartbeats_continue),
		cmocka_unit_test(duplicated_snapshot_chunk_does_not_restart_the_transfer),
	};
	return cmocka_run_group_tests(tests, NULL, rh_free_leftovers);
}
