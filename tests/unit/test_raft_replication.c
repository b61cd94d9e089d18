/* Unit tests of the Raft core (ballot/raft.h): log replication and commitment (Raft §5.3,
 * §5.4.2), flow control (pipelining, batching, backpressure) and the ready contract
 * ("persist before you speak"). */
#include "raft_harness.h"

#define E 10

static ballot_raft_options opts_default(void)
{
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	return o;
}

/* Appends carrying entries from `from` to `to` that entered the wire since the last clear. */
static size_t appends_with_entries(const rh_cluster *c, uint64_t from, uint64_t to)
{
	size_t n = 0;
	for (size_t i = 0; i < c->sent_count; i++) {
		const rh_sent *s = &c->sent[i];
		n += s->type == BALLOT_MSG_APPEND && s->from == from && s->to == to && s->entry_count > 0;
	}
	return n;
}

/* Rejections among the append responses from `from` to `to` since the last clear. */
static size_t append_rejections(const rh_cluster *c, uint64_t from, uint64_t to)
{
	size_t n = 0;
	for (size_t i = 0; i < c->sent_count; i++) {
		const rh_sent *s = &c->sent[i];
		n += s->type == BALLOT_MSG_APPEND_RESP && s->from == from && s->to == to && !s->success;
	}
	return n;
}

static void assert_log_terms(rh_cluster *c, uint64_t id, const char *want)
{
	char got[512];
	rh_log_terms(c, id, got, sizeof got);
	if (strcmp(got, want) != 0)
		RH_FAIL("node %llu log terms [%s], expected [%s]", (unsigned long long)id, got, want);
}

/* The payload of entry index on node id, as a string (static buffer). */
static const char *payload(rh_cluster *c, uint64_t id, uint64_t index)
{
	static char buf[128];
	const ballot_entry *e = ballot_raft_entry(rh_raft(c, id), index);
	if (e == NULL || e->data == NULL)
		return "";
	size_t len = e->data->len < sizeof buf - 1 ? e->data->len : sizeof buf - 1;
	memcpy(buf, e->data->data, len);
	buf[len] = '\0';
	return buf;
}

/* What leader `id` knows node `of` holds (its match index). */
static uint64_t peer_match(rh_cluster *c, uint64_t id, uint64_t of)
{
	ballot_raft_status s = rh_status(c, id);
	for (unsigned i = 0; i < s.peer_count; i++) {
		if (s.peers[i].id == of)
			return s.peers[i].match;
	}
	RH_FAIL("node %llu has no progress for %llu", (unsigned long long)id, (unsigned long long)of);
	return 0;
}

/* ---- commitment ----------------------------------------------------------------------------- */

/* Raft §5.3: "A log entry is committed once the leader that created the entry has replicated
 * it on a majority of the servers". */
static void leader_replicates_and_commits_with_majority(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	uint64_t index = 0;
	assert_int_equal(rh_propose(&c, 1, "x", &index), 0);
	assert_int_equal(index, 2);
	assert_int_equal(rh_commit(&c, 1), 1); /* not before anyone acknowledged */
	rh_deliver_all(&c);
	assert_int_equal(rh_commit(&c, 1), 2);
	assert_string_equal(rh_sm(&c, 1), "x");
	for (uint64_t id = 2; id <= 3; id++) {
		assert_int_equal(rh_last(&c, id), 2);
		assert_string_equal(payload(&c, id, 2), "x");
	}
	rh_free(&c);
}

/* Raft §5.3: an entry held by a minority is not committed, however long we wait. */
static void cannot_commit_without_majority(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 5);
	rh_elect(&c, 1);
	rh_isolate(&c, 3);
	rh_isolate(&c, 4);
	rh_isolate(&c, 5);
	assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	for (int i = 0; i < E - 1; i++) { /* less than a timeout: check-quorum keeps it leader */
		rh_tick(&c, 1);
		rh_deliver_all(&c);
	}
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_LEADER);
	assert_int_equal(rh_last(&c, 2), 2); /* on 2 of 5 */
	assert_int_equal(rh_commit(&c, 1), 1);
	assert_int_equal(rh_commit(&c, 2), 1);
	assert_string_equal(rh_sm(&c, 1), "");

	rh_heal(&c);
	rh_run(&c, 2);
	for (uint64_t id = 1; id <= 5; id++) {
		assert_int_equal(rh_commit(&c, id), 2);
		assert_string_equal(rh_sm(&c, id), "x");
	}
	rh_free(&c);
}

/* Figure 8 of the Raft paper, with no-ops: leader 1 (term 3) gets its term-1 entry at
 * index 2 onto a majority (1, 2, 3) while its own no-op (index 4) is on itself only.
 * batch_bytes 1 makes every append carry one non-empty entry, so replies can be delivered
 * entry by entry. Leaves the cluster at Figure 8 (c); node 5 (term 2, log 1 2 2) is down. */
