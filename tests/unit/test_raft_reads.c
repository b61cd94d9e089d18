/* Unit tests of the Raft core (ballot/raft.h): linearizable reads with ReadIndex and with
 * leader leases (Ongaro's thesis §6.4). */
#include "raft_harness.h"

#define E 10

static void assert_no_read(rh_cluster *c, uint64_t id, uint64_t request)
{
	const ballot_read_state *rs = rh_read_state(c, id, request);
	if (rs != NULL)
		RH_FAIL("node %llu answered read %llu (index %llu, ok %d) too early", (unsigned long long)id,
			(unsigned long long)request, (unsigned long long)rs->index, rs->ok);
}

static void assert_read(rh_cluster *c, uint64_t id, uint64_t request, uint64_t index)
{
	const ballot_read_state *rs = rh_read_state(c, id, request);
	if (rs == NULL)
		RH_FAIL("node %llu has not answered read %llu", (unsigned long long)id, (unsigned long long)request);
	if (!rs->ok || rs->index != index)
		RH_FAIL("node %llu answered read %llu with index %llu ok %d, expected index %llu ok 1",
			(unsigned long long)id, (unsigned long long)request, (unsigned long long)rs->index, rs->ok,
			(unsigned long long)index);
}

/* Thesis §6.4 step 3: "The leader sends a new round of heartbeats, and waits for their
 * acknowledgments from a majority of the cluster", then reads at the commit index it
 * recorded. */
static void read_index_waits_for_heartbeat_quorum(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 5);
	rh_elect(&c, 1);
	assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	rh_deliver_all(&c);
	assert_int_equal(rh_commit(&c, 1), 2);

	rh_sent_clear(&c);
	assert_int_equal(rh_read(&c, 1, 42), 0);
	assert_no_read(&c, 1, 42);
	assert_int_equal(rh_wire_count(&c, 1, 0, BALLOT_MSG_APPEND), 4); /* the round */
	const ballot_msg *hb = rh_wire_find(&c, 1, 2, BALLOT_MSG_APPEND, 0);
	assert_true(hb->read_round > 0);

	rh_deliver(&c, 1, 2, BALLOT_MSG_APPEND);
	rh_deliver(&c, 2, 1, BALLOT_MSG_APPEND_RESP);
	assert_no_read(&c, 1, 42); /* the leader and 2: two of five */
	rh_deliver(&c, 1, 3, BALLOT_MSG_APPEND);
	rh_deliver(&c, 3, 1, BALLOT_MSG_APPEND_RESP);
	assert_read(&c, 1, 42, 2);
	rh_deliver_all(&c);
	rh_free(&c);
}

static bool not_carrying_entries(const ballot_msg *m, void *arg)
{
	(void)arg;
	return m->entry_count == 0;
}

/* Thesis §6.4 step 1: a new leader does not know the commit index until it has committed
 * an entry of its term; a read waits for that, then reads at least there. */
static void read_index_waits_for_leader_to_commit_in_its_term(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init_empty(&c, NULL, 1);
	ballot_config cfg = rh_config_voters(3);
	const uint64_t terms[] = {1, 1, 2, 2};
	/* Everyone holds 4 entries, committed (says 2's hard state) but not known committed by 1. */
	rh_add_node_with_log(&c, 1, &cfg, (ballot_hard_state){.term = 2}, terms, 4);
	rh_add_node_with_log(&c, 2, &cfg, (ballot_hard_state){.term = 2, .commit = 4}, terms, 4);
	rh_add_node_with_log(&c, 3, &cfg, (ballot_hard_state){.term = 2}, terms, 4);
	rh_campaign(&c, 1);
	while (rh_role(&c, 1) != BALLOT_ROLE_LEADER) {
		if (rh_deliver(&c, 0, 0, BALLOT_MSG_PREVOTE) + rh_deliver(&c, 0, 0, BALLOT_MSG_PREVOTE_RESP) +
			    rh_deliver(&c, 0, 0, BALLOT_MSG_VOTE) + rh_deliver(&c, 0, 0, BALLOT_MSG_VOTE_RESP) ==
		    0)
			RH_FAIL("election stalled");
	}
	assert_int_equal(rh_commit(&c, 1), 0);
	assert_int_equal(rh_read(&c, 1, 7), 0);
	/* Heartbeats reach a majority and are answered, but nothing carrying the no-op (index 5)
	 * does: the leader's commit index is still 0, and a read there could miss entry 4. */
	rh_drop(&c, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		rh_tick(&c, 1);
		rh_deliver_where(&c, not_carrying_entries, NULL);
		rh_deliver_where(&c, not_carrying_entries, NULL);
		rh_drop(&c, 0, 0, 0);
	}
	assert_true(rh_sent_count(&c, 2, 1, BALLOT_MSG_APPEND_RESP) > 0);
	assert_int_equal(rh_commit(&c, 1), 0);
	assert_no_read(&c, 1, 7);
	rh_run(&c, 1);
	assert_int_equal(rh_commit(&c, 1), 5);
	assert_read(&c, 1, 7, 5);
	rh_free(&c);
}

static void read_on_follower_returns_not_leader(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	assert_int_equal(rh_read(&c, 2, 1), BALLOT_ENOTLEADER);
	rh_elect(&c, 1);
	assert_int_equal(rh_read(&c, 2, 1), BALLOT_ENOTLEADER);
	assert_no_read(&c, 2, 1);
	rh_free(&c);
}

/* Thesis §6.4: a leader that loses leadership before confirming a read refuses it (the
 * client retries elsewhere); it never answers it. */
