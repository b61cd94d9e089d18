/* Unit tests of the Raft core (ballot/raft.h): hostile or impossible input, and crashes.
 *
 * ballot/raft.h: "A message from an unknown or removed node, or one that is malformed, is
 * dropped and counted; it never breaks the core." Where a bad message could abort the
 * process (a failed assertion) or corrupt memory, the test runs it in a child process, so
 * the report says what went wrong and the other tests still run. */
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raft_harness.h"

#define E 10

/* A follower (2) of leader 1 in term 1, both holding entry 1 (the no-op), committed. */
static void follower_of_one(rh_cluster *c)
{
	rh_init(c, 3);
	rh_elect(c, 1);
	rh_run(c, 1);
	assert_int_equal(rh_commit(c, 2), 1);
}

/* Steps m into node id; it must be dropped: counted, no answer, no change of state. */
static void assert_dropped(rh_cluster *c, uint64_t id, const ballot_msg *m, const char *what)
{
	ballot_raft_status before = rh_status(c, id);
	size_t wire = c->wire_count;
	ballot_raft_step(rh_raft(c, id), m);
	rh_process(c, id);
	ballot_raft_status after = rh_status(c, id);
	if (after.dropped_messages != before.dropped_messages + 1)
		RH_FAIL("%s: dropped count %llu, expected %llu", what, (unsigned long long)after.dropped_messages,
			(unsigned long long)before.dropped_messages + 1);
	if (c->wire_count != wire)
		RH_FAIL("%s: was answered", what);
	if (after.term != before.term || after.vote != before.vote || after.last_index != before.last_index ||
	    after.commit != before.commit || after.role != before.role || after.leader != before.leader)
		RH_FAIL("%s: changed the node's state", what);
}

/* An append from leader 1 to 2 in term 1 after entry 1, carrying n entries e (index 2..). */
static ballot_msg append_to_2(ballot_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].index == 0)
			e[i].index = 2 + i;
		if (e[i].term == 0)
			e[i].term = 1;
		if (e[i].type == 0)
			e[i].type = BALLOT_ENTRY_NORMAL;
	}
	return (ballot_msg){.type = BALLOT_MSG_APPEND, .from = 1, .to = 2, .term = 1, .prev_index = 1,
			    .prev_term = 1, .commit = 1, .entry_count = n, .entries = e};
}

/* A follower checks an append's shape before trusting it: entries contiguous after
 * prev_index, terms not decreasing and not above the message's term, known types. */
static void malformed_append_is_dropped_and_counted(void **state)
{
	(void)state;
	static rh_cluster c;
	follower_of_one(&c);
	ballot_entry e[3];
	ballot_msg m;

	memset(e, 0, sizeof e);
	e[1].index = 4; /* 2, 4: a hole */
	m = append_to_2(e, 2);
	assert_dropped(&c, 2, &m, "non-contiguous indices");

	memset(e, 0, sizeof e);
	e[0].index = 3; /* does not follow prev_index 1 */
	m = append_to_2(e, 1);
	assert_dropped(&c, 2, &m, "first index after a gap");

	memset(e, 0, sizeof e);
	e[1].term = 2; /* above the message's term 1 */
	m = append_to_2(e, 2);
	assert_dropped(&c, 2, &m, "entry term above the message term");


	memset(e, 0, sizeof e);
	m = append_to_2(e, 1);
	m.prev_term = 2; /* prev term above the message's */
	assert_dropped(&c, 2, &m, "prev term above the message term");

	memset(e, 0, sizeof e);
	e[0].type = 9;
	m = append_to_2(e, 1);
	assert_dropped(&c, 2, &m, "unknown entry type");

	/* Too many entries for one append. */
	size_t n = BALLOT_RAFT_BATCH_ENTRIES_MAX + 1;
	ballot_entry *many = calloc(n, sizeof *many);
	assert_non_null(many);
	m = append_to_2(many, n);
	assert_dropped(&c, 2, &m, "more than BALLOT_RAFT_BATCH_ENTRIES_MAX entries");
	free(many);

	/* The follower still works, */
	assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	rh_run(&c, 2);
	assert_string_equal(rh_sm(&c, 2), "x");

	/* and checks the terms of a later leader's entries too (term 2, so that entry terms 2
	 * then 1 fit under the message's term). */
	ballot_msg hb = {.type = BALLOT_MSG_APPEND, .from = 1, .to = 2, .term = 2, .prev_index = 1,
			 .prev_term = 1, .commit = 1};
	ballot_raft_step(rh_raft(&c, 2), &hb);
	rh_drop(&c, 0, 0, 0);
	memset(e, 0, sizeof e);
	e[0].term = 2; /* 2 then 1: terms go back */
	e[1].term = 1;
	m = append_to_2(e, 2);
	m.term = 2;
	assert_dropped(&c, 2, &m, "decreasing entry terms");
	rh_free(&c);
}