static void figure8_setup(rh_cluster *c)
{
	ballot_raft_options o = opts_default();
	o.pre_vote = false;
	o.check_quorum = false;
	o.batch_bytes = 1;
	rh_init_opts(c, 5, &o, 8);
	rh_elect(c, 1); /* term 1, no-op at 1 */
	rh_cut(c, 1, 3);
	rh_cut(c, 1, 4);
	rh_cut(c, 1, 5);
	assert_int_equal(rh_propose(c, 1, "xxxx", NULL), 0); /* index 2, reaches 2 only */
	rh_deliver_all(c);
	rh_isolate(c, 1);
	assert_int_equal(rh_propose(c, 1, "yyyy", NULL), 0); /* index 3, reaches nobody */
	rh_deliver_all(c);
	rh_crash(c, 1);
	rh_heal(c);

	/* (b) 5 wins term 2 with votes from 3 and 4, appends its no-op and "zzzz", tells nobody. */
	rh_campaign(c, 5);
	rh_deliver(c, 5, 0, BALLOT_MSG_VOTE);
	rh_deliver(c, 0, 5, BALLOT_MSG_VOTE_RESP);
	assert_int_equal(rh_role(c, 5), BALLOT_ROLE_LEADER);
	assert_int_equal(rh_term(c, 5), 2);
	rh_isolate(c, 5);
	assert_int_equal(rh_propose(c, 5, "zzzz", NULL), 0);
	rh_drop(c, 0, 0, 0);
	rh_crash(c, 5);
	rh_heal(c);

	/* (c) 1 restarts and wins term 3 (its first try in term 2 finds 3 and 4 have voted). */
	rh_restart(c, 1);
	rh_cut(c, 1, 4);
	while (rh_role(c, 1) != BALLOT_ROLE_LEADER) {
		rh_campaign(c, 1);
		rh_deliver(c, 1, 0, BALLOT_MSG_VOTE);
		rh_deliver(c, 0, 1, BALLOT_MSG_VOTE_RESP);
		if (rh_term(c, 1) > 3)
			RH_FAIL("node 1 did not win term 3");
	}
	assert_int_equal(rh_term(c, 1), 3);
	assert_log_terms(c, 1, "1 1 1 3");
	/* Its probes (prev 3) are refused by 2 (log 1 1) and 3 (log 1); it backs up and sends
	 * 2 index 3, and 3 index 2, one entry each. */
	rh_deliver(c, 1, 2, BALLOT_MSG_APPEND);
	rh_deliver(c, 1, 3, BALLOT_MSG_APPEND);
	rh_deliver(c, 2, 1, BALLOT_MSG_APPEND_RESP);
	rh_deliver(c, 3, 1, BALLOT_MSG_APPEND_RESP);
	rh_deliver(c, 1, 2, BALLOT_MSG_APPEND);
	rh_deliver(c, 1, 3, BALLOT_MSG_APPEND);
	assert_log_terms(c, 2, "1 1 1");
	assert_log_terms(c, 3, "1 1");
	rh_deliver(c, 2, 1, BALLOT_MSG_APPEND_RESP);
	rh_deliver(c, 3, 1, BALLOT_MSG_APPEND_RESP);
}

/* Raft §5.4.2: "Raft never commits log entries from previous terms by counting replicas."
 * Figure 8 (c)-(d): the term-1 entry at index 2 is on a majority, yet not committed, and a
 * later leader (5) rightly replaces it. */
static void leader_never_commits_entry_from_earlier_term_by_counting(void **state)
{
	(void)state;
	static rh_cluster c;
	figure8_setup(&c);
	/* The leader knows 1, 2 and 3 hold index 2 (term 1), and commits nothing past 1. */
	assert_int_equal(peer_match(&c, 1, 2), 3);
	assert_int_equal(peer_match(&c, 1, 3), 2);
	assert_int_equal(rh_commit(&c, 1), 1);
	assert_string_equal(rh_sm(&c, 1), "");

	/* (d) 1 crashes; 5 comes back and wins with votes from 2, 3 and 4 (its last term 2 is
	 * later than their 1), and overwrites index 2 everywhere. */
	rh_drop(&c, 0, 0, 0);
	rh_crash(&c, 1);
	rh_restart(&c, 5);
	while (rh_role(&c, 5) != BALLOT_ROLE_LEADER) {
		rh_campaign(&c, 5);
		rh_deliver(&c, 5, 0, BALLOT_MSG_VOTE);
		rh_deliver(&c, 0, 5, BALLOT_MSG_VOTE_RESP);
		if (rh_term(&c, 5) > 5)
			RH_FAIL("node 5 did not win");
	}
	rh_deliver_all(&c);
	rh_tick(&c, 5);
	rh_deliver_all(&c);
	for (uint64_t id = 2; id <= 5; id++) {
		assert_int_equal(rh_commit(&c, id), 4);
		assert_string_equal(rh_sm(&c, id), "zzzz");
		assert_log_terms(&c, id, "1 2 2 4");
	}
	rh_free(&c);
}

/* Raft §5.4.2, Figure 8 (e): once the leader's entry of its own term is on a majority,
 * it commits, and the earlier entries with it; 5 can no longer be elected. */
static void earlier_term_entry_commits_with_an_entry_of_the_current_term(void **state)
{
	(void)state;
	static rh_cluster c;
	figure8_setup(&c);
	rh_deliver_all(&c); /* the rest, the no-op included, reaches 2 and 3 */
	assert_int_equal(rh_commit(&c, 1), 4);
	assert_string_equal(rh_sm(&c, 1), "xxxx,yyyy");

	rh_crash(&c, 1);
	rh_restart(&c, 5);
	for (int i = 0; i < 4; i++) {
		rh_campaign(&c, 5);
		rh_deliver_all(&c);
		assert_int_not_equal(rh_role(&c, 5), BALLOT_ROLE_LEADER);
	}
	rh_free(&c);
}

/* ---- the follower's consistency check ------------------------------------------------------ */

/* Raft §5.3: a follower refuses an append whose previous entry it does not hold, and (the
 * optimisation of §5.3) says the term of its conflicting entry and the first index of that
 * term, or its log's end when it is too short. */
