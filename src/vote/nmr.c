/* NMR executor: N modules in N threads, a deadline, a vote (see ballot/nmr.h).
 *
 * A run's shared state lives in one heap block with a reference count: one reference for
 * the caller and one per started thread. Whoever drops the last reference frees it, so a
 * module that outlives the deadline never writes into freed memory, and the caller never
 * waits for it. */
#include "ballot/nmr.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/assert.h"

#define NMR_DEADLINE_MS_MAX 3600000u

typedef struct nmr_run nmr_run;

typedef struct nmr_slot {
	nmr_run *run;
	ballot_nmr_module module;
	ballot_nmr_out out;
	int rc;
	bool done;
	uint64_t elapsed_us;
} nmr_slot;

struct nmr_run {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned refs;    /* caller + threads still running */
	unsigned pending; /* modules not yet done */
	void *input;
	size_t input_len;
	size_t n;
	nmr_slot slots[BALLOT_VOTE_MODULES_MAX];
	/* followed by n * output_cap bytes of output buffers, then the input copy */
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void run_free(nmr_run *run)
{
	pthread_cond_destroy(&run->cv);
	pthread_mutex_destroy(&run->mu);
	free(run);
}

/* Drops one reference; the last one frees the run. Called with run->mu held; unlocks it. */
static void run_release_locked(nmr_run *run)
{
	BALLOT_ASSERT(run->refs > 0);
	bool last = --run->refs == 0;
	pthread_mutex_unlock(&run->mu);
	if (last)
		run_free(run);
}

static void *slot_main(void *arg)
{
	nmr_slot *slot = arg;
	nmr_run *run = slot->run;
	uint64_t start = now_us();
	int rc = slot->module.fn(slot->module.ctx, run->input, run->input_len, &slot->out);
	uint64_t elapsed = now_us() - start;
	pthread_mutex_lock(&run->mu);
	slot->rc = rc;
	slot->elapsed_us = elapsed;
	slot->done = true;
	run->pending--;
	pthread_cond_broadcast(&run->cv);
	run_release_locked(run);
	return NULL;
}

static int run_alloc(nmr_run **out, size_t n, const void *input, size_t input_len,
		     size_t output_cap, ballot_errmsg *em)
{
	if (output_cap > (SIZE_MAX - sizeof(nmr_run) - input_len) / n)
		return ballot_errorf(em, BALLOT_ENOMEM, "output buffers too large");
	size_t size = sizeof(nmr_run) + n * output_cap + input_len;
	nmr_run *run = calloc(1, size);
	if (run == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "cannot allocate %zu bytes for an NMR run", size);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&run->cv, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&run->mu, NULL);
	unsigned char *buffers = (unsigned char *)(run + 1);
	run->input = buffers + n * output_cap;
	if (input_len > 0)
		memcpy(run->input, input, input_len);
	run->input_len = input_len;
	run->n = n;
	run->refs = 1;
	for (size_t i = 0; i < n; i++) {
		run->slots[i].run = run;
		run->slots[i].out = (ballot_nmr_out){.data = buffers + i * output_cap, .cap = output_cap};
	}
	*out = run;
	return 0;
}

/* Starts one detached thread per module; a module whose thread cannot start is failed. */
static unsigned start_threads(nmr_run *run, const ballot_nmr_module *modules)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	unsigned started = 0;
	pthread_mutex_lock(&run->mu);
	for (size_t i = 0; i < run->n; i++) {
		nmr_slot *slot = &run->slots[i];
		slot->module = modules[i];
		pthread_t thread;
		if (pthread_create(&thread, &attr, slot_main, slot) != 0) {
			slot->rc = -1;
			slot->done = true;
			continue;
		}
		run->refs++;
		run->pending++;
		started++;
	}
	pthread_mutex_unlock(&run->mu);
	pthread_attr_destroy(&attr);
	return started;
}

/* Waits until every module is done or the deadline passes. Called with run->mu held. */
static void wait_locked(nmr_run *run, unsigned deadline_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += deadline_ms / 1000;
	deadline.tv_nsec += (long)(deadline_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (run->pending > 0) {
		if (pthread_cond_timedwait(&run->cv, &run->mu, &deadline) == ETIMEDOUT)
			break;
	}
}

/* Turns each slot into a vote input. Called with run->mu held, so `done` is stable; a done
 * slot is never written again, so its output may be read after unlocking. */
static void collect_locked(nmr_run *run, ballot_output *outputs, ballot_nmr_result *result)
{
	for (size_t i = 0; i < run->n; i++) {
		nmr_slot *slot = &run->slots[i];
		outputs[i] = ballot_output_failed();
		result->late[i] = !slot->done;
		if (!slot->done)
			continue;
		result->rc[i] = slot->rc;
		result->elapsed_us[i] = slot->elapsed_us;
		if (slot->rc != 0 || slot->out.len > slot->out.cap)
			continue;
		outputs[i] = slot->out.is_number ? ballot_output_number(slot->out.number)
						 : ballot_output_bytes(slot->out.data, slot->out.len);
	}
}

int ballot_nmr_run(ballot_voter *voter, const ballot_nmr_module *modules, const void *input,
		   size_t input_len, unsigned deadline_ms, size_t output_cap, void *winner,
		   size_t winner_cap, ballot_nmr_result *result, ballot_errmsg *em)
{
	size_t n = voter->n;
	if (deadline_ms < 1 || deadline_ms > NMR_DEADLINE_MS_MAX)
		return ballot_errorf(em, BALLOT_EINVAL, "deadline %u ms: must be 1 to %u ms",
				     deadline_ms, NMR_DEADLINE_MS_MAX);
	if (output_cap < 1 || output_cap > BALLOT_VOTE_OUTPUT_MAX_BYTES)
		return ballot_errorf(em, BALLOT_EINVAL, "output capacity %zu: must be 1 to %u bytes",
				     output_cap, BALLOT_VOTE_OUTPUT_MAX_BYTES);
	if (winner_cap < output_cap)
		return ballot_errorf(em, BALLOT_EINVAL, "winner buffer of %zu bytes is smaller than "
				     "the output capacity %zu", winner_cap, output_cap);
	for (size_t i = 0; i < n; i++) {
		if (modules[i].fn == NULL)
			return ballot_errorf(em, BALLOT_EINVAL, "module %zu has no function", i + 1);
	}
	nmr_run *run = NULL;
	int rc = run_alloc(&run, n, input, input_len, output_cap, em);
	if (rc != 0)
		return rc;
	memset(result, 0, sizeof *result);
	if (start_threads(run, modules) == 0) {
		pthread_mutex_lock(&run->mu);
		run_release_locked(run);
		return ballot_errorf(em, BALLOT_EIO, "could not start any module thread");
	}

	ballot_output outputs[BALLOT_VOTE_MODULES_MAX];
	pthread_mutex_lock(&run->mu);
	wait_locked(run, deadline_ms);
	collect_locked(run, outputs, result);
	pthread_mutex_unlock(&run->mu);

	rc = ballot_voter_vote(voter, outputs, &result->vote, NULL, em);
	if (rc == 0 && result->vote.has_winner && result->vote.winner_index >= 0) {
		const ballot_output *w = &outputs[result->vote.winner_index];
		if (w->kind == BALLOT_OUTPUT_BYTES) {
			if (w->len > 0)
				memcpy(winner, w->data, w->len);
			result->winner_len = w->len;
		}
	}
	pthread_mutex_lock(&run->mu);
	run_release_locked(run);
	return rc;
}