static void message_from_self_or_to_other_is_dropped(void **state)
{
	(void)state;
	static rh_cluster c;
	follower_of_one(&c);
	ballot_msg m = {.type = BALLOT_MSG_VOTE, .from = 2, .to = 2, .term = 5};
	assert_dropped(&c, 2, &m, "from itself");
	m = (ballot_msg){.type = BALLOT_MSG_VOTE, .from = 3, .to = 1, .term = 5};
	assert_dropped(&c, 2, &m, "to another node");
	m = (ballot_msg){.type = BALLOT_MSG_VOTE, .from = 0, .to = 2, .term = 5};
	assert_dropped(&c, 2, &m, "from node 0");
	m = (ballot_msg){.type = 0, .from = 3, .to = 2, .term = 5};
	assert_dropped(&c, 2, &m, "message type 0");
	m = (ballot_msg){.type = BALLOT_MSG_TYPE_COUNT_, .from = 3, .to = 2, .term = 5};
	assert_dropped(&c, 2, &m, "unknown message type");
	m = (ballot_msg){.type = 200, .from = 3, .to = 2, .term = 5};
	assert_dropped(&c, 2, &m, "message type 200");
	rh_free(&c);
}

/* Raft Figure 2: currentTerm and votedFor are "updated on stable storage before responding
 * to RPCs". A restarted node keeps its vote, and a vote never persisted was never sent. */
static void crash_restart_keeps_term_and_vote(void **state)
{
	(void)state;
	static rh_cluster c;
	rh_init(&c, 3);
	ballot_msg vote = {.type = BALLOT_MSG_VOTE, .from = 1, .to = 2, .term = 1};
	ballot_raft_step(rh_raft(&c, 2), &vote);
	rh_process(&c, 2);
	assert_non_null(rh_wire_find(&c, 2, 1, BALLOT_MSG_VOTE_RESP, 0));
	rh_crash(&c, 2);
	rh_restart(&c, 2);
	ballot_raft_status s = rh_status(&c, 2);
	assert_int_equal(s.term, 1);
	assert_int_equal(s.vote, 1);
	ballot_msg other = {.type = BALLOT_MSG_VOTE, .from = 3, .to = 2, .term = 1};
	ballot_raft_step(rh_raft(&c, 2), &other);
	rh_process(&c, 2);
	const ballot_msg *r = rh_wire_find(&c, 2, 3, BALLOT_MSG_VOTE_RESP, 0);
	assert_non_null(r);
	assert_false(r->success);

	/* A crash between step and persist: the vote never left, and is forgotten. */
	ballot_msg later = {.type = BALLOT_MSG_VOTE, .from = 3, .to = 2, .term = 2};
	ballot_raft_step(rh_raft(&c, 2), &later);
	rh_crash(&c, 2);
	assert_int_equal(rh_wire_count(&c, 2, 3, BALLOT_MSG_VOTE_RESP), 1);
	rh_restart(&c, 2);
	s = rh_status(&c, 2);
	assert_int_equal(s.term, 1);
	assert_int_equal(s.vote, 1);

	/* A leader's log survives too, and it comes back as a follower. */
	rh_drop(&c, 0, 0, 0);
	rh_free(&c);
	rh_init(&c, 3);
	rh_elect(&c, 1);
	assert_int_equal(rh_propose(&c, 1, "x", NULL), 0);
	rh_run(&c, 1);
	rh_crash(&c, 1);
	rh_restart(&c, 1);
	rh_process(&c, 1);
	s = rh_status(&c, 1);
	assert_int_equal(s.role, BALLOT_ROLE_FOLLOWER);
	assert_int_equal(s.term, 1);
	assert_int_equal(s.last_index, 2);
	assert_int_equal(s.commit, 2);
	assert_string_equal(rh_sm(&c, 1), "x");
	rh_free(&c);
}

