/* Unit tests of the Raft core (ballot/raft.h): leader election, with pre-vote and
 * check-quorum (Raft §5.2, §5.4.1; Ongaro's thesis §6.2, §9.6).
 *
 * Each test drives an in-memory cluster (raft_harness.h) or steps hand-made messages into a
 * node and reads what it sends. */
#include "raft_harness.h"

#define E 10 /* election ticks in every test (the default); timeouts are in [E, 2E) */

/* A vote request (or pre-vote) from `from` to `to`, stepped into `to` and processed. */
static void step_vote_request(rh_cluster *c, uint8_t type, uint64_t from, uint64_t to, uint64_t term,
			      uint64_t last_index, uint64_t last_term)
{
	ballot_msg m = {.type = type, .from = from, .to = to, .term = term,
			.last_index = last_index, .last_term = last_term};
	ballot_raft_step(rh_raft(c, to), &m);
	rh_process(c, to);
}

/* Whether the last vote response from `from` to `to` on the wire granted the vote; fails
 * if there is none. */
static bool vote_granted(rh_cluster *c, uint8_t type, uint64_t from, uint64_t to)
{
	size_t n = rh_wire_count(c, from, to, type);
	if (n == 0)
		RH_FAIL("no %s from %llu to %llu", ballot_msg_type_name(type), (unsigned long long)from,
			(unsigned long long)to);
	return rh_wire_find(c, from, to, type, n - 1)->success;
}

static ballot_raft_options opts_without_prevote(void)
{
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	o.pre_vote = false;
	o.check_quorum = false;
	return o;
}

/* ---- who becomes leader --------------------------------------------------------------------- */

static void election_single_node_becomes_leader_alone(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 1);
	rh_campaign(&c, 1);
	ballot_raft_status s = rh_status(&c, 1);
	assert_int_equal(s.role, BALLOT_ROLE_LEADER);
	assert_int_equal(s.term, 1);
	assert_int_equal(s.vote, 1);
	/* Raft §8: its first entry is a no-op of its term, committed by itself alone. */
	assert_int_equal(s.last_index, 1);
	assert_int_equal(s.commit, 1);
	assert_int_equal(ballot_raft_entry(rh_raft(&c, 1), 1)->type, BALLOT_ENTRY_NOOP);
	assert_int_equal(c.wire_count, 0);
	rh_free(&c);
}

/* Raft §5.2 Election Safety: at most one leader per term, here with every node's timer
 * running (so split votes happen) and many seeds. */
static void election_three_nodes_elect_exactly_one_leader(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 30; seed++) {
		static rh_cluster c;
		rh_init_opts(&c, 3, NULL, seed);
		unsigned rounds = 0;
		while (rh_leader(&c) == 0 && rounds++ < 20 * E)
			rh_run(&c, 1);
		uint64_t leader = rh_leader(&c);
		if (leader == 0)
			RH_FAIL("seed %llu: no leader after %u rounds", (unsigned long long)seed, rounds);
		rh_run(&c, 3); /* heartbeats reach everyone */
		unsigned leaders = 0;
		for (uint64_t id = 1; id <= 3; id++) {
			ballot_raft_status s = rh_status(&c, id);
			leaders += s.role == BALLOT_ROLE_LEADER;
			assert_int_equal(s.leader, leader);
			assert_int_equal(s.term, rh_term(&c, leader));
		}
		assert_int_equal(leaders, 1);
		rh_free(&c);
	}
}

/* Raft §5.2: "each server will vote for at most one candidate in a given term". */
static void vote_granted_at_most_once_per_term(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	step_vote_request(&c, BALLOT_MSG_VOTE, 2, 1, 1, 0, 0);
	assert_true(vote_granted(&c, BALLOT_MSG_VOTE_RESP, 1, 2));
	assert_int_equal(rh_status(&c, 1).vote, 2);
	assert_int_equal(c.nodes[1].hs.vote, 2); /* persisted before the answer left */

	step_vote_request(&c, BALLOT_MSG_VOTE, 3, 1, 1, 0, 0);
	assert_false(vote_granted(&c, BALLOT_MSG_VOTE_RESP, 1, 3));
	assert_int_equal(rh_status(&c, 1).vote, 2);

	/* The same candidate asking again (a lost answer) gets the same answer. */
	step_vote_request(&c, BALLOT_MSG_VOTE, 2, 1, 1, 0, 0);
	assert_true(vote_granted(&c, BALLOT_MSG_VOTE_RESP, 1, 2));

	/* A new term frees the vote. */
	step_vote_request(&c, BALLOT_MSG_VOTE, 3, 1, 2, 0, 0);
	assert_true(vote_granted(&c, BALLOT_MSG_VOTE_RESP, 1, 3));
	assert_int_equal(rh_status(&c, 1).vote, 3);
	assert_int_equal(rh_term(&c, 1), 2);
	rh_free(&c);
}