static void reads_fail_when_leadership_lost(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	rh_isolate(&c, 1);
	assert_int_equal(rh_read(&c, 1, 5), 0);
	rh_tick_n(&c, 1, 2 * E); /* check-quorum: it steps down */
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_FOLLOWER);
	const ballot_read_state *rs = rh_read_state(&c, 1, 5);
	assert_non_null(rs);
	assert_false(rs->ok);

	/* The same when a higher term deposes it. */
	rh_heal(&c);
	rh_drop(&c, 0, 0, 0);
	rh_run(&c, 4 * E);
	uint64_t leader = rh_leader(&c);
	assert_int_not_equal(leader, 0);
	rh_isolate(&c, leader);
	assert_int_equal(rh_read(&c, leader, 6), 0);
	ballot_msg up = {.type = BALLOT_MSG_APPEND_RESP, .from = leader % 3 + 1, .to = leader,
			 .term = rh_term(&c, leader) + 1};
	ballot_raft_step(rh_raft(&c, leader), &up);
	rh_process(&c, leader);
	rs = rh_read_state(&c, leader, 6);
	assert_non_null(rs);
	assert_false(rs->ok);
	rh_free(&c);
}

/* A leader cut off from the majority, which has elected someone else and written since,
 * must never answer a ReadIndex read. */
static void stale_leader_cannot_answer_read_index(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	rh_isolate(&c, 1);
	assert_int_equal(rh_read(&c, 1, 9), 0);
	unsigned rounds = 0;
	while (rh_role(&c, 2) != BALLOT_ROLE_LEADER && rh_role(&c, 3) != BALLOT_ROLE_LEADER) {
		rh_tick(&c, 2);
		rh_tick(&c, 3);
		rh_deliver_all(&c);
		if (++rounds > 10 * E)
			RH_FAIL("2 and 3 elected nobody");
	}
	uint64_t leader = rh_leader(&c);
	assert_int_equal(rh_propose(&c, leader, "new", NULL), 0);
	rh_deliver_all(&c);
	const ballot_read_state *rs = rh_read_state(&c, 1, 9);
	if (rs != NULL)
		assert_false(rs->ok);
	rh_heal(&c);
	rh_run(&c, 2);
	rs = rh_read_state(&c, 1, 9);
	assert_non_null(rs);
	assert_false(rs->ok);
	rh_free(&c);
}

/* Thesis §6.4.1: with leases, a leader that confirmed its leadership recently answers a read
 * at once, with no round of messages; without them, every read takes a round. */
static void lease_read_answers_without_round_when_enabled(void **state)
{
	(void)state;
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	o.lease_reads = true;
	static rh_cluster c;
	rh_init_opts(&c, 3, &o, 1);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	assert_int_equal(rh_read(&c, 1, 1), 0); /* the first read confirms leadership */
	rh_deliver_all(&c);
	assert_read(&c, 1, 1, 1);

	rh_sent_clear(&c);
	assert_int_equal(rh_read(&c, 1, 2), 0);
	assert_read(&c, 1, 2, 1);
	assert_int_equal(c.sent_count, 0);

	/* The lease runs out (half an election timeout after its round began). */
	rh_run(&c, E);
	rh_sent_clear(&c);
	assert_int_equal(rh_read(&c, 1, 3), 0);
	assert_no_read(&c, 1, 3);
	assert_true(rh_sent_count(&c, 1, 0, BALLOT_MSG_APPEND) > 0);
	rh_deliver_all(&c);
	assert_read(&c, 1, 3, 1);

	/* Off (the default), a read right after a confirmed one still takes a round. */
	rh_free(&c);
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	assert_int_equal(rh_read(&c, 1, 1), 0);
	rh_deliver_all(&c);
	assert_read(&c, 1, 1, 1);
	assert_int_equal(rh_read(&c, 1, 2), 0);
	assert_no_read(&c, 1, 2);
	rh_deliver_all(&c);
	assert_read(&c, 1, 2, 1);
	rh_free(&c);
}

/* Thesis §6.4.1: the lease must end before any other server can become leader. Cut off
 * with every clock ticking together, the old leader answers lease reads only while no new
 * leader exists. */
static void lease_read_expires_before_a_new_leader_can_be_elected(void **state)
{
	(void)state;
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	o.lease_reads = true;
	for (uint64_t seed = 1; seed <= 10; seed++) {
		static rh_cluster c;
		rh_init_opts(&c, 3, &o, seed);
		rh_elect(&c, 1);
		rh_run(&c, 1);
		assert_int_equal(rh_read(&c, 1, 1), 0);
		rh_deliver_all(&c);
		assert_read(&c, 1, 1, 1);
		rh_isolate(&c, 1);
		for (uint64_t req = 2; req < 2 + 4 * E; req++) {
			rh_tick(&c, 0);
			rh_deliver_all(&c);
			if (rh_role(&c, 1) != BALLOT_ROLE_LEADER)
				break;
			assert_int_equal(rh_read(&c, 1, req), 0);
			const ballot_read_state *rs = rh_read_state(&c, 1, req);
			bool other = rh_role(&c, 2) == BALLOT_ROLE_LEADER || rh_role(&c, 3) == BALLOT_ROLE_LEADER;
			if (rs != NULL && rs->ok && other)
				RH_FAIL("seed %llu: lease read answered by 1 while another leader exists",
					(unsigned long long)seed);
		}
		rh_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_index_waits_for_heartbeat_quorum),
		cmocka_unit_test(read_index_waits_for_leader_to_commit_in_its_term),
		cmocka_unit_test(read_on_follower_returns_not_leader),
		cmocka_unit_test(reads_fail_when_leadership_lost),
		cmocka_unit_test(stale_leader_cannot_answer_read_index),
		cmocka_unit_test(lease_read_answers_without_round_when_enabled),
		cmocka_unit_test(lease_read_expires_before_a_new_leader_can_be_elected),
	};
	return cmocka_run_group_tests(tests, NULL, rh_free_leftovers);
}