static void follower_rejects_append_with_mismatched_prev_and_hints_conflict(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init_empty(&c, NULL, 1);
	ballot_config cfg = rh_config_voters(3);
	const uint64_t terms[] = {1, 1, 2, 2, 2};
	rh_add_node_with_log(&c, 1, &cfg, (ballot_hard_state){.term = 2}, terms, 5);
	rh_add_node(&c, 2, &cfg);
	rh_add_node(&c, 3, &cfg);

	ballot_msg app = {.type = BALLOT_MSG_APPEND, .from = 3, .to = 1, .term = 3, .prev_index = 5,
			  .prev_term = 3};
	ballot_raft_step(rh_raft(&c, 1), &app);
	rh_process(&c, 1);
	const ballot_msg *r = rh_wire_find(&c, 1, 3, BALLOT_MSG_APPEND_RESP, 0);
	assert_non_null(r);
	assert_false(r->success);
	assert_int_equal(r->term, 3);
	assert_int_equal(r->conflict_term, 2);
	assert_int_equal(r->conflict_index, 3);
	assert_log_terms(&c, 1, "1 1 2 2 2"); /* a refusal truncates nothing */

	app.prev_index = 8;
	ballot_raft_step(rh_raft(&c, 1), &app);
	rh_process(&c, 1);
	r = rh_wire_find(&c, 1, 3, BALLOT_MSG_APPEND_RESP, 1);
	assert_non_null(r);
	assert_false(r->success);
	assert_int_equal(r->conflict_term, 0);
	assert_int_equal(r->conflict_index, 6);
	rh_free(&c);
}

/* Three nodes whose logs disagree after index 2: 1 and 3 hold term 3 entries, 2 holds
 * longer, uncommitted term 2 entries (from a leader that lost its term). */
static void conflicting_logs(rh_cluster *c)
{
	rh_init_empty(c, NULL, 1);
	ballot_config cfg = rh_config_voters(3);
	const uint64_t t1[] = {1, 1, 3, 3};
	const uint64_t t2[] = {1, 1, 2, 2, 2, 2};
	rh_add_node_with_log(c, 1, &cfg, (ballot_hard_state){.term = 3}, t1, 4);
	rh_add_node_with_log(c, 2, &cfg, (ballot_hard_state){.term = 2}, t2, 6);
	rh_add_node_with_log(c, 3, &cfg, (ballot_hard_state){.term = 3}, t1, 4);
}

/* Thesis §5.3 (fast backtracking): one refusal naming term 2 sends the leader, which holds
 * no term 2 entry, back past the whole term at once. */
static void leader_backtracks_over_a_whole_conflicting_term(void **state)
{
	(void)state;
	static rh_cluster c;
	conflicting_logs(&c);
	rh_elect(&c, 1);
	assert_int_equal(rh_term(&c, 1), 4);
	assert_int_equal(append_rejections(&c, 2, 1), 1);
	assert_log_terms(&c, 2, "1 1 3 3 4");
	rh_free(&c);
}

/* Raft §5.3: "If an existing entry conflicts with a new one (same index but different
 * terms), delete the existing entry and all that follow it". */
static void conflicting_uncommitted_entries_are_overwritten(void **state)
{
	(void)state;
	static rh_cluster c;
	conflicting_logs(&c);
	rh_elect(&c, 1);
	rh_run(&c, 2);
	assert_log_terms(&c, 2, "1 1 3 3 4");
	assert_string_equal(payload(&c, 2, 3), "e3.t3");
	assert_int_equal(c.nodes[2].log_count, 5); /* the disk was truncated too */
	assert_int_equal(c.nodes[2].log[2].term, 3);
	for (uint64_t id = 1; id <= 3; id++) {
		assert_int_equal(rh_commit(&c, id), 5);
		assert_string_equal(rh_sm(&c, id), "e1.t1,e2.t1,e3.t3,e4.t3");
	}
	rh_free(&c);
}

/* Raft §5.3: only a conflict truncates. An old append arriving after a newer one (the
 * network reordered them) must not cut off the entries the newer one brought. */
static void reordered_old_append_does_not_truncate_newer_entries(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	assert_int_equal(rh_propose(&c, 1, "a", NULL), 0);
	ballot_msg *old = ballot_msg_clone(rh_wire_find(&c, 1, 2, BALLOT_MSG_APPEND, 0));
	assert_non_null(old);
	assert_int_equal(old->entry_count, 1);
	assert_int_equal(rh_propose(&c, 1, "b", NULL), 0);
	rh_deliver_all(&c);
	assert_int_equal(rh_last(&c, 2), 3);

	ballot_raft_step(rh_raft(&c, 2), old);
	ballot_msg_free(old);
	rh_process(&c, 2);
	assert_int_equal(rh_last(&c, 2), 3);
	assert_log_terms(&c, 2, "1 1 1");
	const ballot_msg *ack = rh_wire_find(&c, 2, 1, BALLOT_MSG_APPEND_RESP, 0);
	assert_non_null(ack);
	assert_true(ack->success);
	assert_int_equal(ack->match_index, 2); /* what this append proves, not more */
	rh_deliver_all(&c);
	rh_free(&c);
}

/* ---- flow control ---------------------------------------------------------------------------- */

/* etcd's inflights: a leader sends at most inflight_max appends that a follower has not
 * acknowledged; the rest waits. */
static void pipelining_respects_inflight_window(void **state)
{
	(void)state;
	ballot_raft_options o = opts_default();
	o.inflight_max = 2;
	static rh_cluster c;
	rh_init_opts(&c, 3, &o, 1);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	rh_isolate(&c, 3);
	rh_heal(&c);
	rh_cut(&c, 1, 3);
	rh_sent_clear(&c);
	for (int i = 0; i < 10; i++) {
		char p[8];
		snprintf(p, sizeof p, "p%d", i);
		assert_int_equal(rh_propose(&c, 1, p, NULL), 0);
		rh_deliver_all(&c);
	}
	assert_int_equal(rh_commit(&c, 1), 11); /* 2 answers: commit goes on */
	assert_int_equal(appends_with_entries(&c, 1, 3), 2);
	assert_true(appends_with_entries(&c, 1, 2) >= 10);
	for (int i = 0; i < E - 2; i++) { /* heartbeats do not open the window */
		rh_tick(&c, 1);
		rh_deliver_all(&c);
	}
	assert_int_equal(appends_with_entries(&c, 1, 3), 2);

	/* Once 3 answers again, it catches up. */
	rh_heal(&c);
	rh_run(&c, 3);
	assert_int_equal(rh_last(&c, 3), 11);
	assert_string_equal(rh_sm(&c, 3), "p0,p1,p2,p3,p4,p5,p6,p7,p8,p9");
	rh_free(&c);
}

