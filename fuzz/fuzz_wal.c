/* libFuzzer target for storage recovery: arbitrary bytes as a log segment, a hard state
 * file or a snapshot in a simulated data directory, or as edits to a real directory, or as
 * a script of appends, syncs, truncations, crashes and bit flips. The first input byte
 * picks the mode.
 *
 * Beyond "no crash, no sanitizer report", recovery must answer 0 or BALLOT_ECORRUPT (never
 * another code on hostile bytes), and when it succeeds its repairs must be final: a second
 * open finds nothing to repair and the same state, and an inspection calls it healthy. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/fs.h"
#include "ballot/storage.h"
#include "storage/storage_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIR "/d"

static void require(int ok, const char *what, const char *detail)
{
	if (!ok) {
		fprintf(stderr, "fuzz_wal: property broken: %s (%s)\n", what, detail);
		abort();
	}
}

static void put_file(ballot_fs_sim *sim, const char *name, const void *bytes, size_t len)
{
	char path[256];
	snprintf(path, sizeof path, DIR "/%s", name);
	ballot_errmsg em;
	require(ballot_fs_sim_write_file(sim, path, bytes, len, &em) == 0, "fixture written", em.text);
}

static void put_hard_state(ballot_fs_sim *sim)
{
	unsigned char file[HS_FILE_BYTES];
	hs_slot v = {.seq = 3, .hs = {.term = 5, .vote = 1, .commit = 2}};
	hs_slot_encode(file, 0, &v);
	hs_slot_encode(file + HS_SLOT_BYTES, 1, &v);
	put_file(sim, HS_NAME, file, sizeof file);
}

static uint64_t entry_sum(const ballot_storage_recovery *rec)
{
	uint64_t sum = rec->state.entry_count;
	for (size_t i = 0; i < rec->state.entry_count; i++) {
		const ballot_entry *e = &rec->state.entries[i];
		sum = sum * 31 + e->index * 7 + e->term;
		for (size_t b = 0; e->data != NULL && b < e->data->len; b++)
			sum = sum * 131 + e->data->data[b];
	}
	return sum;
}

/* Opens the directory; on success checks that a second open and an inspection agree. */
static void recover_and_check(ballot_fs_sim *sim, bool corruption_allowed)
{
	ballot_fs *fs = ballot_fs_sim_fs(sim);
	ballot_storage_options o;
	ballot_storage_options_default(&o);
	o.segment_bytes = BALLOT_WAL_SEGMENT_BYTES_MIN;
	ballot_storage *s = NULL;
	ballot_storage_recovery rec;
	ballot_errmsg em = {{0}};

	/* Read-only first: it must agree with the writer about health. */
	ballot_storage_report rep;
	int rc_inspect = ballot_storage_inspect(fs, DIR, NULL, &rep, &em);
	require(rc_inspect == 0 || rc_inspect == BALLOT_ECORRUPT, "inspection answers ok or corrupt", em.text);

	int rc = ballot_storage_open(fs, DIR, &o, &s, &rec, &em);
	require(rc == 0 || rc == BALLOT_ECORRUPT, "recovery answers ok or corrupt", em.text);
	require(rc == rc_inspect, "inspection and recovery agree", em.text);
	require(rc == 0 || corruption_allowed, "no corruption without damage", em.text);
	if (rc != 0) {
		ballot_storage_recovery_free(&rec);
		return;
	}
	uint64_t sum = entry_sum(&rec);
	uint64_t snap = rec.state.snap_index;
	size_t count = rec.state.entry_count;
	ballot_hard_state hs = rec.state.hard_state;
	for (size_t i = 0; i < count; i++)
		require(rec.state.entries[i].index == snap + 1 + i, "entries follow the snapshot in order", "");
	ballot_storage_status st;
	ballot_storage_status_get(s, &st);
	require(st.last_index == snap + count, "status agrees with the recovery", "");
	ballot_storage_close(s);
	ballot_storage_recovery_free(&rec);

	rc = ballot_storage_open(fs, DIR, &o, &s, &rec, &em);
	require(rc == 0, "a repaired directory opens", em.text);
	require(rec.warning_count == 0, "a repaired directory needs no repair", rec.warnings[0]);
	require(rec.state.snap_index == snap && rec.state.entry_count == count && entry_sum(&rec) == sum,
		"a second open recovers the same log", "");
	require(rec.state.hard_state.term == hs.term && rec.state.hard_state.vote == hs.vote,
		"a second open recovers the same hard state", "");
	ballot_storage_close(s);
	ballot_storage_recovery_free(&rec);
	require(ballot_storage_inspect(fs, DIR, NULL, &rep, &em) == 0, "a repaired directory inspects healthy",
		em.text);
}