static int new_node(const ballot_raft_options *o, const ballot_raft_storage *st, ballot_errmsg *em)
{
	ballot_raft *r = NULL;
	memset(em, 0, sizeof *em);
	int rc = ballot_raft_new(&r, o, st, 1, em);
	ballot_raft_free(r);
	return rc;
}

/* ballot_raft_new refuses options outside their limits, with a message saying which. */
static void options_out_of_range_are_refused(void **state)
{
	(void)state;
	ballot_raft_storage st;
	memset(&st, 0, sizeof st);
	st.snap_config = rh_config_voters(3);
	ballot_errmsg em;
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	assert_int_equal(new_node(&o, &st, &em), 0);
	ballot_raft_options bad = o;
	bad.id = 0;
	assert_int_equal(new_node(&bad, &st, &em), BALLOT_EINVAL);
	assert_true(em.text[0] != '\0');
	bad = o;
	bad.heartbeat_ticks = 0;
	assert_int_equal(new_node(&bad, &st, &em), BALLOT_EINVAL);
	bad = o;
	bad.election_ticks = bad.heartbeat_ticks;
	assert_int_equal(new_node(&bad, &st, &em), BALLOT_EINVAL);
	bad = o;
	bad.batch_bytes = 0;
	assert_int_equal(new_node(&bad, &st, &em), BALLOT_EINVAL);
	bad.batch_bytes = BALLOT_RAFT_BATCH_BYTES_MAX + 1;
	assert_int_equal(new_node(&bad, &st, &em), BALLOT_EINVAL);
	bad = o;
	bad.inflight_max = 0;
	assert_int_equal(new_node(&bad, &st, &em), BALLOT_EINVAL);
	bad.inflight_max = BALLOT_RAFT_INFLIGHT_MAX + 1;
	assert_int_equal(new_node(&bad, &st, &em), BALLOT_EINVAL);
	bad = o;
	bad.snapshot_chunk_bytes = 0;
	assert_int_equal(new_node(&bad, &st, &em), BALLOT_EINVAL);
	bad = o;
	bad.uncommitted_bytes_max = 0;
	assert_int_equal(new_node(&bad, &st, &em), BALLOT_EINVAL);
}

/* ballot_raft_new refuses a stored state that breaks an invariant: entries out of order,
 * terms going back or above the hard state's term, a snapshot position without data. */
static void inconsistent_storage_is_refused(void **state)
{
	(void)state;
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	ballot_raft_storage st;
	memset(&st, 0, sizeof st);
	st.snap_config = rh_config_voters(3);
	st.hard_state.term = 3;
	ballot_entry e[3] = {{.term = 1, .index = 1, .type = BALLOT_ENTRY_NOOP},
			     {.term = 2, .index = 2, .type = BALLOT_ENTRY_NOOP},
			     {.term = 3, .index = 3, .type = BALLOT_ENTRY_NOOP}};
	st.entries = e;
	st.entry_count = 3;
	ballot_errmsg em;
	assert_int_equal(new_node(&o, &st, &em), 0);
	e[2].index = 4; /* a gap */
	assert_int_equal(new_node(&o, &st, &em), BALLOT_EINVAL);
	assert_true(em.text[0] != '\0');
	e[2].index = 3;
	e[2].term = 1; /* terms go back */
	assert_int_equal(new_node(&o, &st, &em), BALLOT_EINVAL);
	e[2].term = 4; /* above the hard state's term */
	assert_int_equal(new_node(&o, &st, &em), BALLOT_EINVAL);
	e[2].term = 3;
	st.snap_index = 5; /* entries must follow the snapshot */
	st.snap_term = 3;
	st.snap_data = ballot_rbuf_new("s", 1);
	assert_int_equal(new_node(&o, &st, &em), BALLOT_EINVAL);
	st.entry_count = 0;
	assert_int_equal(new_node(&o, &st, &em), 0);
	ballot_rbuf_unref(st.snap_data);
	st.snap_data = NULL; /* a snapshot position, no snapshot */
	assert_int_equal(new_node(&o, &st, &em), BALLOT_EINVAL);
}