/* An append carries entries up to batch_bytes of payload (at least one entry). */
static void batching_limits_entries_per_append_by_bytes(void **state)
{
	(void)state;
	ballot_raft_options o = opts_default();
	o.batch_bytes = 10;
	static rh_cluster c;
	rh_init_opts(&c, 3, &o, 1);
	rh_elect(&c, 1);
	rh_isolate(&c, 3);
	for (int i = 0; i < 6; i++)
		assert_int_equal(rh_propose(&c, 1, "abcd", NULL), 0);
	rh_deliver_all(&c);
	assert_int_equal(rh_commit(&c, 1), 7);
	rh_heal(&c);
	rh_sent_clear(&c);
	rh_run(&c, 3);
	assert_int_equal(rh_last(&c, 3), 7);
	size_t batches = 0;
	for (size_t i = 0; i < c.sent_count; i++) {
		const rh_sent *s = &c.sent[i];
		if (s->type != BALLOT_MSG_APPEND || s->to != 3 || s->entry_count == 0)
			continue;
		batches++;
		assert_true(s->entry_bytes <= 10);
		assert_true(s->entry_count <= 2);
	}
	assert_true(batches >= 3); /* 6 entries of 4 bytes, two per append */
	rh_free(&c);
}

/* Raft §5.3: "If followers crash or run slowly, or if network packets are lost, the leader
 * retries AppendEntries RPCs indefinitely". */
static void lost_append_is_recovered_after_heartbeat(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	assert_int_equal(rh_drop(&c, 1, 3, BALLOT_MSG_APPEND), 1);
	rh_deliver_all(&c);
	assert_int_equal(rh_commit(&c, 1), 2);
	assert_int_equal(rh_last(&c, 3), 1);

	/* Nothing else is proposed: the next heartbeat finds 3 behind and repairs it. */
	rh_tick(&c, 1);
	rh_deliver_all(&c);
	assert_int_equal(rh_last(&c, 3), 2);
	rh_tick(&c, 1);
	rh_deliver_all(&c);
	assert_int_equal(rh_commit(&c, 3), 2);
	assert_string_equal(rh_sm(&c, 3), "x");

	/* An append that arrives after a lost one is refused (a gap) and the refusal makes the
	 * leader back up at once, without waiting for a heartbeat. */
	assert_int_equal(rh_propose(&c, 1, "y", NULL), 0);
	assert_int_equal(rh_drop(&c, 1, 3, BALLOT_MSG_APPEND), 1);
	assert_int_equal(rh_propose(&c, 1, "z", NULL), 0);
	rh_sent_clear(&c);
	rh_deliver_all(&c);
	assert_int_equal(rh_sent_count(&c, 3, 1, BALLOT_MSG_APPEND_RESP), 2);
	assert_int_equal(rh_last(&c, 3), 4);
	rh_free(&c);
}

/* Raft §5.3: "the leader ... includes [the commit index] in future AppendEntries RPCs
 * (including heartbeats) so that the other servers eventually find out". */
static void commit_index_reaches_followers_by_heartbeat(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	rh_deliver_all(&c);
	assert_int_equal(rh_commit(&c, 1), 2);
	assert_int_equal(rh_commit(&c, 2), 1);
	rh_tick(&c, 1);
	rh_deliver_all(&c);
	for (uint64_t id = 2; id <= 3; id++) {
		assert_int_equal(rh_commit(&c, id), 2);
		assert_int_equal(c.nodes[id].hs.commit, 2);
		assert_string_equal(rh_sm(&c, id), "x");
	}
	rh_free(&c);
}

/* A follower cannot take a proposal; the caller learns who leads from the status. */
static void proposal_on_follower_returns_not_leader_with_hint(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	/* Before any election nobody is known. */
	assert_int_equal(rh_propose(&c, 2, "x", NULL), BALLOT_ENOTLEADER);
	assert_int_equal(rh_status(&c, 2).leader, 0);
	rh_elect(&c, 1);
	rh_run(&c, 1);
	uint64_t index = 99;
	assert_int_equal(rh_propose(&c, 2, "x", &index), BALLOT_ENOTLEADER);
	assert_int_equal(index, 99);
	assert_int_equal(rh_status(&c, 2).leader, 1);
	assert_int_equal(rh_last(&c, 2), 1);
	assert_int_equal(c.wire_count, 0);
	rh_free(&c);
}

/* Backpressure: a leader refuses proposals once uncommitted_bytes_max would be passed, and
 * takes them again when commits drain the backlog. */
static void proposal_refused_past_uncommitted_bytes_max(void **state)
{
	(void)state;
	ballot_raft_options o = opts_default();
	o.uncommitted_bytes_max = 10;
	static rh_cluster c;
	rh_init_opts(&c, 3, &o, 1);
	rh_elect(&c, 1);
	rh_isolate(&c, 1);
	assert_int_equal(rh_propose(&c, 1, "abcd", NULL), 0);
	assert_int_equal(rh_propose(&c, 1, "efgh", NULL), 0);
	assert_int_equal(rh_propose(&c, 1, "ijkl", NULL), BALLOT_ELIMIT);
	assert_int_equal(rh_last(&c, 1), 3);
	rh_heal(&c);
	rh_drop(&c, 0, 0, 0);
	rh_run(&c, 2);
	assert_int_equal(rh_commit(&c, 1), 3);
	assert_int_equal(rh_propose(&c, 1, "ijkl", NULL), 0);
	rh_free(&c);
}