/* Raft §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the
 * candidate": a later last term wins; with equal last terms, the longer log. */
static void vote_refused_to_candidate_with_stale_log(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init_empty(&c, NULL, 1);
	ballot_config cfg = rh_config_voters(3);
	const uint64_t terms[] = {1, 1, 2};
	rh_add_node_with_log(&c, 1, &cfg, (ballot_hard_state){.term = 2}, terms, 3);
	rh_add_node(&c, 2, &cfg);
	rh_add_node(&c, 3, &cfg);

	/* Same last term, shorter log. */
	step_vote_request(&c, BALLOT_MSG_VOTE, 2, 1, 3, 2, 2);
	assert_false(vote_granted(&c, BALLOT_MSG_VOTE_RESP, 1, 2));
	/* Longer log, earlier last term. */
	step_vote_request(&c, BALLOT_MSG_VOTE, 3, 1, 3, 5, 1);
	assert_false(vote_granted(&c, BALLOT_MSG_VOTE_RESP, 1, 3));
	assert_int_equal(rh_status(&c, 1).vote, 0); /* refusals spend no vote */
	/* The same log is up to date enough. */
	step_vote_request(&c, BALLOT_MSG_VOTE, 2, 1, 3, 3, 2);
	assert_true(vote_granted(&c, BALLOT_MSG_VOTE_RESP, 1, 2));
	/* A later last term beats a longer log. */
	step_vote_request(&c, BALLOT_MSG_VOTE, 3, 1, 4, 1, 3);
	assert_true(vote_granted(&c, BALLOT_MSG_VOTE_RESP, 1, 3));
	/* Pre-votes follow the same rule (thesis §9.6). */
	step_vote_request(&c, BALLOT_MSG_PREVOTE, 2, 1, 5, 2, 2);
	assert_false(vote_granted(&c, BALLOT_MSG_PREVOTE_RESP, 1, 2));
	rh_free(&c);
}

/* Raft §5.2: "If the AppendEntries RPC is from a leader whose term is at least as large as
 * the candidate's current term, then the candidate ... returns to follower state." */
static void candidate_steps_down_on_append_from_leader_of_same_term(void **state)
{
	(void)state;
	ballot_raft_options o = opts_without_prevote();
	static rh_cluster c;
	rh_init_opts(&c, 3, &o, 1);
	rh_campaign(&c, 1);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_CANDIDATE);
	assert_int_equal(rh_term(&c, 1), 1);

	ballot_msg hb = {.type = BALLOT_MSG_APPEND, .from = 2, .to = 1, .term = 1};
	ballot_raft_step(rh_raft(&c, 1), &hb);
	rh_process(&c, 1);
	ballot_raft_status s = rh_status(&c, 1);
	assert_int_equal(s.role, BALLOT_ROLE_FOLLOWER);
	assert_int_equal(s.term, 1);
	assert_int_equal(s.leader, 2);
	const ballot_msg *resp = rh_wire_find(&c, 1, 2, BALLOT_MSG_APPEND_RESP, 0);
	assert_non_null(resp);
	assert_true(resp->success);
	rh_free(&c);
}

/* Raft §5.1: "If a candidate or leader discovers that its term is out of date, it
 * immediately reverts to follower state." */
