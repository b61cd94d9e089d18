/* `ballot wal`: look at a node's data directory offline (docs/storage.md).
 *
 *   ballot wal check DIR        verify every file and record; a summary; exit 0 healthy,
 *                               1 corrupt or unreadable (the message names file and
 *                               offset), 2 usage
 *   ballot wal dump [--json] DIR  hard state, snapshot, one line per record
 *
 * Neither changes the directory nor takes its lock, so both run beside a live node (what
 * they see is then a moment of a log being written). A hidden `ballot wal init-test DIR`
 * writes a small data directory for the CLI tests. */
#include <stdio.h>
#include <string.h>

#include "ballot/storage.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "common/json.h"

static const char wal_usage[] =
	"usage: ballot wal check [-q] DIR\n"
	"       ballot wal dump [--json] DIR\n"
	"\n"
	"Looks at a ballotd data directory without changing it (no lock is taken).\n"
	"\n"
	"  check   verify the hard state, the snapshot and every log record (checksums,\n"
	"          index continuity, versions); print a summary\n"
	"  dump    print the hard state, the snapshot's metadata and one line per record:\n"
	"          index, term, type, payload length and a printable prefix of the payload\n"
	"\n"
	"options:\n"
	"  -q, --quiet   check: print nothing but errors\n"
	"  --json        dump: one JSON object per line\n"
	"  -h, --help    this text\n"
	"\n"
	"exit status: 0 healthy, 1 damaged or unreadable (the message names the file and\n"
	"byte offset), 2 usage error\n";

enum { PREFIX_BYTES = 24 };

static const char *type_name(uint8_t type)
{
	switch (type) {
	case BALLOT_ENTRY_NORMAL:
		return "normal";
	case BALLOT_ENTRY_CONFIG:
		return "config";
	case BALLOT_ENTRY_NOOP:
		return "noop";
	default:
		return "unknown";
	}
}

/* The first bytes of a payload, printable: ASCII as is, the rest as \xNN. */
static void printable_prefix(const unsigned char *p, size_t len, char *out, size_t cap)
{
	size_t at = 0;
	size_t n = len < PREFIX_BYTES ? len : PREFIX_BYTES;
	for (size_t i = 0; i < n && at + 5 < cap; i++) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
			out[at++] = (char)c;
		else
			at += (size_t)snprintf(out + at, cap - at, "\\x%02x", c);
	}
	if (len > n && at + 4 < cap) {
		memcpy(out + at, "...", 3);
		at += 3;
	}
	out[at] = '\0';
}

/* ---- check -------------------------------------------------------------------------- */

typedef struct check_ctx {
	bool quiet;
} check_ctx;

static void check_segment(void *ctx, const ballot_storage_segment_info *seg)
{
	const check_ctx *c = ctx;
	if (c->quiet)
		return;
	if (seg->records == 0)
		printf("  %s: empty, %llu of %llu bytes\n", seg->file, (unsigned long long)seg->bytes_used,
		       (unsigned long long)seg->bytes);
	else
		printf("  %s: entries %llu..%llu (%llu records), %llu of %llu bytes\n", seg->file,
		       (unsigned long long)seg->first_index, (unsigned long long)seg->last_index,
		       (unsigned long long)seg->records, (unsigned long long)seg->bytes_used,
		       (unsigned long long)seg->bytes);
}

static void print_config(const ballot_config *c)
{
	for (unsigned i = 0; i < c->count; i++)
		printf("%s%llu%s%s%s", i ? ", " : "", (unsigned long long)c->members[i].id,
		       c->members[i].role == BALLOT_MEMBER_LEARNER ? " (learner)" : "",
		       c->members[i].address[0] ? " at " : "", c->members[i].address);
}

static void print_summary(const char *dir, const ballot_storage_report *rep)
{
	printf("data dir: %s\n", dir);
	if (rep->has_hard_state)
		printf("hard state: term %llu, vote %llu, commit %llu (save %llu)\n",
		       (unsigned long long)rep->hard_state.term, (unsigned long long)rep->hard_state.vote,
		       (unsigned long long)rep->hard_state.commit, (unsigned long long)rep->hard_state_sequence);
	if (rep->has_snapshot) {
		printf("snapshot: index %llu, term %llu, %llu bytes, members: ", (unsigned long long)rep->snap_index,
		       (unsigned long long)rep->snap_term, (unsigned long long)rep->snap_data_bytes);
		print_config(&rep->snap_config);
		putchar('\n');
	} else {
		puts("snapshot: none");
	}
	if (rep->records == 0)
		printf("log: %u segment(s), no entries\n", rep->segment_count);
	else
		printf("log: %u segment(s), entries %llu..%llu, terms %llu..%llu, %llu after the snapshot\n",
		       rep->segment_count, (unsigned long long)rep->first_index, (unsigned long long)rep->last_index,
		       (unsigned long long)rep->first_term, (unsigned long long)rep->last_term,
		       (unsigned long long)rep->entries_after_snapshot);
	if (rep->stale_segment_count > 0)
		printf("stale: %u segment(s) the snapshot covers (the next open removes them)\n",
		       rep->stale_segment_count);
}