/* Configuration entries go through add/promote/remove, no-ops are the core's own, and no
 * entry may exceed BALLOT_RAFT_ENTRY_BYTES_MAX. */
static void proposal_of_other_entry_types_or_oversized_payload_refused(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 1);
	rh_campaign(&c, 1);
	ballot_raft *r = rh_raft(&c, 1);
	ballot_rbuf *small = ballot_rbuf_new("x", 1);
	assert_int_equal(ballot_raft_propose(r, BALLOT_ENTRY_CONFIG, small, NULL, NULL), BALLOT_EINVAL);
	assert_int_equal(ballot_raft_propose(r, BALLOT_ENTRY_NOOP, small, NULL, NULL), BALLOT_EINVAL);
	assert_int_equal(ballot_raft_propose(r, 0, small, NULL, NULL), BALLOT_EINVAL);
	ballot_rbuf_unref(small);
	ballot_rbuf *big = ballot_rbuf_new(NULL, (size_t)BALLOT_RAFT_ENTRY_BYTES_MAX + 1);
	assert_non_null(big);
	assert_int_equal(ballot_raft_propose(r, BALLOT_ENTRY_NORMAL, big, NULL, NULL), BALLOT_ELIMIT);
	ballot_rbuf_unref(big);
	assert_int_equal(rh_last(&c, 1), 1);
	/* An empty payload is a proposal like any other. */
	uint64_t index = 0;
	assert_int_equal(ballot_raft_propose(r, BALLOT_ENTRY_NORMAL, NULL, &index, NULL), 0);
	assert_int_equal(index, 2);
	rh_process(&c, 1);
	assert_int_equal(rh_commit(&c, 1), 2);
	rh_free(&c);
}

/* ---- the ready contract ------------------------------------------------------------------------ */

static ballot_raft *lone_node(uint64_t id, unsigned voters, bool pre_vote)
{
	ballot_raft_options o;
	ballot_raft_options_default(&o, id);
	o.pre_vote = pre_vote;
	ballot_raft_storage st;
	memset(&st, 0, sizeof st);
	st.snap_config = rh_config_voters(voters);
	ballot_raft *r = NULL;
	assert_int_equal(ballot_raft_new(&r, &o, &st, 1, NULL), 0);
	return r;
}

static size_t count_type(ballot_msg **ms, size_t n, uint8_t type)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ms[i] != NULL && ms[i]->type == type;
	return k;
}

/* ballot/raft.h, "persist before you speak" (Raft §5, thesis §10.2.1): a vote, a vote
 * request after voting for oneself and an acknowledgement of entries leave only in
 * messages_after_persist, in the ready that also carries what they promise. */
static void persist_before_speak_votes_and_acks_wait_for_the_disk(void **state)
{
	(void)state;
	/* A follower grants a vote. */
	ballot_raft *r = lone_node(2, 3, true);
	ballot_msg vote = {.type = BALLOT_MSG_VOTE, .from = 1, .to = 2, .term = 1};
	ballot_raft_step(r, &vote);
	ballot_raft_ready rd;
	ballot_raft_ready_take(r, &rd);
	assert_int_equal(count_type(rd.messages, rd.message_count, BALLOT_MSG_VOTE_RESP), 0);
	assert_int_equal(count_type(rd.messages_after_persist, rd.message_after_persist_count,
				    BALLOT_MSG_VOTE_RESP), 1);
	assert_true(rd.hard_state_changed);
	assert_int_equal(rd.hard_state.term, 1);
	assert_int_equal(rd.hard_state.vote, 1);
	ballot_raft_advance(r, &rd);

	/* It acknowledges entries. */
	ballot_entry e = {.term = 1, .index = 1, .type = BALLOT_ENTRY_NOOP};
	ballot_msg app = {.type = BALLOT_MSG_APPEND, .from = 1, .to = 2, .term = 1, .entry_count = 1,
			  .entries = &e};
	ballot_raft_step(r, &app);
	ballot_raft_ready_take(r, &rd);
	assert_int_equal(rd.entry_count, 1);
	assert_int_equal(count_type(rd.messages, rd.message_count, BALLOT_MSG_APPEND_RESP), 0);
	assert_int_equal(count_type(rd.messages_after_persist, rd.message_after_persist_count,
				    BALLOT_MSG_APPEND_RESP), 1);
	ballot_raft_advance(r, &rd);
	ballot_raft_free(r);

	/* A candidate (no pre-vote) asks for votes only once its own vote is durable. */
	r = lone_node(1, 3, false);
	for (int i = 0; i < 2 * 10 && !ballot_raft_has_ready(r); i++)
		ballot_raft_tick(r);
	ballot_raft_ready_take(r, &rd);
	assert_true(rd.hard_state_changed);
	assert_int_equal(rd.hard_state.vote, 1);
	assert_int_equal(count_type(rd.messages, rd.message_count, BALLOT_MSG_VOTE), 0);
	assert_int_equal(count_type(rd.messages_after_persist, rd.message_after_persist_count, BALLOT_MSG_VOTE), 2);
	ballot_raft_advance(r, &rd);
	ballot_raft_free(r);
}

/* ballot/raft.h: "a leader counts its own entries only once persisted". A single node's
 * entry commits at the advance that follows persisting it, not before. */