static void higher_term_makes_leader_step_down(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	assert_int_equal(rh_term(&c, 1), 1);

	ballot_msg resp = {.type = BALLOT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 5};
	ballot_raft_step(rh_raft(&c, 1), &resp);
	rh_process(&c, 1);
	ballot_raft_status s = rh_status(&c, 1);
	assert_int_equal(s.role, BALLOT_ROLE_FOLLOWER);
	assert_int_equal(s.term, 5);
	assert_int_equal(s.vote, 0);
	assert_int_equal(c.nodes[1].hs.term, 5);

	/* An append of a later term names the new leader. */
	ballot_msg hb = {.type = BALLOT_MSG_APPEND, .from = 3, .to = 1, .term = 6, .prev_index = 1,
			 .prev_term = 1, .commit = 1};
	ballot_raft_step(rh_raft(&c, 1), &hb);
	s = rh_status(&c, 1);
	assert_int_equal(s.term, 6);
	assert_int_equal(s.leader, 3);
	rh_free(&c);
}

/* Thesis §9.6: "a candidate [first] asks ... if its log is up-to-date enough to get votes"
 * without incrementing its term; neither it nor the servers it asks change term. */
static void prevote_does_not_increment_term(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_isolate(&c, 1);
	rh_campaign(&c, 1);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_PRECANDIDATE);
	assert_int_equal(rh_term(&c, 1), 0);
	const ballot_msg *pv = rh_wire_find(&c, 1, 2, BALLOT_MSG_PREVOTE, 0);
	assert_non_null(pv);
	assert_int_equal(pv->term, 1); /* the term it would campaign in */
	assert_int_equal(rh_wire_count(&c, 1, 0, BALLOT_MSG_VOTE), 0);

	/* Cut off, it keeps asking and keeps its term. */
	for (int round = 0; round < 5; round++) {
		rh_deliver_all(&c);
		rh_tick_n(&c, 1, 2 * E);
	}
	assert_true(rh_sent_count(&c, 1, 2, BALLOT_MSG_PREVOTE) >= 5);
	assert_int_equal(rh_term(&c, 1), 0);
	assert_int_equal(c.nodes[1].hs.term, 0);
	assert_int_equal(c.nodes[1].hs.vote, 0);

	/* A server that grants a pre-vote changes neither term nor vote. */
	rh_heal(&c);
	rh_drop(&c, 0, 0, 0);
	rh_tick_n(&c, 1, 2 * E);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_PRECANDIDATE);
	rh_deliver(&c, 1, 2, BALLOT_MSG_PREVOTE);
	assert_true(vote_granted(&c, BALLOT_MSG_PREVOTE_RESP, 2, 1));
	assert_int_equal(rh_term(&c, 2), 0);
	assert_int_equal(rh_status(&c, 2).vote, 0);

	/* Winning the pre-vote, it campaigns for real: one term, once. */
	rh_deliver_all(&c);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_LEADER);
	assert_int_equal(rh_term(&c, 1), 1);
	rh_free(&c);
}

/* Thesis §9.6 and §6.2: a server cut off from the cluster keeps pre-voting without raising
 * its term, so when it comes back it does not force the leader out. */
static void partitioned_node_rejoining_does_not_disrupt_leader(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 2);
	rh_isolate(&c, 3);
	rh_run(&c, 10 * E);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_LEADER);
	assert_int_not_equal(rh_role(&c, 3), BALLOT_ROLE_LEADER);
	assert_int_equal(rh_term(&c, 3), 1);
	assert_true(rh_sent_count(&c, 3, 0, BALLOT_MSG_PREVOTE) > 0);

	rh_heal(&c);
	rh_run(&c, 5 * E);
	for (uint64_t id = 1; id <= 3; id++) {
		ballot_raft_status s = rh_status(&c, id);
		assert_int_equal(s.term, 1);
		assert_int_equal(s.leader, 1);
	}
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_LEADER);
	rh_free(&c);
}

/* Thesis §6.2: "a leader steps down if an election timeout elapses without a successful
 * round of heartbeats to a majority of its cluster". */
static void check_quorum_leader_steps_down_when_isolated(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	/* Connected, it stays leader for as long as we care to look. */
	rh_run(&c, 5 * E);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_LEADER);

	rh_isolate(&c, 1);
	rh_tick_n(&c, 1, E - 1);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_LEADER); /* not before a timeout */
	rh_tick_n(&c, 1, E + 1);
	ballot_raft_status s = rh_status(&c, 1);
	assert_int_equal(s.role, BALLOT_ROLE_FOLLOWER);
	assert_int_equal(s.term, 1); /* stepping down is not a new term */
	assert_int_equal(s.leader, 0);
	rh_free(&c);
}