/* A small valid directory written by the storage itself: 30 entries, a snapshot at 10. */
static void build_directory(ballot_fs_sim *sim)
{
	ballot_fs *fs = ballot_fs_sim_fs(sim);
	ballot_storage_options o;
	ballot_storage_options_default(&o);
	o.segment_bytes = BALLOT_WAL_SEGMENT_BYTES_MIN;
	ballot_storage *s = NULL;
	ballot_storage_recovery rec;
	ballot_errmsg em;
	require(ballot_storage_open(fs, DIR, &o, &s, &rec, &em) == 0, "fixture opens", em.text);
	ballot_storage_recovery_free(&rec);
	ballot_hard_state hs = {.term = 2, .vote = 1, .commit = 20};
	require(ballot_storage_save_hard_state(s, &hs, &em) == 0, "fixture hard state", em.text);
	for (uint64_t i = 1; i <= 30; i++) {
		char text[200];
		int n = snprintf(text, sizeof text, "entry %llu %.*s", (unsigned long long)i, (int)(i * 5 % 150),
				 "................................................................................"
				 "......................................................................");
		ballot_rbuf *b = ballot_rbuf_new(text, (size_t)n);
		ballot_entry e = {.index = i, .term = i < 15 ? 1 : 2, .type = BALLOT_ENTRY_NORMAL, .data = b};
		require(ballot_storage_append(s, &e, 1, &em) == 0, "fixture append", em.text);
		ballot_rbuf_unref(b);
		if (i % 7 == 0)
			require(ballot_storage_sync(s, &em) == 0, "fixture sync", em.text);
	}
	require(ballot_storage_sync(s, &em) == 0, "fixture sync", em.text);
	ballot_config c = {.count = 1};
	c.members[0] = (ballot_member){.id = 1, .role = BALLOT_MEMBER_VOTER};
	ballot_rbuf *b = ballot_rbuf_new("snapshot", 8);
	require(ballot_storage_save_snapshot(s, 10, 1, &c, b, &em) == 0, "fixture snapshot", em.text);
	ballot_rbuf_unref(b);
	ballot_storage_close(s);
}

/* Mode: records with valid checksums but fuzzed fields (index, term, type, version,
 * flags, durable offset, length), so the checks behind the checksum are reached. */
static void fuzz_records(ballot_fs_sim *sim, const uint8_t *data, size_t size)
{
	put_hard_state(sim);
	size_t cap = SEG_HEADER_BYTES + 16 * 1024;
	unsigned char *seg = calloc(1, cap);
	if (seg == NULL)
		return;
	size_t at = SEG_HEADER_BYTES;
	uint64_t index = 1, term = 1;
	for (size_t i = 0; i + 6 <= size; i += 6) {
		const uint8_t *f = data + i;
		uint32_t len = f[1] % 64;
		if (at + rec_size(len) > cap)
			break;
		rec_header h = {.magic = REC_MAGIC, .version = STORAGE_VERSION, .rtype = REC_TYPE_ENTRY,
				.etype = BALLOT_ENTRY_NORMAL, .len = len, .durable = SEG_HEADER_BYTES,
				.index = index, .term = term};
		switch (f[0] % 8) { /* mostly valid, sometimes one field off */
		case 0: h.index = index + (f[2] % 3) - 1; break;
		case 1: h.term = term - (f[2] % 2); break;
		case 2: h.etype = f[2]; break;
		case 3: h.version = f[2]; break;
		case 4: h.flags = f[2]; break;
		case 5: h.durable = (uint32_t)(at + (f[2] % 3) * 8); break;
		default: break;
		}
		unsigned char payload[64];
		memset(payload, f[3], sizeof payload);
		rec_encode(seg + at, &h, payload);
		at += rec_size(len);
		index = h.index + 1;
		term = h.term + (f[4] % 2);
		if (f[5] % 16 == 0)
			at += 8; /* a gap of zeros */
	}
	seg_header_encode(seg, 1, cap);
	put_file(sim, "00000000000000000001.wal", seg, cap);
	free(seg);
	recover_and_check(sim, true);
}

/* Mode: edits to a real directory: (file, offset, xor) triples. */
static void fuzz_edits(ballot_fs_sim *sim, const uint8_t *data, size_t size)
{
	build_directory(sim);
	ballot_fs_names names;
	ballot_errmsg em;
	require(ballot_fs_list(ballot_fs_sim_fs(sim), DIR, &names, &em) == 0, "list", em.text);
	bool edited = false;
	for (size_t at = 0; at + 4 <= size && names.count > 0; at += 4) {
		char path[256];
		snprintf(path, sizeof path, DIR "/%s", names.names[data[at] % names.count]);
		unsigned char *bytes;
		size_t len;
		if (ballot_fs_sim_read_file(sim, path, &bytes, &len, &em) != 0 || len == 0) {
			free(bytes);
			continue;
		}
		size_t off = ((size_t)data[at + 1] << 8 | data[at + 2]) % len;
		if (data[at + 3] != 0) {
			bytes[off] ^= data[at + 3];
			edited = true;
		}
		require(ballot_fs_sim_write_file(sim, path, bytes, len, &em) == 0, "edit", em.text);
		free(bytes);
	}
	ballot_fs_names_free(&names);
	recover_and_check(sim, edited);
}