static void leader_counts_itself_only_after_advance(void **state)
{
	(void)state;
	ballot_raft *r = lone_node(1, 1, true);
	for (int i = 0; i < 2 * 10 && !ballot_raft_has_ready(r); i++)
		ballot_raft_tick(r);
	ballot_raft_status s;
	ballot_raft_status_get(r, &s);
	assert_int_equal(s.role, BALLOT_ROLE_LEADER);
	assert_int_equal(s.commit, 0);
	ballot_raft_ready rd;
	ballot_raft_ready_take(r, &rd);
	assert_int_equal(rd.entry_count, 1); /* the no-op, to persist */
	assert_int_equal(rd.committed_count, 0);
	ballot_raft_status_get(r, &s);
	assert_int_equal(s.commit, 0);
	ballot_raft_advance(r, &rd);
	ballot_raft_status_get(r, &s);
	assert_int_equal(s.commit, 1);
	ballot_raft_ready_take(r, &rd);
	assert_int_equal(rd.committed_count, 1);
	ballot_raft_advance(r, &rd);

	ballot_rbuf *x = ballot_rbuf_new("x", 1);
	uint64_t index = 0;
	assert_int_equal(ballot_raft_propose(r, BALLOT_ENTRY_NORMAL, x, &index, NULL), 0);
	ballot_rbuf_unref(x);
	assert_int_equal(index, 2);
	ballot_raft_status_get(r, &s);
	assert_int_equal(s.commit, 1);
	ballot_raft_ready_take(r, &rd);
	assert_int_equal(rd.entry_count, 1);
	assert_int_equal(rd.committed_count, 0);
	assert_int_equal(rd.hard_state.commit, 1);
	ballot_raft_status_get(r, &s);
	assert_int_equal(s.commit, 1);
	ballot_raft_advance(r, &rd);
	ballot_raft_status_get(r, &s);
	assert_int_equal(s.commit, 2);
	ballot_raft_ready_take(r, &rd);
	assert_int_equal(rd.committed_count, 1);
	assert_int_equal(rd.committed[0].index, 2);
	assert_int_equal(rd.hard_state.commit, 2);
	ballot_raft_advance(r, &rd);
	assert_false(ballot_raft_has_ready(r));
	ballot_raft_free(r);
}

/* Node 1 of 3, elected with node 2's vote, with the ready holding its no-op (entry 1, term 1)
 * taken and not advanced: "syncing". */
static ballot_raft *leader_syncing_its_noop(ballot_raft_ready *rd)
{
	ballot_raft *r = lone_node(1, 3, false);
	for (int i = 0; i < 2 * 10 && !ballot_raft_has_ready(r); i++)
		ballot_raft_tick(r);
	ballot_raft_ready_take(r, rd);
	ballot_raft_advance(r, rd);
	ballot_msg grant = {.type = BALLOT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 1, .success = true};
	ballot_raft_step(r, &grant);
	assert_int_equal(ballot_raft_role(r, NULL), BALLOT_ROLE_LEADER);
	ballot_raft_ready_take(r, rd);
	return r;
}

/* ballot_raft_take_messages: while a ready is outstanding (its entries syncing), a leader's
 * new proposals leave at once, one append per follower for all of them; its own entries
 * still count only after the advance; acknowledgements never leave early. */
static void leader_sends_new_appends_while_a_ready_syncs(void **state)
{
	(void)state;
	ballot_raft_ready rd;
	ballot_raft *r = leader_syncing_its_noop(&rd);
	assert_int_equal(rd.entry_count, 1);
	for (uint64_t id = 2; id <= 3; id++) { /* both followers take the probe: replicating */
		ballot_msg ok = {.type = BALLOT_MSG_APPEND_RESP, .from = id, .to = 1, .term = 1, .success = true,
				 .match_index = 1};
		ballot_raft_step(r, &ok);
	}
	ballot_msg **msgs = NULL;
	for (size_t i = 0, n = ballot_raft_take_messages(r, &msgs); i < n; i++)
		ballot_msg_free(msgs[i]);
	free(msgs);

	ballot_rbuf *x = ballot_rbuf_new("x", 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ballot_raft_propose(r, BALLOT_ENTRY_NORMAL, x, NULL, NULL), 0);
	ballot_rbuf_unref(x);
	size_t count = ballot_raft_take_messages(r, &msgs);
	assert_int_equal(count, 2); /* one append per follower, not one per proposal */
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(msgs[i]->type, BALLOT_MSG_APPEND);
		assert_int_equal(msgs[i]->entry_count, 3);
		assert_int_equal(msgs[i]->entries[0].index, 2);
		ballot_msg_free(msgs[i]);
	}
	free(msgs);
	assert_int_equal(ballot_raft_take_messages(r, &msgs), 0);
	assert_null(msgs);

	/* One follower acknowledges everything: with the leader's own writes not yet durable,
	 * that is one of three, not a majority. */
	ballot_msg ack = {.type = BALLOT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .success = true,
			  .match_index = 4};
	ballot_raft_step(r, &ack);
	ballot_raft_status s;
	ballot_raft_status_get(r, &s);
	assert_int_equal(s.commit, 1);
	ballot_raft_advance(r, &rd); /* the no-op is durable; entries 2-4 are not */
	ballot_raft_status_get(r, &s);
	assert_int_equal(s.commit, 1);
	ballot_raft_ready_take(r, &rd); /* entries 2-4, to persist */
	assert_int_equal(rd.entry_count, 3);
	ballot_raft_advance(r, &rd);
	ballot_raft_status_get(r, &s);
	assert_int_equal(s.commit, 4);

	/* A follower's acknowledgement waits for its own persist, whatever the driver asks. */
	ballot_raft *f = lone_node(2, 3, false);
	ballot_entry e = {.term = 1, .index = 1, .type = BALLOT_ENTRY_NOOP};
	ballot_msg app = {.type = BALLOT_MSG_APPEND, .from = 1, .to = 2, .term = 1, .entry_count = 1, .entries = &e};
	ballot_raft_step(f, &app);
	assert_int_equal(ballot_raft_take_messages(f, &msgs), 0);
	ballot_raft_ready_take(f, &rd);
	assert_int_equal(count_type(rd.messages_after_persist, rd.message_after_persist_count, BALLOT_MSG_APPEND_RESP), 1);
	ballot_raft_advance(f, &rd);
	ballot_raft_free(f);
	ballot_raft_free(r);
}

