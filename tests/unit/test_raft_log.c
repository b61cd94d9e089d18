/* Unit tests of the Raft core's in-memory log (src/raft/log.h): entries stay where their
 * index says across compactions that move the array's head rather than the entries, and
 * across the move back to the front an append makes; the last config entry at or below an
 * index is known across appends, truncation and compaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "raft/log.h"

static void append(raft_log *log, uint64_t index, uint64_t term, uint8_t type)
{
	ballot_entry e = {.index = index, .term = term, .type = type};
	assert_int_equal(raft_log_append(log, &e), 0);
}

/* Every index from first to last reads back as itself, with the term it was given. */
static void assert_intact(const raft_log *log, uint64_t first, uint64_t last)
{
	assert_int_equal(raft_log_last(log), last);
	assert_null(raft_log_get(log, first - 1));
	for (uint64_t i = first; i <= last; i++) {
		const ballot_entry *e = raft_log_get(log, i);
		assert_non_null(e);
		assert_int_equal(e->index, i);
		assert_int_equal(e->term, 1 + i / 1000);
	}
}

static void entries_stay_in_place_across_compactions_and_appends(void **state)
{
	(void)state;
	raft_log log;
	raft_log_init(&log, 0, 0);
	uint64_t last = 0;
	for (; last < 3000; last++)
		append(&log, last + 1, 1 + (last + 1) / 1000, BALLOT_ENTRY_NORMAL);
	/* Dropped a step at a time, as ballotd trims after a snapshot, while the log grows:
	 * the head moves, and appends bring the entries back to the front when it is half. */
	uint64_t first = 1;
	for (int round = 0; round < 40; round++) {
		raft_log_compact(&log, first + 99);
		first += 100;
		assert_int_equal(raft_log_term(&log, first - 1), 1 + (first - 1) / 1000);
		for (int k = 0; k < 70; k++, last++)
			append(&log, last + 1, 1 + (last + 1) / 1000, BALLOT_ENTRY_NORMAL);
		assert_intact(&log, first, last);
	}
	/* Most of the array dropped, then appends up to its end and past: the live entries go
	 * to the front, the array does not grow. */
	raft_log_compact(&log, last - 100);
	first = last - 99;
	size_t cap = log.cap;
	while (log.head + log.count < cap + 50) {
		append(&log, last + 1, 1 + (last + 1) / 1000, BALLOT_ENTRY_NORMAL);
		last++;
		if (log.head == 0)
			break;
	}
	assert_int_equal(log.head, 0);
	assert_int_equal(log.cap, cap);
	assert_intact(&log, first, last);
	raft_log_truncate_after(&log, last - 10);
	assert_intact(&log, first, last - 10);
	raft_log_compact(&log, last - 10); /* everything */
	assert_int_equal(log.count, 0);
	append(&log, last - 9, 1 + (last - 9) / 1000, BALLOT_ENTRY_NORMAL);
	assert_intact(&log, last - 9, last - 9);
	raft_log_free(&log);
}

static void the_last_config_entry_is_known(void **state)
{
	(void)state;
	raft_log log;
	raft_log_init(&log, 0, 0);
	for (uint64_t i = 1; i <= 20; i++)
		append(&log, i, 1, i == 4 || i == 12 || i == 15 ? BALLOT_ENTRY_CONFIG : BALLOT_ENTRY_NORMAL);
	assert_int_equal(raft_log_config_before(&log, 20), 15);
	assert_int_equal(raft_log_config_before(&log, 99), 15); /* past the end: the last */
	assert_int_equal(raft_log_config_before(&log, 14), 12); /* below the last: looked for */
	assert_int_equal(raft_log_config_before(&log, 11), 4);
	assert_int_equal(raft_log_config_before(&log, 3), 0);
	raft_log_truncate_after(&log, 13); /* 15 is gone: 12 is the last */
	assert_int_equal(raft_log_config_before(&log, 13), 12);
	append(&log, 14, 2, BALLOT_ENTRY_NORMAL);
	assert_int_equal(raft_log_config_before(&log, 14), 12);
	raft_log_compact(&log, 12); /* 12 is in the snapshot: its config is the snapshot's */
	assert_int_equal(raft_log_config_before(&log, 14), 0);
	raft_log_truncate_after(&log, 12);
	assert_int_equal(raft_log_config_before(&log, 12), 0);
	append(&log, 13, 3, BALLOT_ENTRY_CONFIG);
	assert_int_equal(raft_log_config_before(&log, 13), 13);
	raft_log_reset(&log, 40, 3);
	assert_int_equal(raft_log_config_before(&log, 40), 0);
	raft_log_free(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(entries_stay_in_place_across_compactions_and_appends),
		cmocka_unit_test(the_last_config_entry_is_known),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