/* ---- hostile input that must not break the core (run in a child) ------------------------ */

/* Checks failed in the child, one bit each (cmocka's longjmp belongs to the parent). */
static int child_failed;

#define CHILD_CHECK(bit, cond)                       \
	do {                                         \
		if (!(cond))                         \
			child_failed |= 1 << (bit);  \
	} while (0)

/* Runs fn in a child process; returns "" if it exited 0, or what happened. */
static const char *in_child(void (*fn)(void))
{
	static char what[128];
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return "fork failed";
	if (pid == 0) {
		/* cmocka's handlers would catch a crash here and run the other tests in the child. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGILL, SIG_DFL);
		signal(SIGFPE, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		child_failed = 0;
		fn();
		_exit(child_failed);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		return "waitpid failed";
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return "";
	if (WIFSIGNALED(status))
		snprintf(what, sizeof what, "the core was killed by signal %d", WTERMSIG(status));
	else
		snprintf(what, sizeof what, "checks failed (bit i: check i): %#x", WEXITSTATUS(status));
	return what;
}

static ballot_raft *child_leader_of_three(void)
{
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	o.pre_vote = false;
	ballot_raft_storage st;
	memset(&st, 0, sizeof st);
	st.snap_config = rh_config_voters(3);
	ballot_raft *r = NULL;
	if (ballot_raft_new(&r, &o, &st, 1, NULL) != 0)
		_exit(0x80);
	for (int i = 0; i < 2 * E; i++)
		ballot_raft_tick(r);
	ballot_msg grant = {.type = BALLOT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 1, .success = true};
	ballot_raft_step(r, &grant);
	ballot_raft_status s;
	ballot_raft_status_get(r, &s);
	if (s.role != BALLOT_ROLE_LEADER || s.term != 1)
		_exit(0x81);
	return r;
}

static void second_leader_append_child(void)
{
	ballot_raft *r = child_leader_of_three();
	ballot_raft_status before;
	ballot_raft_status_get(r, &before);
	ballot_msg m = {.type = BALLOT_MSG_APPEND, .from = 2, .to = 1, .term = 1};
	ballot_raft_step(r, &m);
	ballot_raft_status s;
	ballot_raft_status_get(r, &s);
	CHILD_CHECK(0, s.role == BALLOT_ROLE_LEADER);
	CHILD_CHECK(1, s.dropped_messages == before.dropped_messages + 1);
	ballot_raft_free(r);
}

/* Two leaders in one term cannot happen among correct servers (Raft §5.2); a peer that
 * claims it anyway is broken or hostile, and its append is dropped and counted
 * (STYLE.md 6: a bad peer frame is an operating error, not an assertion). */
static void append_from_another_leader_of_our_term_is_dropped(void **state)
{
	(void)state;
	const char *what = in_child(second_leader_append_child);
	if (what[0] != '\0')
		RH_FAIL("%s", what);
}

static void ack_beyond_log_child(void)
{
	ballot_raft *r = child_leader_of_three();
	ballot_raft_status before;
	ballot_raft_status_get(r, &before);
	ballot_msg m = {.type = BALLOT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .success = true,
			.match_index = 1000, .prev_index = 999};
	ballot_raft_step(r, &m);
	ballot_raft_status s;
	ballot_raft_status_get(r, &s);
	CHILD_CHECK(0, s.dropped_messages == before.dropped_messages + 1);
	for (unsigned i = 0; i < s.peer_count; i++)
		CHILD_CHECK(1, s.peers[i].match <= s.last_index);
	CHILD_CHECK(2, s.commit <= s.last_index);
	ballot_raft_free(r);
}

/* An acknowledgement of entries the leader never had (match_index past its last index) is
 * malformed; believing it would wedge replication to that follower. */
static void ack_beyond_leaders_log_is_dropped(void **state)
{
	(void)state;
	const char *what = in_child(ack_beyond_log_child);
	if (what[0] != '\0')
		RH_FAIL("%s", what);
}

static void snapshot_config_child(void)
{
	ballot_raft_options o;
	ballot_raft_options_default(&o, 2);
	ballot_raft_storage st;
	memset(&st, 0, sizeof st);
	st.snap_config = rh_config_voters(3);
	ballot_raft *r = NULL;
	if (ballot_raft_new(&r, &o, &st, 1, NULL) != 0)
		_exit(0x80);
	ballot_config *cfg = calloc(1, sizeof *cfg);
	if (cfg == NULL)
		_exit(0x81);
	cfg->count = 1000; /* more members than a configuration holds */
	for (unsigned i = 0; i < BALLOT_RAFT_MEMBERS_MAX; i++)
		cfg->members[i] = (ballot_member){.id = i + 1, .role = BALLOT_MEMBER_VOTER};
	ballot_msg m = {.type = BALLOT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1, .snap_index = 5,
			.snap_term = 1, .snap_config = cfg, .offset = 0, .done = true};
	m.chunk = ballot_rbuf_new("state", 5);
	ballot_raft_step(r, &m);
	ballot_raft_status s;
	ballot_raft_status_get(r, &s);
	CHILD_CHECK(0, s.config.count <= BALLOT_RAFT_MEMBERS_MAX);
	CHILD_CHECK(1, s.peer_count <= BALLOT_RAFT_MEMBERS_MAX);
	CHILD_CHECK(2, s.snap_index == 0);
	CHILD_CHECK(3, s.dropped_messages == 1);
	ballot_rbuf_unref(m.chunk);
	free(cfg);
	ballot_raft_free(r);
}

/* A snapshot whose configuration is impossible (more members than BALLOT_RAFT_MEMBERS_MAX)
 * is malformed: dropped and counted, not installed. */
static void snapshot_with_impossible_configuration_is_dropped(void **state)
{
	(void)state;
	const char *what = in_child(snapshot_config_child);
	if (what[0] != '\0')
		RH_FAIL("%s", what);
}

/* Chunks out of order or without the first chunk's configuration are refused (the leader
 * starts over), never installed. */
static void snapshot_chunk_out_of_order_is_refused(void **state)
{
	(void)state;
	static rh_cluster c;
	follower_of_one(&c);
	ballot_msg m = {.type = BALLOT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1, .snap_index = 9,
			.snap_term = 1, .offset = 4, .done = true};
	m.chunk = ballot_rbuf_new("abcd", 4);
	ballot_raft_step(rh_raft(&c, 2), &m);
	rh_process(&c, 2);
	const ballot_msg *r = rh_wire_find(&c, 2, 1, BALLOT_MSG_SNAPSHOT_RESP, 0);
	assert_non_null(r);
	assert_false(r->success);
	m.offset = 0; /* the first chunk, but no configuration */
	ballot_raft_step(rh_raft(&c, 2), &m);
	rh_process(&c, 2);
	r = rh_wire_find(&c, 2, 1, BALLOT_MSG_SNAPSHOT_RESP, 1);
	assert_non_null(r);
	assert_false(r->success);
	ballot_rbuf_unref(m.chunk);
	assert_int_equal(rh_status(&c, 2).snap_index, 0);
	assert_int_equal(c.nodes[2].snap_index, 0);
	rh_drop(&c, 0, 0, 0);
	rh_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(malformed_append_is_dropped_and_counted),
		cmocka_unit_test(message_from_self_or_to_other_is_dropped),
		cmocka_unit_test(crash_restart_keeps_term_and_vote),
		cmocka_unit_test(snapshot_chunk_out_of_order_is_refused),
		cmocka_unit_test(options_out_of_range_are_refused),
		cmocka_unit_test(inconsistent_storage_is_refused),
		cmocka_unit_test(append_from_another_leader_of_our_term_is_dropped),
		cmocka_unit_test(ack_beyond_leaders_log_is_dropped),
		cmocka_unit_test(snapshot_with_impossible_configuration_is_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, rh_free_leftovers);
}