static void learner_never_campaigns(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init_empty(&c, NULL, 1);
	ballot_config cfg = rh_config_voters(3);
	cfg.members[2].role = BALLOT_MEMBER_LEARNER;
	for (uint64_t id = 1; id <= 3; id++)
		rh_add_node(&c, id, &cfg);
	rh_tick_n(&c, 3, 20 * E);
	assert_int_equal(rh_role(&c, 3), BALLOT_ROLE_FOLLOWER);
	assert_int_equal(rh_term(&c, 3), 0);
	assert_int_equal(rh_sent_count(&c, 3, 0, 0), 0);

	/* Not even when told to (a transfer aimed at it by mistake). */
	ballot_msg tn = {.type = BALLOT_MSG_TIMEOUT_NOW, .from = 1, .to = 3, .term = 0};
	ballot_raft_step(rh_raft(&c, 3), &tn);
	rh_process(&c, 3);
	assert_int_equal(rh_role(&c, 3), BALLOT_ROLE_FOLLOWER);
	assert_int_equal(rh_sent_count(&c, 3, 0, 0), 0);

	/* The voters elect among themselves and nobody asks the learner for a vote. */
	rh_elect(&c, 1);
	assert_int_equal(rh_sent_count(&c, 1, 3, BALLOT_MSG_PREVOTE), 0);
	assert_int_equal(rh_sent_count(&c, 1, 3, BALLOT_MSG_VOTE), 0);
	rh_free(&c);
}

/* Raft §5.2: "election timeouts are chosen randomly from a fixed interval"; here
 * [election_ticks, 2 * election_ticks), drawn again for every wait. */
static void election_timeout_is_randomized_between_e_and_2e(void **state)
{
	(void)state;
	bool seen[2 * E] = {false};
	for (uint64_t seed = 1; seed <= 40; seed++) {
		static rh_cluster c;
		rh_init_opts(&c, 3, NULL, seed);
		rh_isolate(&c, 1);
		for (int wait = 0; wait < 3; wait++) {
			unsigned ticks = 0;
			size_t prevotes = rh_sent_count(&c, 1, 2, BALLOT_MSG_PREVOTE);
			do {
				rh_tick(&c, 1);
				ticks++;
			} while (rh_sent_count(&c, 1, 2, BALLOT_MSG_PREVOTE) == prevotes && ticks <= 2 * E);
			if (ticks < E || ticks >= 2 * E)
				RH_FAIL("seed %llu: timeout after %u ticks, outside [%d, %d)", (unsigned long long)seed,
					ticks, E, 2 * E);
			seen[ticks] = true;
			rh_deliver_all(&c);
		}
		rh_free(&c);
	}
	unsigned distinct = 0;
	for (unsigned t = 0; t < 2 * E; t++)
		distinct += seen[t];
	assert_true(distinct >= E / 2);
}

/* Thesis §4.1: "a server ... grants votes to candidates not part of its current
 * configuration", so a server added by a configuration entry this one has not yet seen can
 * still be elected. Without a live leader (no lease to protect), the vote is granted. */
static void vote_request_from_non_member_is_answered(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	ballot_msg m = {.type = BALLOT_MSG_VOTE, .from = 7, .to = 1, .term = 4};
	ballot_raft_step(rh_raft(&c, 1), &m);
	rh_process(&c, 1);
	assert_int_equal(rh_term(&c, 1), 4);
	assert_int_equal(rh_status(&c, 1).vote, 7);
	assert_int_equal(rh_wire_count(&c, 1, 7, 0), 1);
	rh_free(&c);
}

/* Three nodes under leader 1, which then crashes. */
static void leader_crashed(rh_cluster *c)
{
	rh_init(c, 3);
	rh_elect(c, 1);
	rh_run(c, 2);
	rh_crash(c, 1);
}

/* ballot_raft_leader_lost: a leader's process dies and its connections close; with the hint
 * the followers elect a new leader before an election timeout would even have started a
 * campaign (without it, nobody has campaigned by then). */