/* ballot_raft_take_committed: while a ready is outstanding, what a majority acknowledged
 * is handed out at once, in order, once each, and the next ready does not repeat it. */
static void leader_hands_out_committed_entries_while_a_ready_syncs(void **state)
{
	(void)state;
	ballot_raft_ready rd;
	ballot_raft *r = leader_syncing_its_noop(&rd);
	assert_int_equal(rd.committed_count, 0);
	ballot_entry *got = NULL;
	assert_int_equal(ballot_raft_take_committed(r, &got), 0); /* nothing committed yet */
	assert_null(got);

	/* Both followers hold the no-op: committed without the leader's own write. */
	for (uint64_t id = 2; id <= 3; id++) {
		ballot_msg ok = {.type = BALLOT_MSG_APPEND_RESP, .from = id, .to = 1, .term = 1, .success = true,
				 .match_index = 1};
		ballot_raft_step(r, &ok);
	}
	size_t count = ballot_raft_take_committed(r, &got);
	assert_int_equal(count, 1);
	assert_int_equal(got[0].index, 1);
	ballot_raft_entries_free(got, count);

	ballot_rbuf *x = ballot_rbuf_new("x", 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ballot_raft_propose(r, BALLOT_ENTRY_NORMAL, x, NULL, NULL), 0);
	ballot_rbuf_unref(x);
	ballot_msg **msgs = NULL;
	for (size_t i = 0, n = ballot_raft_take_messages(r, &msgs); i < n; i++)
		ballot_msg_free(msgs[i]);
	free(msgs);
	/* One follower holds 2-4: with the leader's write of them not even begun, not enough. */
	ballot_msg ack = {.type = BALLOT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .success = true,
			  .match_index = 4};
	ballot_raft_step(r, &ack);
	assert_int_equal(ballot_raft_take_committed(r, &got), 0);
	ack.from = 3;
	ack.match_index = 3;
	ballot_raft_step(r, &ack);
	count = ballot_raft_take_committed(r, &got);
	assert_int_equal(count, 2);
	assert_int_equal(got[0].index, 2);
	assert_int_equal(got[1].index, 3);
	assert_memory_equal(got[1].data->data, "x", 1);
	ballot_raft_entries_free(got, count);
	assert_int_equal(ballot_raft_take_committed(r, &got), 0);

	ballot_raft_advance(r, &rd); /* the no-op is durable here too */
	ballot_raft_ready_take(r, &rd); /* entries 2-4 to persist; 1-3 are handed out already */
	assert_int_equal(rd.entry_count, 3);
	assert_int_equal(rd.committed_count, 0);
	ballot_raft_advance(r, &rd); /* the leader holds 4: with follower 2, committed */
	ballot_raft_ready_take(r, &rd);
	assert_int_equal(rd.committed_count, 1);
	assert_int_equal(rd.committed[0].index, 4);
	ballot_raft_advance(r, &rd);
	ballot_raft_free(r);
}

/* ballot_raft_take_reads: a read confirmed by the followers while the leader's ready syncs
 * (here the leader has not even advanced its no-op) is handed out at once, not in the next
 * ready; the next ready then holds no reads. */
static void leader_hands_out_confirmed_reads_while_a_ready_syncs(void **state)
{
	(void)state;
	ballot_raft_ready rd;
	ballot_raft *r = leader_syncing_its_noop(&rd);
	for (uint64_t id = 2; id <= 3; id++) { /* the no-op committed by the followers alone */
		ballot_msg ok = {.type = BALLOT_MSG_APPEND_RESP, .from = id, .to = 1, .term = 1, .success = true,
				 .match_index = 1};
		ballot_raft_step(r, &ok);
	}
	ballot_entry *got = NULL;
	size_t count = ballot_raft_take_committed(r, &got);
	assert_int_equal(count, 1);
	ballot_raft_entries_free(got, count);

	assert_int_equal(ballot_raft_read(r, 7), 0);
	ballot_read_state *reads = NULL;
	assert_int_equal(ballot_raft_take_reads(r, &reads), 0); /* not confirmed yet */
	assert_null(reads);
	ballot_msg **msgs = NULL;
	uint64_t round = 0;
	for (size_t i = 0, n = ballot_raft_take_messages(r, &msgs); i < n; i++) {
		if (msgs[i]->type == BALLOT_MSG_APPEND && msgs[i]->entry_count == 0) /* a heartbeat */
			round = msgs[i]->read_round;
		ballot_msg_free(msgs[i]);
	}
	free(msgs);
	assert_true(round > 0);
	ballot_msg hb = {.type = BALLOT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .success = true,
			 .match_index = 1, .read_round = round};
	ballot_raft_step(r, &hb);
	count = ballot_raft_take_reads(r, &reads);
	assert_int_equal(count, 1);
	assert_int_equal(reads[0].request, 7);
	assert_true(reads[0].ok);
	assert_int_equal(reads[0].index, 1);
	free(reads);

	ballot_raft_advance(r, &rd);
	ballot_raft_ready_take(r, &rd);
	assert_int_equal(rd.read_count, 0);
	ballot_raft_advance(r, &rd);
	ballot_raft_free(r);
}

/* A follower installing the leader's snapshot hands out nothing committed after it until
 * the ready that installs it is advanced: the state machine must be restored first. */
