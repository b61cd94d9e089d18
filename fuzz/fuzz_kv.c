/* libFuzzer target for the replicated key-value state machine: envelope decoding, command
 * entries applied raw, command scripts applied through sessions, snapshot restores (raw,
 * and with a valid checksum so the parser behind it is reached), and the RESP2 reply
 * decoder. The first input byte picks the mode.
 *
 * Beyond "no crash, no sanitizer report", it checks properties that must hold for any
 * input: every reply is one whole, valid RESP2 value; a restored snapshot snapshots back to
 * the same bytes; a replica restored from a snapshot matches the original. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ballot/fsm.h"
#include "ballot/kv.h"
#include "ballot/resp.h"
#include "common/buf.h"

#define SCRIPT_WORDS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_kv: property broken: %s\n", what);
		abort();
	}
}

/* Every reply the store gives must decode as exactly one RESP2 value. */
static void require_one_reply(const ballot_buf *reply)
{
	ballot_resp_value *v = NULL;
	size_t used = 0;
	int rc = ballot_resp_decode_reply(reply->data, reply->len, &v, &used, NULL);
	require(rc == 0 && v != NULL, "a reply decodes");
	require(used == reply->len, "a reply is one value");
	ballot_resp_free(v);
}

static void require_same(const ballot_buf *a, const ballot_buf *b, const char *what)
{
	require(a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0), what);
}

static void fuzz_envelope(const uint8_t *data, size_t size)
{
	ballot_envelope e;
	if (ballot_envelope_decode(data, size, &e, NULL) != 0)
		return;
	require(size >= BALLOT_ENVELOPE_HEADER_BYTES, "a decoded envelope has a header");
	require((const uint8_t *)e.cmd + e.cmd_len == data + size, "the command is the rest");
	ballot_buf b;
	ballot_buf_init(&b, 0);
	require(ballot_envelope_encode(&e, &b) == 0, "an envelope encodes");
	require(b.len == size && memcmp(b.data, data, size) == 0, "envelopes round-trip");
	ballot_buf_free(&b);
}

/* Snapshots a store, restores it into a fresh one, and requires the same bytes back. */
static void require_kv_round_trip(ballot_kv *kv)
{
	ballot_buf snap, again;
	ballot_buf_init(&snap, 0);
	ballot_buf_init(&again, 0);
	require(ballot_kv_snapshot(kv, &snap) == 0, "kv snapshot");
	ballot_kv *copy;
	require(ballot_kv_new(&copy) == 0, "kv new");
	require(ballot_kv_restore(copy, snap.data, snap.len, NULL) == 0, "kv restore of own snapshot");
	require(ballot_kv_snapshot(copy, &again) == 0, "kv snapshot again");
	require_same(&snap, &again, "kv snapshot round-trips");
	ballot_kv_free(copy);
	ballot_buf_free(&snap);
	ballot_buf_free(&again);
}

static void fuzz_raw_entry(const uint8_t *data, size_t size)
{
	ballot_kv *kv;
	require(ballot_kv_new(&kv) == 0, "kv new");
	ballot_buf reply;
	ballot_buf_init(&reply, 0);
	require(ballot_kv_apply(kv, data, size, &reply) == 0, "apply never fails on bad input");
	require_one_reply(&reply);
	ballot_buf_clear(&reply);
	require(ballot_kv_query_entry(kv, data, size, &reply) == 0, "query never fails on bad input");
	require_one_reply(&reply);
	require_kv_round_trip(kv);
	ballot_buf_free(&reply);
	ballot_kv_free(kv);
}

/* Splits one script line at spaces into argv; returns argc. */
static size_t split_line(const char *line, size_t len, const char **argv, size_t *lens)
{
	size_t argc = 0, i = 0;
	while (i < len && argc < SCRIPT_WORDS_MAX) {
		while (i < len && line[i] == ' ')
			i++;
		size_t start = i;
		while (i < len && line[i] != ' ')
			i++;
		if (i > start) {
			argv[argc] = line + start;
			lens[argc] = i - start;
			argc++;
		}
	}
	return argc;
}

/* Runs one script line as a command through the sessions of replica s; the line's first
 * byte picks the client, and a line may be a retry of the previous sequence number. */
static void run_script_line(ballot_sessions *s, ballot_kv *kv, const char *line, size_t len, uint64_t index,
			    uint64_t *seqs)
{
	const char *argv[SCRIPT_WORDS_MAX];
	size_t lens[SCRIPT_WORDS_MAX];
	if (len == 0)
		return;
	unsigned client = (unsigned char)line[0] % 4;
	size_t argc = split_line(line + 1, len - 1, argv, lens);
	if (argc == 0)
		return;
	if (client != 0 && ((unsigned char)line[0] & 0x80) == 0)
		seqs[client]++;
	if (client != 0 && seqs[client] == 0)
		seqs[client] = 1;
	ballot_buf entry, reply;
	ballot_buf_init(&entry, 0);
	ballot_buf_init(&reply, 0);
	ballot_envelope e = {.client_id = client, .seq = seqs[client], .time_ms = index * 100};
	require(ballot_envelope_encode(&e, &entry) == 0, "envelope encode");
	require(ballot_kv_encode(argc, argv, lens, &entry) == 0, "kv encode");
	require(ballot_sessions_apply(s, index, entry.data, entry.len, &reply) == 0, "sessions apply");
	require_one_reply(&reply);
	if (ballot_kv_is_readonly(argv[0], lens[0])) {
		ballot_buf_clear(&reply);
		require(ballot_kv_query(kv, argc, argv, lens, &reply) == 0, "query");
		require_one_reply(&reply);
	}
	ballot_buf_free(&entry);
	ballot_buf_free(&reply);
}

