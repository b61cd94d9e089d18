/* Unit tests of the Raft core (ballot/raft.h): leadership transfer (Ongaro's thesis §3.10). */
#include "raft_harness.h"

#define E 10

static int transfer(rh_cluster *c, uint64_t leader, uint64_t to)
{
	int rc = ballot_raft_transfer(rh_raft(c, leader), to);
	rh_process(c, leader);
	return rc;
}

/* Thesis §3.10: the leader stops taking requests, brings the target up to date, and sends
 * it TimeoutNow; the target starts an election at once (no pre-vote: it was told to) and
 * wins, even though the other servers heard from a leader recently. */
static void leadership_transfer_to_up_to_date_follower(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 2);
	assert_int_equal(transfer(&c, 1, 2), 0);
	assert_int_equal(rh_wire_count(&c, 1, 2, BALLOT_MSG_TIMEOUT_NOW), 1);
	rh_deliver_all(&c);
	assert_int_equal(rh_role(&c, 2), BALLOT_ROLE_LEADER);
	assert_int_equal(rh_term(&c, 2), 2);
	assert_int_equal(rh_sent_count(&c, 2, 0, BALLOT_MSG_PREVOTE), 0);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_FOLLOWER);
	rh_run(&c, 2);
	for (uint64_t id = 1; id <= 3; id++)
		assert_int_equal(rh_status(&c, id).leader, 2);
	assert_int_equal(rh_propose(&c, 2, "x", NULL), 0);
	rh_run(&c, 2);
	assert_string_equal(rh_sm(&c, 1), "x");
	rh_free(&c);
}

/* Thesis §3.10: "the prior leader ... [brings] the target server's log up to date", and
 * only then tells it to campaign (a target behind would lose). */
static void transfer_waits_for_target_to_catch_up(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	rh_cut(&c, 1, 3);
	assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	assert_int_equal(rh_propose(&c, 1, "y", NULL), 0);
	rh_deliver_all(&c);
	rh_heal(&c);
	assert_int_equal(rh_last(&c, 3), 1);

	assert_int_equal(transfer(&c, 1, 3), 0);
	assert_int_equal(rh_wire_count(&c, 1, 3, BALLOT_MSG_TIMEOUT_NOW), 0);
	rh_tick(&c, 1);
	for (unsigned pass = 0; rh_wire_count(&c, 1, 3, BALLOT_MSG_TIMEOUT_NOW) == 0; pass++) {
		if (pass > 20)
			RH_FAIL("no TimeoutNow after %u passes", pass);
		rh_deliver(&c, 0, 0, 0);
	}
	assert_int_equal(rh_last(&c, 3), rh_last(&c, 1)); /* caught up first */
	rh_deliver_all(&c);
	assert_int_equal(rh_role(&c, 3), BALLOT_ROLE_LEADER);
	rh_run(&c, 2);
	assert_string_equal(rh_sm(&c, 3), "x,y");
	rh_free(&c);
}

/* Thesis §3.10: "If the transfer does not complete within an election timeout, the prior
 * leader aborts the transfer and resumes accepting client requests." */
static void transfer_aborts_after_election_timeout(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	rh_cut(&c, 1, 2);
	assert_int_equal(transfer(&c, 1, 2), 0); /* its TimeoutNow is lost */
	assert_true(rh_status(&c, 1).transferring);
	for (int i = 0; i < E; i++) {
		rh_tick(&c, 1);
		rh_deliver_all(&c);
	}
	ballot_raft_status s = rh_status(&c, 1);
	assert_false(s.transferring);
	assert_int_equal(s.role, BALLOT_ROLE_LEADER);
	assert_int_equal(s.term, 1);
	assert_int_equal(rh_propose(&c, 1, "resumed", NULL), 0);
	rh_heal(&c);
	rh_run(&c, 2);
	assert_string_equal(rh_sm(&c, 2), "resumed");
	rh_free(&c);
}

/* Thesis §3.10: during a transfer "the prior leader stops accepting new client requests"
 * (so the target can catch up), membership changes included. */
static void proposals_refused_during_transfer(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	rh_cut(&c, 1, 3);
	assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	rh_deliver_all(&c);
	assert_int_equal(transfer(&c, 1, 3), 0);
	uint64_t last = rh_last(&c, 1);
	assert_int_equal(rh_propose(&c, 1, "refused", NULL), BALLOT_EBUSY);
	assert_int_equal(ballot_raft_add_learner(rh_raft(&c, 1), 4, "n4"), BALLOT_EBUSY);
	assert_int_equal(ballot_raft_remove(rh_raft(&c, 1), 2), BALLOT_EBUSY);
	assert_int_equal(rh_last(&c, 1), last);
	rh_heal(&c);
	rh_run(&c, 3);
	assert_int_equal(rh_role(&c, 3), BALLOT_ROLE_LEADER);
	assert_int_equal(rh_propose(&c, 1, "late", NULL), BALLOT_ENOTLEADER);
	rh_free(&c);
}

/* Transfer requests that make no sense are refused or are no-ops. */
static void transfer_to_self_learner_or_from_follower(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init_empty(&c, NULL, 1);
	ballot_config cfg = rh_config_voters(3);
	cfg.members[2].role = BALLOT_MEMBER_LEARNER;
	for (uint64_t id = 1; id <= 3; id++)
		rh_add_node(&c, id, &cfg);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	assert_int_equal(transfer(&c, 2, 1), BALLOT_ENOTLEADER);
	assert_int_equal(transfer(&c, 1, 1), 0);
	assert_false(rh_status(&c, 1).transferring);
	assert_int_equal(transfer(&c, 1, 3), BALLOT_EINVAL); /* a learner cannot lead */
	assert_int_equal(transfer(&c, 1, 9), BALLOT_EINVAL); /* not a member */
	assert_false(rh_status(&c, 1).transferring);
	assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	rh_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(leadership_transfer_to_up_to_date_follower),
		cmocka_unit_test(transfer_waits_for_target_to_catch_up),
		cmocka_unit_test(transfer_aborts_after_election_timeout),
		cmocka_unit_test(proposals_refused_during_transfer),
		cmocka_unit_test(transfer_to_self_learner_or_from_follower),
	};
	return cmocka_run_group_tests(tests, NULL, rh_free_leftovers);
}
