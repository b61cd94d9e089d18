/* Module health: a voter that remembers who dissented and acts on repeat offenders
 * (see ballot/vote.h). A module that keeps disagreeing is more likely broken than unlucky;
 * after K faulty votes in a row the tracker reports it and, if configured, lowers its
 * weight or removes it from the electorate (self-purging redundancy). */
#include <math.h>
#include <string.h>

#include "ballot/vote.h"
#include "common/assert.h"

int ballot_voter_init(ballot_voter *voter, const ballot_vote_config *config, size_t n,
		      const ballot_health_config *health, ballot_errmsg *em)
{
	int rc = ballot_vote_config_check(config, n, em);
	if (rc != 0)
		return rc;
	if (health->action == BALLOT_HEALTH_REDUCE &&
	    !(health->reduce_factor > 0 && health->reduce_factor < 1))
		return ballot_errorf(em, BALLOT_EINVAL, "reduce factor %g: must be between 0 and 1",
				     health->reduce_factor);
	if ((unsigned)health->action > BALLOT_HEALTH_EXCLUDE)
		return ballot_errorf(em, BALLOT_EINVAL, "unknown health action %d", (int)health->action);
	memset(voter, 0, sizeof *voter);
	voter->config = *config;
	voter->health = *health;
	voter->n = n;
	for (size_t i = 0; i < n; i++) {
		voter->weights[i] = config->weights != NULL ? config->weights[i] : 1.0;
		voter->modules[i].weight = voter->weights[i];
		voter->modules[i].initial_weight = voter->weights[i];
	}
	voter->config.weights = NULL; /* each vote points a copy at this voter's own weights */
	return 0;
}

static unsigned electorate_size(const ballot_voter *voter)
{
	unsigned size = 0;
	for (size_t i = 0; i < voter->n; i++)
		size += !voter->modules[i].excluded;
	return size;
}

/* Records one verdict; returns true if the module's fault run just reached a multiple of K. */
static bool record(ballot_module_health *m, ballot_verdict verdict, const ballot_health_config *h)
{
	bool fault = false;
	switch (verdict) {
	case BALLOT_VERDICT_EXCLUDED:
		return false;
	case BALLOT_VERDICT_UNDECIDED:
		m->votes++;
		return false;
	case BALLOT_VERDICT_AGREED:
		m->votes++;
		m->agreed++;
		m->consecutive_faults = 0;
		return false;
	case BALLOT_VERDICT_DISSENTED:
		m->votes++;
		m->dissented++;
		fault = true;
		break;
	case BALLOT_VERDICT_FAILED:
		m->votes++;
		m->failed++;
		fault = h->failures_are_faults;
		break;
	}
	if (!fault)
		return false;
	m->consecutive_faults++;
	if (m->consecutive_faults > m->longest_fault_run)
		m->longest_fault_run = m->consecutive_faults;
	return h->fault_limit > 0 && m->consecutive_faults % h->fault_limit == 0;
}

/* Applies the configured action to module i; returns false if it had to hold back. */
static bool act(ballot_voter *voter, size_t i)
{
	ballot_module_health *m = &voter->modules[i];
	switch (voter->health.action) {
	case BALLOT_HEALTH_REPORT:
		break;
	case BALLOT_HEALTH_REDUCE: {
		/* A floor keeps the weight positive however often it is cut: a zero weight is
		 * an invalid configuration, and the voter must keep voting. */
		double floor = m->initial_weight * BALLOT_HEALTH_WEIGHT_FLOOR;
		double reduced = voter->weights[i] * voter->health.reduce_factor;
		voter->weights[i] = reduced > floor ? reduced : floor;
		m->weight = voter->weights[i];
		break;
	}
	case BALLOT_HEALTH_EXCLUDE:
		/* The last module standing stays: a vote with no electorate decides nothing. */
		if (m->excluded || electorate_size(voter) <= 1)
			return false;
		m->excluded = true;
		break;
	}
	m->actions++;
	return true;
}

int ballot_voter_vote(ballot_voter *voter, const ballot_output *outputs, ballot_vote_result *result,
		      uint64_t *acted, ballot_errmsg *em)
{
	bool excluded[BALLOT_VOTE_MODULES_MAX];
	for (size_t i = 0; i < voter->n; i++)
		excluded[i] = voter->modules[i].excluded;
	ballot_vote_config config = voter->config;
	config.weights = voter->weights;
	int rc = ballot_vote(&config, outputs, voter->n, excluded, result, em);
	if (rc != 0)
		return rc;
	voter->rounds++;
	uint64_t mask = 0;
	for (size_t i = 0; i < voter->n; i++) {
		if (record(&voter->modules[i], result->verdicts[i], &voter->health) && act(voter, i))
			mask |= UINT64_C(1) << i;
	}
	if (acted != NULL)
		*acted = mask;
	return 0;
}