static void fuzz_script(const uint8_t *data, size_t size)
{
	ballot_kv *kv, *kv2;
	ballot_sessions *s, *s2;
	ballot_session_config config = {.ttl_ms = 1000, .sessions_max = 2};
	require(ballot_kv_new(&kv) == 0, "kv new");
	require(ballot_kv_new(&kv2) == 0, "kv new");
	require(ballot_sessions_new(&config, ballot_kv_fsm(kv), &s, NULL) == 0, "sessions new");
	require(ballot_sessions_new(&config, ballot_kv_fsm(kv2), &s2, NULL) == 0, "sessions new");
	const char *text = (const char *)data;
	uint64_t seqs[4] = {0};
	uint64_t index = 0;
	for (size_t start = 0; start < size;) {
		const char *nl = memchr(text + start, '\n', size - start);
		size_t end = nl != NULL ? (size_t)(nl - text) : size;
		run_script_line(s, kv, text + start, end - start, ++index, seqs);
		start = end + 1;
	}
	ballot_buf snap, again;
	ballot_buf_init(&snap, 0);
	ballot_buf_init(&again, 0);
	require(ballot_sessions_snapshot(s, &snap) == 0, "sessions snapshot");
	require(ballot_sessions_restore(s2, snap.data, snap.len, NULL) == 0, "sessions restore");
	require(ballot_sessions_snapshot(s2, &again) == 0, "sessions snapshot again");
	require_same(&snap, &again, "sessions snapshot round-trips");
	ballot_buf_free(&snap);
	ballot_buf_free(&again);
	ballot_sessions_free(s);
	ballot_sessions_free(s2);
	ballot_kv_free(kv);
	ballot_kv_free(kv2);
}

/* Restores data as a snapshot twice: as given, and with a valid checksum appended so the
 * format checks behind the checksum are reached. A snapshot that restores must snapshot
 * back to the same bytes (the format is canonical). */
static void fuzz_restore(const uint8_t *data, size_t size, int sessions)
{
	ballot_kv *kv;
	ballot_sessions *s;
	ballot_session_config config = ballot_session_config_default();
	require(ballot_kv_new(&kv) == 0, "kv new");
	require(ballot_sessions_new(&config, ballot_kv_fsm(kv), &s, NULL) == 0, "sessions new");
	ballot_buf input, again;
	ballot_buf_init(&input, 0);
	ballot_buf_init(&again, 0);
	for (int fixed = 0; fixed < 2; fixed++) {
		ballot_buf_clear(&input);
		ballot_buf_append(&input, data, size);
		if (fixed) {
			uint64_t sum = XXH3_64bits(data, size);
			unsigned char raw[8];
			for (int i = 0; i < 8; i++)
				raw[i] = (unsigned char)(sum >> (8 * i));
			ballot_buf_append(&input, raw, 8);
		}
		int rc = sessions ? ballot_sessions_restore(s, input.data, input.len, NULL)
				  : ballot_kv_restore(kv, input.data, input.len, NULL);
		if (rc != 0)
			continue;
		ballot_buf_clear(&again);
		rc = sessions ? ballot_sessions_snapshot(s, &again) : ballot_kv_snapshot(kv, &again);
		require(rc == 0, "snapshot after restore");
		require_same(&input, &again, "a restored snapshot snapshots back the same");
	}
	ballot_buf_free(&input);
	ballot_buf_free(&again);
	ballot_sessions_free(s);
	ballot_kv_free(kv);
}

static size_t walk(const ballot_resp_value *v)
{
	size_t n = 1;
	if (v->type == BALLOT_RESP_ARRAY) {
		for (size_t i = 0; i < v->count; i++)
			n += walk(&v->items[i]);
	} else if (v->str != NULL) {
		require(v->str[v->len] == '\0', "strings are NUL-terminated");
	}
	return n;
}

static void fuzz_resp(const uint8_t *data, size_t size)
{
	ballot_resp_value *v = NULL;
	size_t used = 0;
	if (ballot_resp_decode_reply(data, size, &v, &used, NULL) != 0 || v == NULL)
		return;
	require(used > 0 && used <= size, "consumed within the input");
	require(walk(v) <= used / 3 + 1, "values are bounded by the input");
	ballot_resp_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	switch (mode % 6) {
	case 0: fuzz_envelope(data, size); break;
	case 1: fuzz_raw_entry(data, size); break;
	case 2: fuzz_script(data, size); break;
	case 3: fuzz_restore(data, size, 0); break;
	case 4: fuzz_restore(data, size, 1); break;
	default: fuzz_resp(data, size); break;
	}
	return 0;
}