/* Mode: a script of operations and crashes over the simulated disk. */
static void fuzz_script(ballot_fs_sim *sim, const uint8_t *data, size_t size)
{
	ballot_fs *fs = ballot_fs_sim_fs(sim);
	ballot_storage_options o;
	ballot_storage_options_default(&o);
	o.segment_bytes = BALLOT_WAL_SEGMENT_BYTES_MIN;
	ballot_storage *s = NULL;
	ballot_storage_recovery rec;
	ballot_errmsg em;
	require(ballot_storage_open(fs, DIR, &o, &s, &rec, &em) == 0, "script opens", em.text);
	uint64_t last = 0, term = 1;
	bool damaged = false;
	for (size_t at = 0; at + 2 <= size && s != NULL; at += 2) {
		uint8_t op = data[at], arg = data[at + 1];
		switch (op % 6) {
		case 0: { /* append arg % 8 + 1 entries of arg * 13 bytes */
			for (unsigned k = 0; k < arg % 8u + 1; k++) {
				ballot_rbuf *b = ballot_rbuf_new(NULL, (size_t)arg * 13);
				if (b == NULL)
					break;
				memset(b->data, arg, b->len);
				ballot_entry e = {.index = last + 1, .term = term, .type = BALLOT_ENTRY_NORMAL, .data = b};
				if (ballot_storage_append(s, &e, 1, &em) == 0)
					last++;
				ballot_rbuf_unref(b);
			}
			break;
		}
		case 1:
			ballot_storage_sync(s, &em);
			break;
		case 2:
			if (last > 0 && ballot_storage_truncate(s, 1 + arg % last, &em) == 0) {
				last = arg % last;
				term++;
			}
			break;
		case 3:
			ballot_fs_sim_fail_after(sim, arg % 6);
			break;
		case 4:
		case 5: {
			ballot_fs_sim_fail_after(sim, UINT64_MAX);
			if (op % 6 == 5 && arg % 4 == 0) { /* a flipped bit somewhere in a segment */
				char path[256];
				snprintf(path, sizeof path, DIR "/%020llu.wal", 1ull);
				damaged |= ballot_fs_sim_flip_random_bit(sim, path, 0, UINT64_MAX, NULL, NULL) == 0;
			}
			static const unsigned hows[] = {BALLOT_FS_SIM_CRASH_POWER, BALLOT_FS_SIM_CRASH_TEAR,
							BALLOT_FS_SIM_CRASH_TEAR | BALLOT_FS_SIM_CRASH_DIR_RANDOM,
							BALLOT_FS_SIM_CRASH_PROCESS};
			ballot_fs_sim_crash(sim, hows[arg % 4]);
			ballot_storage_close(s);
			ballot_storage_recovery_free(&rec);
			s = NULL;
			int rc = ballot_storage_open(fs, DIR, &o, &s, &rec, &em);
			require(rc == 0 || (damaged && rc == BALLOT_ECORRUPT), "recovery after a crash", em.text);
			if (rc == 0) {
				ballot_storage_status st;
				ballot_storage_status_get(s, &st);
				last = st.last_index;
				if (st.last_term > term)
					term = st.last_term;
			}
			break;
		}
		}
	}
	ballot_fs_sim_fail_after(sim, UINT64_MAX);
	ballot_storage_close(s);
	ballot_storage_recovery_free(&rec);
	if (!damaged)
		recover_and_check(sim, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	ballot_fs_sim *sim = NULL;
	if (ballot_fs_sim_new(&sim, size) != 0)
		return 0;
	bool created;
	ballot_errmsg em;
	require(ballot_fs_mkdir(ballot_fs_sim_fs(sim), DIR, &created, &em) == 0, "mkdir", em.text);
	uint8_t mode = data[0];
	data++;
	size--;
	switch (mode % 7) {
	case 0: /* the bytes as a whole segment */
		put_hard_state(sim);
		put_file(sim, "00000000000000000001.wal", data, size);
		recover_and_check(sim, true);
		break;
	case 1: { /* a valid segment header, then the bytes as records */
		put_hard_state(sim);
		unsigned char *seg = malloc(SEG_HEADER_BYTES + size + 1);
		if (seg == NULL)
			break;
		seg_header_encode(seg, 1, SEG_HEADER_BYTES + size);
		memcpy(seg + SEG_HEADER_BYTES, data, size);
		put_file(sim, "00000000000000000001.wal", seg, SEG_HEADER_BYTES + size);
		free(seg);
		recover_and_check(sim, true);
		break;
	}
	case 2: /* the bytes as the hard state */
		put_file(sim, HS_NAME, data, size);
		recover_and_check(sim, true);
		break;
	case 3: /* the bytes as a snapshot */
		put_hard_state(sim);
		put_file(sim, "00000000000000000005.snap", data, size);
		recover_and_check(sim, true);
		break;
	case 4:
		fuzz_edits(sim, data, size);
		break;
	case 5:
		fuzz_records(sim, data, size);
		break;
	default:
		fuzz_script(sim, data, size);
		break;
	}
	ballot_fs_sim_free(sim);
	return 0;
}
