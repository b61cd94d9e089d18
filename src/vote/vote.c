/* Voting over N module outputs (see ballot/vote.h).
 *
 * Every agreement-based policy works on the same candidate groups:
 * - exact agreement partitions the answers into classes of equal outputs (bytes grouped by
 *   XXH3 and confirmed byte for byte; numbers by ==);
 * - inexact agreement (numbers, epsilon > 0) takes the maximal runs of sorted answers whose
 *   spread (max - min) is at most epsilon, so every pair in a group is within epsilon; those
 *   groups may overlap.
 * The policy then picks the best group by count (or weight) and decides if it is enough.
 * Median and mid-value compute a number instead and judge each answer by its distance. */
#include "ballot/vote.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
/* libxxhash builds XXH3_64bits for the baseline CPU (SSE2 on x86-64); its _dispatch entry
 * points pick AVX2 or AVX-512 at run time. This header maps XXH3_64bits to them. */
#include <xxh_x86dispatch.h>
#endif

#include "common/assert.h"

typedef struct group {
	uint64_t members;   /* bit i: module i is in the group */
	unsigned count;
	double weight;
	int center;         /* the module whose output the group stands for */
	double spread;      /* max - min of its numbers (inexact agreement), else 0 */
} group;

/* What one vote works with: the answers of the electorate, in module order. */
typedef struct ballot_tally {
	const ballot_vote_config *config;
	const ballot_output *outputs;
	size_t n;
	unsigned answered;
	unsigned electorate;
	double total_weight;
	int answers[BALLOT_VOTE_MODULES_MAX]; /* module indices that answered */
	group groups[BALLOT_VOTE_MODULES_MAX];
	unsigned group_count;
} ballot_tally;

static const char *const policy_names[BALLOT_POLICY_COUNT_] = {
	[BALLOT_POLICY_MAJORITY] = "majority",   [BALLOT_POLICY_PLURALITY] = "plurality",
	[BALLOT_POLICY_UNANIMOUS] = "unanimous", [BALLOT_POLICY_THRESHOLD] = "threshold",
	[BALLOT_POLICY_WEIGHTED] = "weighted",   [BALLOT_POLICY_MEDIAN] = "median",
	[BALLOT_POLICY_MID_VALUE] = "mid-value",
};

const char *ballot_policy_name(ballot_policy policy)
{
	if ((unsigned)policy >= BALLOT_POLICY_COUNT_)
		return "unknown";
	return policy_names[policy];
}

int ballot_policy_parse(const char *name, ballot_policy *policy)
{
	for (int p = 0; p < BALLOT_POLICY_COUNT_; p++) {
		if (strcmp(name, policy_names[p]) == 0) {
			*policy = (ballot_policy)p;
			return 0;
		}
	}
	return BALLOT_EINVAL;
}

bool ballot_policy_is_numeric(ballot_policy policy)
{
	return policy == BALLOT_POLICY_MEDIAN || policy == BALLOT_POLICY_MID_VALUE;
}

const char *ballot_verdict_name(ballot_verdict verdict)
{
	switch (verdict) {
	case BALLOT_VERDICT_UNDECIDED: return "undecided";
	case BALLOT_VERDICT_AGREED: return "agreed";
	case BALLOT_VERDICT_DISSENTED: return "dissented";
	case BALLOT_VERDICT_FAILED: return "failed";
	case BALLOT_VERDICT_EXCLUDED: return "excluded";
	}
	return "unknown";
}

const char *ballot_no_winner_text(ballot_no_winner reason)
{
	switch (reason) {
	case BALLOT_WINNER: return "winner";
	case BALLOT_NO_MAJORITY: return "no majority: no output was given by more than half of the modules";
	case BALLOT_NO_WEIGHTED_MAJORITY: return "no weighted majority: no output holds more than half of the total weight";
	case BALLOT_NO_TIE: return "tie: two outputs have the most votes";
	case BALLOT_NO_DISAGREEMENT: return "not unanimous: the modules did not all give the same output";
	case BALLOT_NO_THRESHOLD: return "below threshold: no output was given by enough modules";
	case BALLOT_NO_TOO_FEW: return "too few answers: not more than half of the modules answered";
	case BALLOT_NO_ALL_FAILED: return "all modules failed";
	}
	return "unknown";
}