static void print_warnings(const ballot_storage_report *rep)
{
	for (unsigned i = 0; i < rep->warning_count; i++)
		printf("warning: %s\n", rep->warnings[i]);
	if (rep->warnings_lost > 0)
		printf("warning: %u more\n", rep->warnings_lost);
	if (rep->has_hard_state && rep->records > 0 && !rep->log_discarded && rep->last_term > rep->hard_state.term)
		printf("warning: the log has term %llu, above the hard state's %llu (was the hard state saved "
		       "before the entries?)\n", (unsigned long long)rep->last_term,
		       (unsigned long long)rep->hard_state.term);
}

static int wal_check(const char *dir, bool quiet)
{
	check_ctx c = {.quiet = quiet};
	ballot_storage_visitor v = {.ctx = &c, .segment = check_segment};
	ballot_storage_report rep;
	ballot_errmsg em;
	if (!quiet)
		printf("segments:\n");
	int rc = ballot_storage_inspect(ballot_fs_posix(), dir, &v, &rep, &em);
	if (rc == 0 && rep.empty) {
		cli_error("wal check: %s holds no ballot data (no hard state, no snapshot, no log)", dir);
		return CLI_EXIT_FAILURE;
	}
	if (rc == BALLOT_ECORRUPT) {
		printf("corrupt: %s\n", em.text);
		return CLI_EXIT_FAILURE;
	}
	if (rc != 0) {
		cli_error("wal check: %s", em.text);
		return CLI_EXIT_FAILURE;
	}
	if (!quiet) {
		print_summary(dir, &rep);
		print_warnings(&rep);
		puts(rep.torn_tail || rep.warning_count > 0 ? "healthy (a restart repairs the above)" : "healthy");
	}
	return CLI_EXIT_OK;
}

/* ---- dump ------------------------------------------------------------------------------ */

typedef struct dump_ctx {
	bool json;
	ballot_buf line;
} dump_ctx;

static void emit_json(dump_ctx *d)
{
	if (d->line.len > 0)
		puts(d->line.data);
	ballot_buf_clear(&d->line);
}

static void dump_record(void *ctx, const ballot_storage_record *rec)
{
	dump_ctx *d = ctx;
	char prefix[PREFIX_BYTES * 4 + 8];
	printable_prefix(rec->payload, rec->len, prefix, sizeof prefix);
	if (!d->json) {
		printf("%llu\t%llu\t%s\t%zu\t\"%s\"%s\n", (unsigned long long)rec->index, (unsigned long long)rec->term,
		       type_name(rec->type), rec->len, prefix, rec->covered ? "\t(in the snapshot)" : "");
		return;
	}
	json_writer w;
	json_init(&w, &d->line);
	json_object_begin(&w);
	json_key(&w, "kind");
	json_string(&w, "record");
	json_key(&w, "file");
	json_string(&w, rec->file);
	json_key(&w, "offset");
	json_uint(&w, rec->offset);
	json_key(&w, "index");
	json_uint(&w, rec->index);
	json_key(&w, "term");
	json_uint(&w, rec->term);
	json_key(&w, "type");
	json_string(&w, type_name(rec->type));
	json_key(&w, "len");
	json_uint(&w, rec->len);
	json_key(&w, "prefix");
	json_string_n(&w, rec->payload, rec->len < PREFIX_BYTES ? rec->len : PREFIX_BYTES);
	json_key(&w, "covered");
	json_bool(&w, rec->covered);
	json_object_end(&w);
	emit_json(d);
}