static void nothing_is_handed_out_before_an_outstanding_snapshot_is_installed(void **state)
{
	(void)state;
	ballot_raft *f = lone_node(2, 3, false);
	ballot_config *cfg = malloc(sizeof *cfg);
	assert_non_null(cfg);
	*cfg = rh_config_voters(3);
	ballot_msg snap = {.type = BALLOT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1, .snap_index = 5,
			   .snap_term = 1, .snap_config = cfg, .offset = 0, .done = true,
			   .chunk = ballot_rbuf_new("state", 5)};
	ballot_raft_step(f, &snap);
	free(cfg);
	ballot_rbuf_unref(snap.chunk);
	ballot_raft_ready rd;
	ballot_raft_ready_take(f, &rd);
	assert_true(rd.has_snapshot);
	assert_int_equal(rd.snap_index, 5);
	/* While it syncs, the leader sends entry 6 and says it is committed. */
	ballot_entry e = {.term = 1, .index = 6, .type = BALLOT_ENTRY_NORMAL, .data = ballot_rbuf_new("y", 1)};
	ballot_msg app = {.type = BALLOT_MSG_APPEND, .from = 1, .to = 2, .term = 1, .prev_index = 5, .prev_term = 1,
			  .commit = 6, .entry_count = 1, .entries = &e};
	ballot_raft_step(f, &app);
	ballot_rbuf_unref(e.data);
	ballot_raft_status s;
	ballot_raft_status_get(f, &s);
	assert_int_equal(s.commit, 6);
	ballot_entry *got = NULL;
	assert_int_equal(ballot_raft_take_committed(f, &got), 0);
	assert_null(got);
	ballot_raft_advance(f, &rd);
	size_t count = ballot_raft_take_committed(f, &got);
	assert_int_equal(count, 1);
	assert_int_equal(got[0].index, 6);
	ballot_raft_entries_free(got, count);
	ballot_raft_free(f);
}

/* A follower whose disk was wiped (an operator's shortcut: replacing it is the safe way)
 * comes back with an empty log. The leader believed it held everything; its heartbeat
 * answer says otherwise, and the leader sends it the log again instead of taking the
 * refusal for a stale one forever. */
static void wiped_follower_is_sent_the_log_again(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	rh_elect(&c, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	rh_run(&c, 5);
	uint64_t last = rh_last(&c, 1);
	assert_int_equal(rh_last(&c, 3), last);
	assert_int_equal(peer_match(&c, 1, 3), last);

	rh_crash(&c, 3);
	rh_node *n = rh_node_of(&c, 3);
	for (size_t i = 0; i < n->log_count; i++)
		ballot_rbuf_unref(n->log[i].data);
	n->log_count = 0;
	n->hs = (ballot_hard_state){0};
	rh_restart(&c, 3);
	rh_run(&c, 5 * E);
	assert_int_equal(rh_last(&c, 3), last);
	assert_int_equal(peer_match(&c, 1, 3), last);
	assert_int_equal(rh_role(&c, 1), BALLOT_ROLE_LEADER);
	rh_free(&c);

	/* The same after the leader compacted past it: the log comes back as a snapshot. */
	static rh_cluster d;
	ballot_raft_options base = opts_default();
	base.compact_keep_entries = 0;
	rh_init_opts(&d, 3, &base, 1);
	rh_elect(&d, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(rh_propose(&d, 1, "x", NULL), 0);
	rh_run(&d, 5);
	last = rh_last(&d, 1);
	ballot_rbuf *snap = ballot_rbuf_new("snapshot", 8);
	assert_int_equal(ballot_raft_compact(rh_raft(&d, 1), last, snap), 0);
	ballot_rbuf_unref(snap);
	rh_crash(&d, 3);
	n = rh_node_of(&d, 3);
	for (size_t i = 0; i < n->log_count; i++)
		ballot_rbuf_unref(n->log[i].data);
	n->log_count = 0;
	n->hs = (ballot_hard_state){0};
	rh_restart(&d, 3);
	rh_run(&d, 10 * E);
	assert_int_equal(rh_node_of(&d, 3)->snap_index, last); /* it came as a snapshot */
	assert_int_equal(rh_last(&d, 3), last);
	assert_int_equal(peer_match(&d, 1, 3), last);
	rh_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(leader_replicates_and_commits_with_majority),
		cmocka_unit_test(cannot_commit_without_majority),
		cmocka_unit_test(leader_never_commits_entry_from_earlier_term_by_counting),
		cmocka_unit_test(earlier_term_entry_commits_with_an_entry_of_the_current_term),
		cmocka_unit_test(follower_rejects_append_with_mismatched_prev_and_hints_conflict),
		cmocka_unit_test(leader_backtracks_over_a_whole_conflicting_term),
		cmocka_unit_test(conflicting_uncommitted_entries_are_overwritten),
		cmocka_unit_test(reordered_old_append_does_not_truncate_newer_entries),
		cmocka_unit_test(pipelining_respects_inflight_window),
		cmocka_unit_test(batching_limits_entries_per_append_by_bytes),
		cmocka_unit_test(lost_append_is_recovered_after_heartbeat),
		cmocka_unit_test(commit_index_reaches_followers_by_heartbeat),
		cmocka_unit_test(proposal_on_follower_returns_not_leader_with_hint),
		cmocka_unit_test(proposal_refused_past_uncommitted_bytes_max),
		cmocka_unit_test(proposal_of_other_entry_types_or_oversized_payload_refused),
		cmocka_unit_test(persist_before_speak_votes_and_acks_wait_for_the_disk),
		cmocka_unit_test(leader_counts_itself_only_after_advance),
		cmocka_unit_test(leader_sends_new_appends_while_a_ready_syncs),
		cmocka_unit_test(leader_hands_out_committed_entries_while_a_ready_syncs),
		cmocka_unit_test(leader_hands_out_confirmed_reads_while_a_ready_syncs),
		cmocka_unit_test(nothing_is_handed_out_before_an_outstanding_snapshot_is_installed),
		cmocka_unit_test(wiped_follower_is_sent_the_log_again),
	};
	return cmocka_run_group_tests(tests, NULL, rh_free_leftovers);
}