int ballot_vote_config_check(const ballot_vote_config *config, size_t n, ballot_errmsg *em)
{
	if ((unsigned)config->policy >= BALLOT_POLICY_COUNT_)
		return ballot_errorf(em, BALLOT_EINVAL, "unknown voting policy %d", (int)config->policy);
	if (n < 1)
		return ballot_errorf(em, BALLOT_EINVAL, "a vote needs at least one module");
	if (n > BALLOT_VOTE_MODULES_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT, "%zu modules: at most %d can vote",
				     n, BALLOT_VOTE_MODULES_MAX);
	if (config->policy == BALLOT_POLICY_THRESHOLD && (config->threshold < 1 || config->threshold > n))
		return ballot_errorf(em, BALLOT_EINVAL, "threshold %u of %zu: must be between 1 and %zu",
				     config->threshold, n, n);
	if (!isfinite(config->epsilon) || config->epsilon < 0)
		return ballot_errorf(em, BALLOT_EINVAL, "epsilon %g: must be a finite number >= 0",
				     config->epsilon);
	for (size_t i = 0; config->weights != NULL && i < n; i++) {
		double w = config->weights[i];
		if (!isfinite(w) || w <= 0)
			return ballot_errorf(em, BALLOT_EINVAL,
					     "weight %g of module %zu: must be a positive number", w, i + 1);
	}
	return 0;
}

static double weight_of(const ballot_vote_config *config, int module)
{
	return config->weights != NULL ? config->weights[module] : 1.0;
}

/* A NaN is no answer: it compares equal to nothing and has no place in an order. */
static bool answered(const ballot_output *o)
{
	if (o->kind == BALLOT_OUTPUT_NUMBER)
		return !isnan(o->number);
	return o->kind == BALLOT_OUTPUT_BYTES;
}

static bool is_number_output(const ballot_output *o)
{
	return o->kind == BALLOT_OUTPUT_NUMBER;
}

/* Collects the electorate's answers; refuses mixed kinds, and bytes for numeric policies. */
static int tally_answers(ballot_tally *t, const bool *excluded, ballot_errmsg *em)
{
	int kind = BALLOT_OUTPUT_FAILED;
	for (size_t i = 0; i < t->n; i++) {
		if (excluded != NULL && excluded[i])
			continue;
		t->electorate++;
		t->total_weight += weight_of(t->config, (int)i);
		const ballot_output *o = &t->outputs[i];
		if (!answered(o))
			continue;
		if (kind != BALLOT_OUTPUT_FAILED && (int)o->kind != kind)
			return ballot_errorf(em, BALLOT_EINVAL,
					     "module %zu: cannot vote bytes against numbers", i + 1);
		kind = (int)o->kind;
		t->answers[t->answered++] = (int)i;
	}
	if (kind == BALLOT_OUTPUT_BYTES && ballot_policy_is_numeric(t->config->policy))
		return ballot_errorf(em, BALLOT_EINVAL, "policy %s needs numeric outputs",
				     ballot_policy_name(t->config->policy));
	return 0;
}

static void group_add(group *g, const ballot_tally *t, int module)
{
	g->members |= UINT64_C(1) << module;
	g->count++;
	g->weight += weight_of(t->config, module);
}