static void dump_segment(void *ctx, const ballot_storage_segment_info *seg)
{
	dump_ctx *d = ctx;
	if (!d->json) {
		printf("# end of %s: %llu records, %llu of %llu bytes\n", seg->file, (unsigned long long)seg->records,
		       (unsigned long long)seg->bytes_used, (unsigned long long)seg->bytes);
		return;
	}
	json_writer w;
	json_init(&w, &d->line);
	json_object_begin(&w);
	json_key(&w, "kind");
	json_string(&w, "segment");
	json_key(&w, "file");
	json_string(&w, seg->file);
	json_key(&w, "first_index");
	json_uint(&w, seg->first_index);
	json_key(&w, "records");
	json_uint(&w, seg->records);
	json_key(&w, "bytes_used");
	json_uint(&w, seg->bytes_used);
	json_key(&w, "bytes");
	json_uint(&w, seg->bytes);
	json_object_end(&w);
	emit_json(d);
}

static void dump_state_json(dump_ctx *d, const ballot_storage_report *rep)
{
	json_writer w;
	json_init(&w, &d->line);
	json_object_begin(&w);
	json_key(&w, "kind");
	json_string(&w, "state");
	json_key(&w, "hard_state");
	json_object_begin(&w);
	json_key(&w, "term");
	json_uint(&w, rep->hard_state.term);
	json_key(&w, "vote");
	json_uint(&w, rep->hard_state.vote);
	json_key(&w, "commit");
	json_uint(&w, rep->hard_state.commit);
	json_object_end(&w);
	json_key(&w, "snapshot");
	if (!rep->has_snapshot) {
		json_null(&w);
	} else {
		json_object_begin(&w);
		json_key(&w, "index");
		json_uint(&w, rep->snap_index);
		json_key(&w, "term");
		json_uint(&w, rep->snap_term);
		json_key(&w, "bytes");
		json_uint(&w, rep->snap_data_bytes);
		json_key(&w, "members");
		json_array_begin(&w);
		for (unsigned i = 0; i < rep->snap_config.count; i++) {
			const ballot_member *m = &rep->snap_config.members[i];
			json_object_begin(&w);
			json_key(&w, "id");
			json_uint(&w, m->id);
			json_key(&w, "role");
			json_string(&w, m->role == BALLOT_MEMBER_LEARNER ? "learner" : "voter");
			json_key(&w, "address");
			json_string(&w, m->address);
			json_object_end(&w);
		}
		json_array_end(&w);
		json_object_end(&w);
	}
	json_object_end(&w);
	emit_json(d);
}

static void dump_state_text(const ballot_storage_report *rep)
{
	printf("# hard state: term %llu, vote %llu, commit %llu\n", (unsigned long long)rep->hard_state.term,
	       (unsigned long long)rep->hard_state.vote, (unsigned long long)rep->hard_state.commit);
	if (!rep->has_snapshot) {
		puts("# snapshot: none");
		return;
	}
	printf("# snapshot: index %llu, term %llu, %llu bytes, members: ", (unsigned long long)rep->snap_index,
	       (unsigned long long)rep->snap_term, (unsigned long long)rep->snap_data_bytes);
	print_config(&rep->snap_config);
	putchar('\n');
}

