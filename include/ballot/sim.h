/* ballot simulator: many Raft nodes in one process, on virtual time, under faults.
 *
 * One seeded generator decides everything: client operations, message delay, loss,
 * duplication and reordering, partitions, crashes and restarts (losing what a node had not
 * yet synced), bit flips in a node's data dir (a node whose recovery finds the damage is
 * replaced by a new member, as an operator would), membership changes, leadership
 * transfers, snapshots. The same seed gives the same run, bit for bit (the trace hash says
 * so). After every event the simulator checks Raft's safety properties; at the end it
 * checks the clients' history for linearizability and, after the faults stop, that the
 * cluster elects a leader and serves requests again.
 *
 * The simulator drives the real core (ballot/raft.h) and the real state machine; it is the
 * first user of both, and a product feature: `ballot sim`. */
#ifndef BALLOT_SIM_H
#define BALLOT_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ballot/error.h"

/* Fault classes, for --faults. */
enum {
	BALLOT_SIM_FAULT_LOSS = 1u << 0,       /* messages dropped */
	BALLOT_SIM_FAULT_DUP = 1u << 1,        /* messages delivered twice */
	BALLOT_SIM_FAULT_DELAY = 1u << 2,      /* long delays, so messages overtake each other */
	BALLOT_SIM_FAULT_PARTITION = 1u << 3,  /* symmetric and one-way partitions */
	BALLOT_SIM_FAULT_CRASH = 1u << 4,      /* crash and restart, losing unsynced writes */
	BALLOT_SIM_FAULT_MEMBERSHIP = 1u << 5, /* remove a voter, add a learner, promote it */
	BALLOT_SIM_FAULT_TRANSFER = 1u << 6,   /* leadership transfers under load */
	BALLOT_SIM_FAULT_SNAPSHOT = 1u << 7,   /* frequent snapshots, so laggards get them */
	BALLOT_SIM_FAULT_BITFLIP = 1u << 8,    /* a bit flips in a node's data dir; if recovery
						* finds the damage, the node is replaced */
	BALLOT_SIM_FAULT_ALL = (1u << 9) - 1,
};

/* Parses "loss,dup,partition", "all" or "none"; returns 0 or BALLOT_EINVAL. */
int ballot_sim_faults_parse(const char *text, uint32_t *faults, ballot_errmsg *em);
/* Writes the fault names of a set, comma-separated ("none" for none), into out. */
void ballot_sim_faults_format(uint32_t faults, char *out, size_t cap);

typedef struct ballot_sim_options {
	uint64_t seed;
	unsigned nodes;           /* 3 .. 7 */
	unsigned ops;             /* client operations in the fault phase */
	unsigned clients;         /* concurrent clients, 1 .. BALLOT_SIM_CLIENTS_MAX */
	uint32_t faults;
	uint64_t duration_ticks;  /* bound on the fault phase, in Raft ticks */
	uint64_t canaries;        /* BALLOT_CANARY_* bugs to switch on (canary builds only) */
	FILE *trace;              /* if not NULL, one line per event (debugging) */
	const char *history_path; /* if not NULL, the client history is written there (JSONL) */
} ballot_sim_options;

void ballot_sim_options_default(ballot_sim_options *o);

typedef struct ballot_sim_result {
	uint64_t ops_ok, ops_fail, ops_info;  /* completed client operations by outcome */
	uint64_t events, ticks;               /* events processed, virtual ticks elapsed */
	uint64_t elections;                   /* leaders elected (distinct terms with a leader) */
	uint64_t max_unavailable_ticks;       /* longest stretch with no successful operation */
	uint64_t crashes, partitions, transfers, membership_changes, snapshots_installed;
	uint64_t snapshots_overtaken;         /* own snapshots written, then overtaken by an install */
	uint64_t messages, messages_dropped;
	/* disk faults: bits flipped, flips recovery did not need to refuse (damage it repaired or
	 * that did not matter), damaged data dirs found (at restart or while running), and
	 * replacement nodes that joined in place of a damaged one */
	uint64_t bit_flips, flips_harmless, corruptions_detected, replacements;
	uint64_t trace_hash;                  /* hash of every event: equal runs, equal hashes */
	unsigned violations;
	char violation[512];                  /* the first violation, if any */
	bool linearizable;
	bool history_checked;                 /* false: the checker gave up (bound reached) */
} ballot_sim_result;

/* Runs one seed. Returns 0 (see result->violations for the verdict), or BALLOT_EINVAL for
 * bad options, BALLOT_ENOMEM. */
int ballot_sim_run(const ballot_sim_options *o, ballot_sim_result *result, ballot_errmsg *em);

#endif