static void leader_lost_hint_elects_within_heartbeats(void **state)
{
	(void)state;
	static rh_cluster c;
	leader_crashed(&c);
	ballot_raft_leader_lost(rh_raft(&c, 2), 1);
	ballot_raft_leader_lost(rh_raft(&c, 3), 1);
	ballot_raft_leader_lost(rh_raft(&c, 3), 2); /* not its leader: ignored */
	rh_run(&c, E - 1);
	uint64_t l = rh_leader(&c);
	assert_true(l == 2 || l == 3);
	assert_int_equal(rh_term(&c, l), 2);

	/* Without the hint: a whole election timeout passes first. */
	static rh_cluster d;
	leader_crashed(&d);
	rh_run(&d, E - 1);
	assert_int_equal(rh_leader(&d), 0);
	rh_free(&d);
	rh_free(&c);
}

/* After the hint, a campaign that fails (here the two followers cannot reach each other; in
 * ballotd, both campaigned in the same tick and split the vote) is retried within five
 * heartbeat intervals, not an election timeout, three campaigns in all; then the timeouts
 * are whole again; once the link is back a leader is elected. */
static void leader_lost_hint_retries_a_failed_campaign_soon(void **state)
{
	(void)state;
	static rh_cluster c;
	leader_crashed(&c);
	rh_cut(&c, 2, 3);
	rh_sent_clear(&c);
	ballot_raft_leader_lost(rh_raft(&c, 2), 1);
	/* Heartbeat interval 1 tick: campaigns at most 5 ticks apart, the first within 5. */
	rh_run(&c, 15);
	size_t quick = rh_sent_count(&c, 2, 3, BALLOT_MSG_PREVOTE);
	assert_true(quick >= 3); /* without: the second after at least E ticks, 1 or 2 by now */
	rh_run(&c, E - 1); /* then whole timeouts: at most one campaign in E - 1 ticks */
	assert_true(rh_sent_count(&c, 2, 3, BALLOT_MSG_PREVOTE) <= quick + 1);
	rh_heal(&c);
	rh_run(&c, 3 * E);
	assert_true(rh_leader(&c) == 2 || rh_leader(&c) == 3);
	rh_free(&c);
}

/* A false alarm (the leader is alive; one follower's connection from it closed) disrupts
 * nothing: the other follower's lease refuses the pre-vote, the term stays. */
static void leader_lost_hint_on_a_live_leader_disrupts_nothing(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 2);
	rh_cut(&c, 1, 2); /* 2 stops hearing the leader for a while */
	ballot_raft_leader_lost(rh_raft(&c, 2), 1);
	rh_run(&c, E / 2);
	assert_true(rh_sent_count(&c, 2, 0, BALLOT_MSG_PREVOTE) > 0);
	rh_heal(&c);
	rh_run(&c, 5 * E);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_LEADER);
	for (uint64_t id = 1; id <= 3; id++)
		assert_int_equal(rh_term(&c, id), 1);
	rh_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(election_single_node_becomes_leader_alone),
		cmocka_unit_test(election_three_nodes_elect_exactly_one_leader),
		cmocka_unit_test(vote_granted_at_most_once_per_term),
		cmocka_unit_test(vote_refused_to_candidate_with_stale_log),
		cmocka_unit_test(candidate_steps_down_on_append_from_leader_of_same_term),
		cmocka_unit_test(higher_term_makes_leader_step_down),
		cmocka_unit_test(prevote_does_not_increment_term),
		cmocka_unit_test(partitioned_node_rejoining_does_not_disrupt_leader),
		cmocka_unit_test(leader_lost_hint_elects_within_heartbeats),
		cmocka_unit_test(leader_lost_hint_on_a_live_leader_disrupts_nothing),
		cmocka_unit_test(leader_lost_hint_retries_a_failed_campaign_soon),
		cmocka_unit_test(check_quorum_leader_steps_down_when_isolated),
		cmocka_unit_test(learner_never_campaigns),
		cmocka_unit_test(election_timeout_is_randomized_between_e_and_2e),
		cmocka_unit_test(vote_request_from_non_member_is_answered),
	};
	return cmocka_run_group_tests(tests, NULL, rh_free_leftovers);
}