static int wal_dump(const char *dir, bool json)
{
	dump_ctx d = {.json = json};
	ballot_buf_init(&d.line, 0);
	ballot_storage_report rep;
	ballot_errmsg em;
	/* Two passes: the state first (the walk reads it before the records, but reports it
	 * at the end), then the records. */
	int rc = ballot_storage_inspect(ballot_fs_posix(), dir, NULL, &rep, &em);
	if (rep.has_hard_state && json)
		dump_state_json(&d, &rep);
	else if (rep.has_hard_state)
		dump_state_text(&rep);
	if (rep.has_hard_state && !json)
		puts("# index\tterm\ttype\tlen\tpayload");
	if (rep.has_hard_state) {
		ballot_storage_visitor v = {.ctx = &d, .segment = dump_segment, .record = dump_record};
		rc = ballot_storage_inspect(ballot_fs_posix(), dir, &v, &rep, &em);
	}
	ballot_buf_free(&d.line);
	fflush(stdout);
	if (rc == 0 && rep.empty) {
		cli_error("wal dump: %s holds no ballot data", dir);
		return CLI_EXIT_FAILURE;
	}
	if (rc != 0) {
		cli_error("wal dump: %s", em.text);
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

/* ---- init-test (hidden): a small data directory for the CLI tests ---------------------- */

static int wal_init_test(const char *dir, uint64_t entries, uint64_t segment_bytes, uint64_t snapshot_at)
{
	ballot_storage_options o;
	ballot_storage_options_default(&o);
	o.segment_bytes = segment_bytes;
	ballot_storage *s = NULL;
	ballot_storage_recovery rec;
	ballot_errmsg em;
	int rc = ballot_storage_open(ballot_fs_posix(), dir, &o, &s, &rec, &em);
	ballot_storage_recovery_free(&rec);
	if (rc != 0) {
		cli_error("wal init-test: %s", em.text);
		return CLI_EXIT_FAILURE;
	}
	ballot_hard_state hs = {.term = 2, .vote = 1, .commit = entries};
	rc = ballot_storage_save_hard_state(s, &hs, &em);
	ballot_storage_status st;
	ballot_storage_status_get(s, &st);
	for (uint64_t i = st.last_index + 1; rc == 0 && i <= st.last_index + entries; i++) {
		char text[128];
		int n = snprintf(text, sizeof text, "SET key%llu value-%llu-%s", (unsigned long long)i,
				 (unsigned long long)i, "abcdefghijklmnopqrstuvwxyz0123456789");
		ballot_rbuf *data = ballot_rbuf_new(text, (size_t)n);
		ballot_entry e = {.index = i, .term = i <= 10 ? 1 : 2, .type = BALLOT_ENTRY_NORMAL, .data = data};
		if (i == 1)
			e.type = BALLOT_ENTRY_NOOP;
		rc = data == NULL ? BALLOT_ENOMEM : ballot_storage_append(s, &e, 1, &em);
		ballot_rbuf_unref(data);
	}
	if (rc == 0)
		rc = ballot_storage_sync(s, &em);
	if (rc == 0 && snapshot_at > 0) {
		ballot_config c = {.count = 3};
		for (unsigned m = 0; m < 3; m++) {
			c.members[m].id = m + 1;
			c.members[m].role = BALLOT_MEMBER_VOTER;
			snprintf(c.members[m].address, sizeof c.members[m].address, "127.0.0.1:%u", 7001 + m);
		}
		ballot_rbuf *data = ballot_rbuf_new("kv snapshot", 11);
		rc = ballot_storage_save_snapshot(s, snapshot_at, snapshot_at <= 10 ? 1 : 2, &c, data, &em);
		ballot_rbuf_unref(data);
	}
	ballot_storage_close(s);
	if (rc != 0) {
		cli_error("wal init-test: %s", em.text);
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

/* ---- arguments ----------------------------------------------------------------------------- */

int cli_wal(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(wal_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *cmd = argv[1];
	bool check = strcmp(cmd, "check") == 0, dump = strcmp(cmd, "dump") == 0;
	bool init = strcmp(cmd, "init-test") == 0;
	if (!check && !dump && !init) {
		cli_error("wal: unknown command '%s' (check, dump); see ballot wal --help", cmd);
		return CLI_EXIT_USAGE;
	}
	bool quiet = false, json = false;
	uint64_t entries = 50, segment_bytes = BALLOT_WAL_SEGMENT_BYTES_MIN, snapshot_at = 0;
	const char *dir = NULL;
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(wal_usage, stdout);
			return CLI_EXIT_OK;
		} else if (check && (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0)) {
			quiet = true;
		} else if (dump && strcmp(arg, "--json") == 0) {
			json = true;
		} else if (init && strcmp(arg, "--entries") == 0 && i + 1 < argc) {
			if (!cli_parse_u64("--entries", argv[++i], 0, 1000000, &entries))
				return CLI_EXIT_USAGE;
		} else if (init && strcmp(arg, "--segment-bytes") == 0 && i + 1 < argc) {
			if (!cli_parse_u64("--segment-bytes", argv[++i], BALLOT_WAL_SEGMENT_BYTES_MIN,
					   BALLOT_WAL_SEGMENT_BYTES_MAX, &segment_bytes))
				return CLI_EXIT_USAGE;
		} else if (init && strcmp(arg, "--snapshot-at") == 0 && i + 1 < argc) {
			if (!cli_parse_u64("--snapshot-at", argv[++i], 0, UINT64_MAX, &snapshot_at))
				return CLI_EXIT_USAGE;
		} else if (arg[0] == '-' && arg[1] != '\0') {
			cli_error("wal %s: unknown option '%s'; see ballot wal --help", cmd, arg);
			return CLI_EXIT_USAGE;
		} else if (dir != NULL) {
			cli_error("wal %s: one data dir at a time ('%s' and '%s')", cmd, dir, arg);
			return CLI_EXIT_USAGE;
		} else {
			dir = arg;
		}
	}
	if (dir == NULL) {
		cli_error("wal %s: which data dir? see ballot wal --help", cmd);
		return CLI_EXIT_USAGE;
	}
	if (check)
		return wal_check(dir, quiet);
	if (dump)
		return wal_dump(dir, json);
	return wal_init_test(dir, entries, segment_bytes, snapshot_at);
}
