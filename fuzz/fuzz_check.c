/* libFuzzer target: the JSONL history reader, then the checker under tight bounds, then the
 * formatters. Any input must give an error or a verdict, never a crash, a leak or a
 * sanitizer report; and a parsed history's checked result must be self-consistent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/check.h"
#include "common/assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ballot_history *h = NULL;
	if (ballot_history_new(&h) != 0)
		return 0;
	ballot_errmsg em;
	uint64_t bad_line = 0;
	int rc = ballot_history_parse_jsonl(h, (const char *)data, size, &bad_line, &em);
	if (rc != 0) {
		BALLOT_ASSERT(bad_line >= 1);
		BALLOT_ASSERT(strlen(em.text) < sizeof em.text);
	}

	/* Whatever parsed (all of it, or the lines before the error) is checked. */
	ballot_check_limits limits;
	ballot_check_limits_default(&limits);
	limits.steps_max = 20000;
	limits.memory_bytes_max = 8u << 20;
	ballot_check_result r;
	rc = ballot_check(h, &limits, &r, &em);
	BALLOT_ASSERT(rc == 0);
	BALLOT_ASSERT(r.steps <= limits.steps_max);
	BALLOT_ASSERT(r.memory_bytes_peak <= limits.memory_bytes_max);
	size_t ops = ballot_history_op_count(h);
	if (r.verdict == BALLOT_CHECK_NOT_LINEARIZABLE) {
		BALLOT_ASSERT(r.window_len > 0);
		bool has_blocked = false;
		for (size_t i = 0; i < r.window_len; i++) {
			BALLOT_ASSERT(r.window[i] < ops);
			BALLOT_ASSERT(i == 0 || r.window[i - 1] < r.window[i]);
			has_blocked |= r.window[i] == r.blocked_op;
		}
		BALLOT_ASSERT(has_blocked);
	}
	if (r.verdict == BALLOT_CHECK_UNKNOWN)
		BALLOT_ASSERT(r.bound != BALLOT_CHECK_BOUND_NONE);

	char text[512];
	size_t need = ballot_check_explain(h, &r, text, sizeof text);
	BALLOT_ASSERT(strlen(text) == (need < sizeof text ? need : sizeof text - 1));
	for (size_t i = 0; i < ops && i < 64; i++) {
		ballot_history_event_json(h, i, false, text, sizeof text);
		ballot_history_event_json(h, i, true, text, sizeof text);
	}
	ballot_check_result_free(&r);
	ballot_history_free(h);
	return 0;
}
