/* A seeded random walk through faults for the Raft core: message loss, reordering and
 * duplication, partitions, crashes and restarts, compaction, proposals and reads. After
 * every ready the harness checks Election Safety and State Machine Safety (raft_harness.h);
 * at the end the faults stop and the cluster must converge: one leader, a last proposal
 * committed and applied everywhere, the same state machine on every node.
 *
 * A failure prints the seed; `test_raft_random SEED` replays that one seed alone. */
#include "raft_harness.h"

#include "ballot/rng.h"

#define SEEDS 60
#define STEPS 400

static uint64_t only_seed; /* from the command line: replay one seed */

static bool coin(const ballot_msg *m, void *arg)
{
	(void)m;
	ballot_rng *rng = arg;
	return ballot_rng_below(rng, 100) < 70;
}

static bool unlucky(const ballot_msg *m, void *arg)
{
	(void)m;
	ballot_rng *rng = arg;
	return ballot_rng_below(rng, 100) < 30;
}

static uint64_t pick_node(rh_cluster *c, ballot_rng *rng, bool up)
{
	uint64_t ids[RH_NODES_MAX];
	unsigned n = 0;
	for (uint64_t id = 1; id <= c->n; id++) {
		if (c->nodes[id].up == up)
			ids[n++] = id;
	}
	return n == 0 ? 0 : ids[ballot_rng_below(rng, n)];
}

static unsigned down_count(rh_cluster *c)
{
	unsigned d = 0;
	for (uint64_t id = 1; id <= c->n; id++)
		d += !c->nodes[id].up;
	return d;
}

static void fault_step(rh_cluster *c, ballot_rng *rng, unsigned *proposals)
{
	unsigned r = (unsigned)ballot_rng_below(rng, 100);
	uint64_t leader = rh_leader(c);
	if (r < 30) {
		rh_tick(c, 0);
	} else if (r < 52) {
		rh_deliver_where(c, coin, rng); /* the rest stays: reordering */
	} else if (r < 57) {
		rh_flush(c);
		size_t count;
		ballot_msg **ms = rh_take_where(c, 0, 0, 0, SIZE_MAX, unlucky, rng, &count);
		for (size_t i = 0; i < count; i++)
			ballot_msg_free(ms[i]);
		free(ms);
	} else if (r < 60) {
		rh_flush(c);
		if (c->wire_count > 0) {
			ballot_msg *dup = ballot_msg_clone(c->wire[ballot_rng_below(rng, c->wire_count)]);
			if (dup != NULL)
				rh_wire_push(c, dup);
		}
	} else if (r < 70) {
		if (leader != 0) {
			char p[16];
			snprintf(p, sizeof p, "p%u", (*proposals)++);
			(void)rh_propose(c, leader, p, NULL);
		}
	} else if (r < 72) {
		rh_isolate(c, 1 + ballot_rng_below(rng, c->n));
	} else if (r < 75) {
		rh_heal(c);
	} else if (r < 77) {
		uint64_t id = pick_node(c, rng, true);
		if (id != 0 && down_count(c) < (c->n - 1) / 2)
			rh_crash(c, id);
	} else if (r < 80) {
		uint64_t id = pick_node(c, rng, false);
		if (id != 0)
			rh_restart(c, id);
	} else if (r < 83) {
		uint64_t id = pick_node(c, rng, true);
		if (id != 0 && c->nodes[id].applied > c->nodes[id].snap_index)
			(void)rh_compact(c, id, c->nodes[id].applied);
	} else if (r < 86) {
		if (leader != 0)
			(void)rh_read(c, leader, ballot_rng_next(rng));
	} else {
		rh_deliver_all(c);
	}
}

/* Faults stop; within a bounded time the cluster must agree and make progress. */
static void converge(rh_cluster *c, uint64_t seed)
{
	rh_heal(c);
	for (uint64_t id = 1; id <= c->n; id++) {
		if (!c->nodes[id].up)
			rh_restart(c, id);
	}
	uint64_t leader = 0;
	for (unsigned round = 0; round < 300 && leader == 0; round++) {
		rh_run(c, 1);
		leader = rh_leader(c);
	}
	if (leader == 0) {
		rh_dump(c, stderr);
		RH_FAIL("seed %llu: no leader after the faults stopped", (unsigned long long)seed);
	}
	uint64_t index = 0;
	int rc = BALLOT_EBUSY;
	for (unsigned round = 0; round < 100 && rc != 0; round++) {
		leader = rh_leader(c);
		if (leader != 0)
			rc = rh_propose(c, leader, "final", &index);
		rh_run(c, 1);
	}
	if (rc != 0)
		RH_FAIL("seed %llu: the leader takes no proposal (%d)", (unsigned long long)seed, rc);
	for (unsigned round = 0; round < 100; round++) {
		bool done = true;
		for (uint64_t id = 1; id <= c->n; id++)
			done = done && c->nodes[id].applied >= index;
		if (done)
			break;
		rh_run(c, 1);
	}
	const char *sm = rh_sm(c, leader);
	for (uint64_t id = 1; id <= c->n; id++) {
		if (c->nodes[id].applied < index || strcmp(rh_sm(c, id), sm) != 0) {
			rh_dump(c, stderr);
			RH_FAIL("seed %llu: node %llu did not converge (applied %llu of %llu)", (unsigned long long)seed,
				(unsigned long long)id, (unsigned long long)c->nodes[id].applied,
				(unsigned long long)index);
		}
	}
}

static void one_seed(rh_cluster *c, uint64_t seed)
{
	ballot_rng rng;
	ballot_rng_seed(&rng, seed);
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	o.snapshot_chunk_bytes = 1 + ballot_rng_below(&rng, 16);
	o.batch_bytes = 1 + ballot_rng_below(&rng, 32);
	o.inflight_max = 1 + (unsigned)ballot_rng_below(&rng, 4);
	o.lease_reads = ballot_rng_below(&rng, 2) == 0;
	unsigned n = ballot_rng_below(&rng, 2) == 0 ? 3 : 5;
	print_message("seed %llu: %u nodes, chunk %zu, batch %zu, inflight %u, lease %d\n",
		      (unsigned long long)seed, n, o.snapshot_chunk_bytes, o.batch_bytes, o.inflight_max,
		      o.lease_reads);
	rh_init_opts(c, n, &o, seed);
	unsigned proposals = 0;
	for (unsigned step = 0; step < STEPS; step++)
		fault_step(c, &rng, &proposals);
	converge(c, seed);
	rh_free(c);
}

/* Raft §5 safety under every fault the harness can make, and liveness once they stop. */
static void random_faults_keep_safety_and_then_converge(void **state)
{
	(void)state;
	static rh_cluster c;
	if (only_seed != 0) {
		one_seed(&c, only_seed);
		return;
	}
	for (uint64_t seed = 1; seed <= SEEDS; seed++)
		one_seed(&c, seed);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		only_seed = strtoull(argv[1], NULL, 10);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_faults_keep_safety_and_then_converge),
	};
	return cmocka_run_group_tests(tests, NULL, rh_free_leftovers);
}