static bool outputs_equal(const ballot_output *a, uint64_t hash_a, const ballot_output *b, uint64_t hash_b)
{
	if (is_number_output(a))
		return a->number == b->number;
	return hash_a == hash_b && a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* With fewer answers than this, exact agreement compares outputs byte for byte without
 * hashing them first: three equal outputs cost two memcmp calls instead of three hashes
 * and the same two memcmp calls. From this many on, hashes keep many distinct outputs from
 * costing a byte comparison per pair. */
#define HASH_ANSWERS_MIN 5

/* Exact agreement: each answer joins the first class whose output equals its own. */
static void group_exact(ballot_tally *t)
{
	uint64_t hashes[BALLOT_VOTE_MODULES_MAX];
	bool hashed = t->answered >= HASH_ANSWERS_MIN;
	for (unsigned a = 0; a < t->answered; a++) {
		const ballot_output *o = &t->outputs[t->answers[a]];
		hashes[a] = is_number_output(o) || !hashed ? 0 : XXH3_64bits(o->data, o->len);
	}
	unsigned first_answer[BALLOT_VOTE_MODULES_MAX]; /* per group: the answer it started from */
	for (unsigned a = 0; a < t->answered; a++) {
		int module = t->answers[a];
		unsigned g = 0;
		for (; g < t->group_count; g++) {
			unsigned f = first_answer[g];
			if (outputs_equal(&t->outputs[t->answers[f]], hashes[f], &t->outputs[module], hashes[a]))
				break;
		}
		if (g == t->group_count) {
			t->groups[g] = (group){.center = module};
			first_answer[g] = a;
			t->group_count++;
		}
		group_add(&t->groups[g], t, module);
	}
}

static void sort_by_number(const ballot_tally *t, int *modules, unsigned k)
{
	for (unsigned i = 1; i < k; i++) {
		int m = modules[i];
		double v = t->outputs[m].number;
		unsigned j = i;
		for (; j > 0 && t->outputs[modules[j - 1]].number > v; j--)
			modules[j] = modules[j - 1];
		modules[j] = m;
	}
}

/* Inexact agreement: every maximal run of sorted answers with spread <= epsilon is a group,
 * standing for its middle member. A run contained in the previous one is not maximal. */
static void group_inexact(ballot_tally *t)
{
	int sorted[BALLOT_VOTE_MODULES_MAX];
	unsigned k = t->answered;
	memcpy(sorted, t->answers, k * sizeof sorted[0]);
	sort_by_number(t, sorted, k);
	unsigned end = 0; /* one past the last member of the previous run */
	for (unsigned start = 0; start < k; start++) {
		double low = t->outputs[sorted[start]].number;
		unsigned stop = start;
		while (stop + 1 < k && t->outputs[sorted[stop + 1]].number - low <= t->config->epsilon)
			stop++;
		if (stop + 1 <= end)
			continue;
		end = stop + 1;
		group *g = &t->groups[t->group_count++];
		*g = (group){.center = sorted[(start + stop) / 2],
			     .spread = t->outputs[sorted[stop]].number - low};
		for (unsigned m = start; m <= stop; m++)
			group_add(g, t, sorted[m]);
	}
}

static double group_key(const ballot_tally *t, const group *g)
{
	return t->config->policy == BALLOT_POLICY_WEIGHTED ? g->weight : (double)g->count;
}

/* The best group by key, or NULL if two disjoint groups tie for best; *best_key is the best
 * key either way. Overlapping groups that tie (inexact agreement) are one cluster seen
 * through different runs: the tightest run stands for it, and among equally tight runs the
 * middle one. Precondition: at least one group. */
static const group *best_group(const ballot_tally *t, double *best_key)
{
	double best = -1;
	for (unsigned g = 0; g < t->group_count; g++) {
		double key = group_key(t, &t->groups[g]);
		if (key > best)
			best = key;
	}
	*best_key = best;
	const group *tied[BALLOT_VOTE_MODULES_MAX];
	unsigned ties = 0;
	double tightest = INFINITY;
	for (unsigned g = 0; g < t->group_count; g++) {
		if (group_key(t, &t->groups[g]) != best)
			continue;
		tied[ties++] = &t->groups[g];
		if (t->groups[g].spread < tightest)
			tightest = t->groups[g].spread;
	}
	BALLOT_ASSERT(ties > 0);
	for (unsigned i = 0; i < ties; i++) {
		for (unsigned j = i + 1; j < ties; j++) {
			if ((tied[i]->members & tied[j]->members) == 0)
				return NULL;
		}
	}
	/* Groups come in ascending order of their numbers; keep the tightest, take the middle. */
	unsigned kept = 0;
	for (unsigned i = 0; i < ties; i++) {
		if (tied[i]->spread == tightest)
			tied[kept++] = tied[i];
	}
	return tied[(kept - 1) / 2];
}

static void set_winner_group(ballot_vote_result *r, const ballot_tally *t, const group *g)
{
	r->has_winner = true;
	r->reason = BALLOT_WINNER;
	r->winner_index = g->center;
	r->winner_number = t->outputs[g->center].number;
	for (size_t i = 0; i < t->n; i++) {
		if (r->verdicts[i] != BALLOT_VERDICT_UNDECIDED)
			continue;
		bool agreed = (g->members >> i) & 1;
		r->verdicts[i] = agreed ? BALLOT_VERDICT_AGREED : BALLOT_VERDICT_DISSENTED;
	}
}

/* Decides an agreement-based policy from the groups; no winner leaves verdicts undecided. */
static void decide_by_groups(ballot_vote_result *r, ballot_tally *t)
{
	const ballot_vote_config *c = t->config;
	if (c->epsilon > 0 && is_number_output(&t->outputs[t->answers[0]]))
		group_inexact(t);
	else
		group_exact(t);
	double best_key;
	const group *g = best_group(t, &best_key);
	ballot_no_winner reason = BALLOT_WINNER;
	switch (c->policy) {
	case BALLOT_POLICY_MAJORITY:
		if (g == NULL || 2 * g->count <= t->electorate)
			reason = BALLOT_NO_MAJORITY;
		break;
	case BALLOT_POLICY_PLURALITY:
		if (g == NULL)
			reason = BALLOT_NO_TIE;
		break;
	case BALLOT_POLICY_UNANIMOUS:
		if (g == NULL || g->count != t->electorate)
			reason = BALLOT_NO_DISAGREEMENT;
		break;
	case BALLOT_POLICY_THRESHOLD:
		if (best_key < c->threshold)
			reason = BALLOT_NO_THRESHOLD;
		else if (g == NULL)
			reason = BALLOT_NO_TIE;
		break;
	case BALLOT_POLICY_WEIGHTED:
		if (g == NULL || 2 * g->weight <= t->total_weight)
			reason = BALLOT_NO_WEIGHTED_MAJORITY;
		break;
	default:
		BALLOT_UNREACHABLE();
	}
	r->reason = reason;
	if (reason == BALLOT_WINNER)
		set_winner_group(r, t, g);
}

static void sort_doubles(double *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		double x = v[i];
		unsigned j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* (a + b) / 2 without overflow for huge values and without losing tiny ones (halving each
 * first would turn the smallest subnormals into 0), as C++'s std::midpoint. */
static double midpoint(double a, double b)
{
	if (fabs(a) <= DBL_MAX / 2 && fabs(b) <= DBL_MAX / 2)
		return (a + b) / 2;
	return a / 2 + b / 2;
}

/* Median or mid-value select over the answers, then verdicts by distance to the result. */
static void decide_by_value(ballot_vote_result *r, const ballot_tally *t)
{
	if (2 * t->answered <= t->electorate) {
		r->reason = BALLOT_NO_TOO_FEW;
		return;
	}
	double v[BALLOT_VOTE_MODULES_MAX];
	unsigned k = t->answered;
	for (unsigned a = 0; a < k; a++)
		v[a] = t->outputs[t->answers[a]].number;
	sort_doubles(v, k);
	double result;
	if (t->config->policy == BALLOT_POLICY_MEDIAN)
		result = k % 2 ? v[k / 2] : midpoint(v[k / 2 - 1], v[k / 2]);
	else if (k >= 3)
		result = midpoint(v[1], v[k - 2]);
	else
		result = midpoint(v[0], v[k - 1]);
	r->has_winner = true;
	r->reason = BALLOT_WINNER;
	r->winner_number = result;
	r->winner_index = -1;
	for (unsigned a = 0; a < k; a++) {
		int module = t->answers[a];
		double x = t->outputs[module].number;
		if (x == result && r->winner_index < 0)
			r->winner_index = module;
		bool agreed = fabs(x - result) <= t->config->epsilon;
		r->verdicts[module] = agreed ? BALLOT_VERDICT_AGREED : BALLOT_VERDICT_DISSENTED;
	}
}

static void count_support(ballot_vote_result *r, const ballot_tally *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (r->verdicts[i] != BALLOT_VERDICT_AGREED)
			continue;
		r->support_count++;
		r->support_weight += weight_of(t->config, (int)i);
	}
}

int ballot_vote(const ballot_vote_config *config, const ballot_output *outputs, size_t n,
		const bool *excluded, ballot_vote_result *result, ballot_errmsg *em)
{
	int rc = ballot_vote_config_check(config, n, em);
	if (rc != 0)
		return rc;
	/* Only the counters start at zero: answers[] and groups[] are written before they are
	 * read, and zeroing them (2.4 KB) was most of the cost of a vote on small outputs. */
	ballot_tally t;
	t.config = config;
	t.outputs = outputs;
	t.n = n;
	t.answered = 0;
	t.electorate = 0;
	t.total_weight = 0;
	t.group_count = 0;
	rc = tally_answers(&t, excluded, em);
	if (rc != 0)
		return rc;

	memset(result, 0, sizeof *result);
	result->n = n;
	result->winner_index = -1;
	result->winner_number = NAN;
	result->electorate = t.electorate;
	result->answered = t.answered;
	result->total_weight = t.total_weight;
	for (size_t i = 0; i < n; i++) {
		if (excluded != NULL && excluded[i])
			result->verdicts[i] = BALLOT_VERDICT_EXCLUDED;
		else if (!answered(&outputs[i]))
			result->verdicts[i] = BALLOT_VERDICT_FAILED;
	}
	if (t.answered == 0) {
		result->reason = BALLOT_NO_ALL_FAILED;
		return 0;
	}
	if (ballot_policy_is_numeric(config->policy))
		decide_by_value(result, &t);
	else
		decide_by_groups(result, &t);
	count_support(result, &t);
	return 0;
}
