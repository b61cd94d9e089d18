/* Scripted scenarios for the Raft core: runs every .txt file in tests/raft_scripts (the language is
 * described in tests/raft_scripts/README.md) against the in-memory cluster of
 * raft_harness.h, one cmocka test per script.
 *
 * A script is a list of steps (time, elections, deliveries, faults, requests) and `expect`
 * lines, the scenario's golden facts. A failing expect prints the script, its line number,
 * the line, what was expected and what the cluster holds.
 *
 *   test_raft_scripts                 every script in BALLOT_RAFT_SCRIPTS_DIR
 *   test_raft_scripts FILE...         only these (to debug one) */
#include <dirent.h>
#include <errno.h>

#include "raft_harness.h"

#ifndef BALLOT_RAFT_SCRIPTS_DIR
#error "tests/CMakeLists.txt defines BALLOT_RAFT_SCRIPTS_DIR (the tests/raft_scripts directory)"
#endif

#define SCRIPT_LINE_MAX 512
#define SCRIPT_WORDS_MAX 40
#define SCRIPTS_MAX 256

typedef struct script {
	const char *path;
	const char *name;
	unsigned line_no;
	char text[SCRIPT_LINE_MAX];
	char *w[SCRIPT_WORDS_MAX];
	unsigned n; /* words on the line */
	bool started;
	rh_cluster c;
} script;

#define SFAIL(s, ...)                                            \
	do {                                                     \
		print_error("%s:%u: %s\n", (s)->name, (s)->line_no, (s)->text); \
		print_error("  " __VA_ARGS__);                   \
		print_error("\n");                               \
		if ((s)->started)                                \
			rh_dump(&(s)->c, stderr);                \
		fail();                                          \
	} while (0)

/* ---- words -------------------------------------------------------------------------------- */

static uint64_t num(script *s, const char *word)
{
	if (word == NULL)
		SFAIL(s, "a number is missing");
	char *end;
	errno = 0;
	unsigned long long v = strtoull(word, &end, 10);
	if (errno != 0 || end == word || *end != '\0' || word[0] == '-')
		SFAIL(s, "'%s' is not a number", word);
	return v;
}

static const char *word(script *s, unsigned i)
{
	if (i >= s->n)
		SFAIL(s, "'%s' needs more arguments", s->w[0]);
	return s->w[i];
}

/* A node id that exists in the cluster. */
static uint64_t node(script *s, const char *w)
{
	uint64_t id = num(s, w);
	if (id == 0 || id > RH_NODES_MAX || !s->c.nodes[id].exists)
		SFAIL(s, "there is no node %s", w);
	return id;
}

static uint64_t up_node(script *s, const char *w)
{
	uint64_t id = node(s, w);
	if (!s->c.nodes[id].up)
		SFAIL(s, "node %s is down", w);
	return id;
}

/* A list of node ids: "2", "1,2,3", or "all" (every node that is up); with any_state, the
 * listed nodes may be down. */
static unsigned nodes_in(script *s, const char *w, uint64_t *ids, bool any_state)
{
	unsigned n = 0;
	if (strcmp(w, "all") == 0) {
		for (uint64_t id = 1; id <= RH_NODES_MAX; id++) {
			if (s->c.nodes[id].exists && s->c.nodes[id].up)
				ids[n++] = id;
		}
		return n;
	}
	char buf[64];
	snprintf(buf, sizeof buf, "%s", w);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t != NULL && n < RH_NODES_MAX; t = strtok_r(NULL, ",", &save))
		ids[n++] = any_state ? node(s, t) : up_node(s, t);
	return n;
}

static unsigned nodes(script *s, const char *w, uint64_t *ids)
{
	return nodes_in(s, w, ids, false);
}

static uint8_t msg_type(script *s, const char *w)
{
	for (uint8_t t = 1; t < BALLOT_MSG_TYPE_COUNT_; t++) {
		if (strcmp(ballot_msg_type_name(t), w) == 0)
			return t;
	}
	SFAIL(s, "unknown message type '%s'", w);
	return 0;
}

static const char *code_name(int rc)
{
	switch (rc) {
	case 0: return "ok";
	case BALLOT_ENOTLEADER: return "notleader";
	case BALLOT_EBUSY: return "busy";
	case BALLOT_ELIMIT: return "limit";
	case BALLOT_EINVAL: return "inval";
	case BALLOT_ENOMEM: return "nomem";
	}
	return "other";
}

/* A command's result against its optional "-> CODE" (default ok). Returns the words before
 * the arrow. */
static unsigned args_before_arrow(script *s, const char **want)
{
	*want = "ok";
	for (unsigned i = 1; i < s->n; i++) {
		if (strcmp(s->w[i], "->") == 0) {
			if (i + 2 != s->n)
				SFAIL(s, "'->' takes one code");
			*want = s->w[i + 1];
			return i;
		}
	}
	return s->n;
}

static void check_code(script *s, const char *want, int rc)
{
	if (strcmp(code_name(rc), want) != 0)
		SFAIL(s, "expected %s, got %s (%d)", want, code_name(rc), rc);
}

/* "from A", "to B", "type T" in any order from word i on. */
static void filters(script *s, unsigned i, unsigned end, uint64_t *from, uint64_t *to, uint8_t *type)
{
	*from = *to = 0;
	*type = 0;
	for (; i < end; i += 2) {
		const char *k = s->w[i];
		const char *v = word(s, i + 1);
		if (strcmp(k, "from") == 0)
			*from = num(s, v);
		else if (strcmp(k, "to") == 0)
			*to = num(s, v);
		else if (strcmp(k, "type") == 0)
			*type = msg_type(s, v);
		else
			SFAIL(s, "expected from/to/type, got '%s'", k);
	}
}

/* ---- setup ---------------------------------------------------------------------------------- */

static bool on_off(script *s, const char *v)
{
	if (strcmp(v, "on") == 0)
		return true;
	if (strcmp(v, "off") == 0)
		return false;
	SFAIL(s, "'%s': expected on or off", v);
	return false;
}

/* nodes N [election=E heartbeat=H prevote=on|off checkquorum=on|off lease=on|off inflight=K
 *          batch=BYTES uncommitted=BYTES chunk=BYTES seed=S learners=ID,ID] */
static void cmd_nodes(script *s)
{
	if (s->started)
		SFAIL(s, "'nodes' comes once, first");
	unsigned n = (unsigned)num(s, word(s, 1));
	if (n == 0 || n > RH_NODES_MAX)
		SFAIL(s, "1 to %d nodes", RH_NODES_MAX);
	ballot_raft_options o;
	ballot_raft_options_default(&o, 1);
	uint64_t seed = 1;
	ballot_config cfg = rh_config_voters(n);
	for (unsigned i = 2; i < s->n; i++) {
		char *eq = strchr(s->w[i], '=');
		if (eq == NULL)
			SFAIL(s, "'%s': expected key=value", s->w[i]);
		*eq = '\0';
		const char *k = s->w[i], *v = eq + 1;
		if (strcmp(k, "election") == 0)
			o.election_ticks = (unsigned)num(s, v);
		else if (strcmp(k, "heartbeat") == 0)
			o.heartbeat_ticks = (unsigned)num(s, v);
		else if (strcmp(k, "prevote") == 0)
			o.pre_vote = on_off(s, v);
		else if (strcmp(k, "checkquorum") == 0)
			o.check_quorum = on_off(s, v);
		else if (strcmp(k, "lease") == 0)
			o.lease_reads = on_off(s, v);
		else if (strcmp(k, "inflight") == 0)
			o.inflight_max = (unsigned)num(s, v);
		else if (strcmp(k, "batch") == 0)
			o.batch_bytes = (size_t)num(s, v);
		else if (strcmp(k, "uncommitted") == 0)
			o.uncommitted_bytes_max = (size_t)num(s, v);
		else if (strcmp(k, "chunk") == 0)
			o.snapshot_chunk_bytes = (size_t)num(s, v);
		else if (strcmp(k, "seed") == 0)
			seed = num(s, v);
		else if (strcmp(k, "learners") == 0) {
			char buf[64];
			snprintf(buf, sizeof buf, "%s", v);
			char *save = NULL;
			for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
				uint64_t id = num(s, t);
				if (id == 0 || id > n)
					SFAIL(s, "learner %s is not among the nodes", t);
				cfg.members[id - 1].role = BALLOT_MEMBER_LEARNER;
			}
		} else
			SFAIL(s, "unknown option '%s'", k);
	}
	rh_init_empty(&s->c, &o, seed);
	s->started = true;
	s->c.n = n;
	for (uint64_t id = 1; id <= n; id++)
		rh_add_node(&s->c, id, &cfg);
}

/* ---- steps ---------------------------------------------------------------------------------- */

static void cmd_tick(script *s)
{
	unsigned times = (unsigned)num(s, word(s, 1));
	if (s->n == 2) {
		rh_tick_n(&s->c, 0, times);
		return;
	}
	uint64_t ids[RH_NODES_MAX];
	unsigned k = nodes(s, word(s, 2), ids);
	for (unsigned t = 0; t < times; t++) {
		for (unsigned i = 0; i < k; i++)
			rh_tick(&s->c, ids[i]);
	}
}

static void cmd_deliver(script *s)
{
	if (s->n == 1 || (s->n == 2 && strcmp(s->w[1], "all") == 0)) {
		rh_deliver_all(&s->c);
		return;
	}
	uint64_t from, to;
	uint8_t type;
	filters(s, 1, s->n, &from, &to, &type);
	rh_deliver(&s->c, from, to, type);
}

static void cmd_drop(script *s)
{
	uint64_t from, to;
	uint8_t type;
	unsigned start = s->n == 2 && strcmp(s->w[1], "all") == 0 ? 2 : 1;
	filters(s, start, s->n, &from, &to, &type);
	rh_drop(&s->c, from, to, type);
}

static void cmd_propose(script *s)
{
	const char *want;
	unsigned end = args_before_arrow(s, &want);
	if (end != 3)
		SFAIL(s, "propose ID DATA [-> CODE]");
	check_code(s, want, rh_propose(&s->c, up_node(s, s->w[1]), s->w[2], NULL));
}

static void cmd_read(script *s)
{
	const char *want;
	unsigned end = args_before_arrow(s, &want);
	if (end != 3)
		SFAIL(s, "read ID REQUEST [-> CODE]");
	check_code(s, want, rh_read(&s->c, up_node(s, s->w[1]), num(s, s->w[2])));
}

static void cmd_compact(script *s)
{
	const char *want;
	unsigned end = args_before_arrow(s, &want);
	if (end != 3)
		SFAIL(s, "compact ID INDEX|applied [-> CODE]");
	uint64_t id = up_node(s, s->w[1]);
	uint64_t index = strcmp(s->w[2], "applied") == 0 ? s->c.nodes[id].applied : num(s, s->w[2]);
	check_code(s, want, rh_compact(&s->c, id, index));
}

/* add-learner ID NEW, promote ID TARGET, remove ID TARGET, transfer ID TARGET */
static void cmd_member(script *s)
{
	const char *want;
	unsigned end = args_before_arrow(s, &want);
	if (end != 3)
		SFAIL(s, "%s ID TARGET [-> CODE]", s->w[0]);
	uint64_t id = up_node(s, s->w[1]);
	uint64_t target = num(s, s->w[2]);
	ballot_raft *r = rh_raft(&s->c, id);
	int rc;
	if (strcmp(s->w[0], "add-learner") == 0) {
		char address[16];
		snprintf(address, sizeof address, "n%llu", (unsigned long long)target);
		rc = ballot_raft_add_learner(r, target, address);
		/* The new server starts (empty) once the leader has accepted it. */
		if (rc == 0 && target >= 1 && target <= RH_NODES_MAX && !s->c.nodes[target].exists)
			rh_add_joiner(&s->c, target, id);
	} else if (strcmp(s->w[0], "promote") == 0) {
		rc = ballot_raft_promote(r, target);
	} else if (strcmp(s->w[0], "remove") == 0) {
		rc = ballot_raft_remove(r, target);
	} else {
		rc = ballot_raft_transfer(r, target);
	}
	rh_process(&s->c, id);
	check_code(s, want, rc);
}

static void cmd_faults(script *s)
{
	const char *c = s->w[0];
	if (strcmp(c, "isolate") == 0) {
		rh_isolate(&s->c, node(s, word(s, 1)));
	} else if (strcmp(c, "cut") == 0) {
		rh_cut(&s->c, node(s, word(s, 1)), node(s, word(s, 2)));
	} else if (strcmp(c, "heal") == 0) {
		rh_heal(&s->c);
	} else if (strcmp(c, "crash") == 0) {
		rh_crash(&s->c, up_node(s, word(s, 1)));
	} else if (strcmp(c, "restart") == 0) {
		uint64_t id = node(s, word(s, 1));
		if (s->c.nodes[id].up)
			SFAIL(s, "node %llu is up", (unsigned long long)id);
		rh_restart(&s->c, id);
		rh_process(&s->c, id);
	}
}

/* ---- expectations -------------------------------------------------------------------------- */

static const char *role_word(rh_cluster *c, uint64_t id)
{
	if (!c->nodes[id].up)
		return "down";
	return ballot_role_name(rh_role(c, id));
}

/* Ids of the members of node id's configuration with this role, "1,2,3" or "-". */
static void members_of(rh_cluster *c, uint64_t id, uint8_t role, char *out, size_t cap)
{
	ballot_raft_status st = rh_status(c, id);
	uint64_t ids[BALLOT_RAFT_MEMBERS_MAX];
	unsigned n = 0;
	for (unsigned m = 0; m < st.config.count; m++) {
		if (st.config.members[m].role == role)
			ids[n++] = st.config.members[m].id;
	}
	for (unsigned i = 1; i < n; i++) { /* sort */
		for (unsigned j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			uint64_t t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	}
	size_t at = 0;
	snprintf(out, cap, "-");
	for (unsigned i = 0; i < n && at < cap; i++)
		at += (size_t)snprintf(out + at, cap - at, "%s%llu", i ? "," : "", (unsigned long long)ids[i]);
}

static void expect_number(script *s, uint64_t id, const char *what, uint64_t want, uint64_t got)
{
	if (want != got)
		SFAIL(s, "node %llu: expected %s %llu, got %llu", (unsigned long long)id, what,
		      (unsigned long long)want, (unsigned long long)got);
}

static void expect_text(script *s, uint64_t id, const char *what, const char *want, const char *got)
{
	if (strcmp(want, got) != 0)
		SFAIL(s, "node %llu: expected %s '%s', got '%s'", (unsigned long long)id, what, want, got);
}

/* expect wire COUNT [from A] [to B] [type T] */
static void expect_wire(script *s)
{
	uint64_t want = num(s, word(s, 2));
	uint64_t from, to;
	uint8_t type;
	filters(s, 3, s->n, &from, &to, &type);
	rh_flush(&s->c);
	uint64_t got = rh_wire_count(&s->c, from, to, type);
	if (got != want)
		SFAIL(s, "expected %llu messages on the wire, got %llu", (unsigned long long)want,
		      (unsigned long long)got);
}

/* expect read ID REQUEST INDEX|refused|pending */
static void expect_read(script *s)
{
	uint64_t id = up_node(s, word(s, 2));
	uint64_t req = num(s, word(s, 3));
	const char *want = word(s, 4);
	const ballot_read_state *rs = rh_read_state(&s->c, id, req);
	char got[64];
	if (rs == NULL)
		snprintf(got, sizeof got, "pending");
	else if (!rs->ok)
		snprintf(got, sizeof got, "refused");
	else
		snprintf(got, sizeof got, "%llu", (unsigned long long)rs->index);
	expect_text(s, id, "read", want, got);
}

/* Joins words from i on with spaces. */
static void join(script *s, unsigned i, char *out, size_t cap)
{
	size_t at = 0;
	out[0] = '\0';
	for (; i < s->n && at < cap; i++)
		at += (size_t)snprintf(out + at, cap - at, "%s%s", at ? " " : "", s->w[i]);
}

static void expect_per_node(script *s, const char *what, uint64_t id)
{
	rh_cluster *c = &s->c;
	char want[SCRIPT_LINE_MAX], got[SCRIPT_LINE_MAX];
	if (strcmp(what, "role") == 0) {
		expect_text(s, id, "role", word(s, 3), role_word(c, id));
		return;
	}
	ballot_raft_status st = rh_status(c, id);
	if (strcmp(what, "term") == 0) {
		expect_number(s, id, "term", num(s, word(s, 3)), st.term);
	} else if (strcmp(what, "follows") == 0) {
		expect_number(s, id, "leader", num(s, word(s, 3)), st.leader);
	} else if (strcmp(what, "commit") == 0) {
		expect_number(s, id, "commit", num(s, word(s, 3)), st.commit);
	} else if (strcmp(what, "last") == 0) {
		expect_number(s, id, "last index", num(s, word(s, 3)), st.last_index);
	} else if (strcmp(what, "snap") == 0) {
		expect_number(s, id, "snapshot index", num(s, word(s, 3)), st.snap_index);
	} else if (strcmp(what, "vote") == 0) {
		expect_number(s, id, "vote", num(s, word(s, 3)), st.vote);
	} else if (strcmp(what, "log") == 0) {
		join(s, 3, want, sizeof want);
		if (strcmp(want, "-") == 0)
			want[0] = '\0';
		rh_log_terms(c, id, got, sizeof got);
		expect_text(s, id, "log terms", want, got);
	} else if (strcmp(what, "applied") == 0) {
		const char *w = word(s, 3);
		expect_text(s, id, "applied", strcmp(w, "-") == 0 ? "" : w, rh_sm(c, id));
	} else if (strcmp(what, "voters") == 0 || strcmp(what, "learners") == 0) {
		members_of(c, id, what[0] == 'v' ? BALLOT_MEMBER_VOTER : BALLOT_MEMBER_LEARNER, got, sizeof got);
		expect_text(s, id, what, word(s, 3), got);
	} else {
		SFAIL(s, "unknown expectation '%s'", what);
	}
}

/* expect leader ID [term T] | expect WHAT IDS VALUE... */
static void cmd_expect(script *s)
{
	const char *what = word(s, 1);
	rh_flush(&s->c);
	if (strcmp(what, "wire") == 0) {
		expect_wire(s);
		return;
	}
	if (strcmp(what, "read") == 0) {
		expect_read(s);
		return;
	}
	if (strcmp(what, "leader") == 0) {
		uint64_t id = node(s, word(s, 2));
		expect_text(s, id, "role", "leader", role_word(&s->c, id));
		if (s->n == 5 && strcmp(s->w[3], "term") == 0)
			expect_number(s, id, "term", num(s, s->w[4]), rh_term(&s->c, id));
		else if (s->n != 3)
			SFAIL(s, "expect leader ID [term T]");
		return;
	}
	uint64_t ids[RH_NODES_MAX];
	unsigned k = nodes_in(s, word(s, 2), ids, strcmp(what, "role") == 0); /* "down" is a role */
	word(s, 3);
	for (unsigned i = 0; i < k; i++)
		expect_per_node(s, what, ids[i]);
}

/* ---- the runner ----------------------------------------------------------------------------- */

static void step(script *s)
{
	const char *c = s->w[0];
	if (strcmp(c, "nodes") == 0) {
		cmd_nodes(s);
		return;
	}
	if (!s->started)
		SFAIL(s, "the first step must be 'nodes N'");
	if (strcmp(c, "tick") == 0)
		cmd_tick(s);
	else if (strcmp(c, "run") == 0)
		rh_run(&s->c, (unsigned)num(s, word(s, 1)));
	else if (strcmp(c, "campaign") == 0)
		rh_campaign(&s->c, up_node(s, word(s, 1)));
	else if (strcmp(c, "elect") == 0)
		rh_elect(&s->c, up_node(s, word(s, 1)));
	else if (strcmp(c, "deliver") == 0)
		cmd_deliver(s);
	else if (strcmp(c, "drop") == 0)
		cmd_drop(s);
	else if (strcmp(c, "isolate") == 0 || strcmp(c, "cut") == 0 || strcmp(c, "heal") == 0 ||
		 strcmp(c, "crash") == 0 || strcmp(c, "restart") == 0)
		cmd_faults(s);
	else if (strcmp(c, "propose") == 0)
		cmd_propose(s);
	else if (strcmp(c, "read") == 0)
		cmd_read(s);
	else if (strcmp(c, "compact") == 0)
		cmd_compact(s);
	else if (strcmp(c, "add-learner") == 0 || strcmp(c, "promote") == 0 || strcmp(c, "remove") == 0 ||
		 strcmp(c, "transfer") == 0)
		cmd_member(s);
	else if (strcmp(c, "expect") == 0)
		cmd_expect(s);
	else if (strcmp(c, "dump") == 0)
		rh_dump(&s->c, stderr);
	else
		SFAIL(s, "unknown step '%s'", c);
}

/* Splits the line into words; a '#' starts a comment. */
static void split(script *s, char *line)
{
	char *hash = strchr(line, '#');
	if (hash != NULL)
		*hash = '\0';
	s->n = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (s->n == SCRIPT_WORDS_MAX)
			SFAIL(s, "more than %d words", SCRIPT_WORDS_MAX);
		s->w[s->n++] = t;
	}
}

static void run_script(void **state)
{
	script *s = *state;
	FILE *f = fopen(s->path, "r");
	if (f == NULL)
		SFAIL(s, "cannot open %s: %s", s->path, strerror(errno));
	char line[SCRIPT_LINE_MAX];
	bool first = true;
	while (fgets(line, sizeof line, f) != NULL) {
		s->line_no++;
		line[strcspn(line, "\r\n")] = '\0';
		snprintf(s->text, sizeof s->text, "%s", line);
		if (first && strncmp(line, "# ", 2) != 0) {
			fclose(f);
			SFAIL(s, "the first line must be a comment naming the rule or section it checks");
		}
		first = false;
		snprintf(rh_where, sizeof rh_where, "%s:%u: %s", s->name, s->line_no, s->text);
		split(s, line);
		if (s->n > 0)
			step(s);
	}
	fclose(f);
	rh_where[0] = '\0';
	if (s->line_no == 0)
		SFAIL(s, "empty script");
}

static int script_teardown(void **state)
{
	script *s = *state;
	if (s->started)
		rh_free(&s->c);
	s->started = false;
	rh_where[0] = '\0';
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	static char *paths[SCRIPTS_MAX];
	size_t n = 0;
	if (argc > 1) {
		for (int i = 1; i < argc && n < SCRIPTS_MAX; i++)
			paths[n++] = argv[i];
	} else {
		DIR *d = opendir(BALLOT_RAFT_SCRIPTS_DIR);
		if (d == NULL) {
			fprintf(stderr, "test_raft_scripts: cannot open %s: %s\n", BALLOT_RAFT_SCRIPTS_DIR, strerror(errno));
			return 1;
		}
		for (struct dirent *e = readdir(d); e != NULL && n < SCRIPTS_MAX; e = readdir(d)) {
			size_t len = strlen(e->d_name);
			if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
				continue;
			size_t cap = sizeof BALLOT_RAFT_SCRIPTS_DIR + len + 2;
			paths[n] = malloc(cap);
			if (paths[n] == NULL)
				return 1;
			snprintf(paths[n], cap, "%s/%s", BALLOT_RAFT_SCRIPTS_DIR, e->d_name);
			n++;
		}
		closedir(d);
		qsort(paths, n, sizeof *paths, by_name);
	}
	if (n == 0) {
		fprintf(stderr, "test_raft_scripts: no scripts\n");
		return 1;
	}
	static script scripts[SCRIPTS_MAX];
	static struct CMUnitTest tests[SCRIPTS_MAX];
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(paths[i], '/');
		scripts[i].path = paths[i];
		scripts[i].name = slash != NULL ? slash + 1 : paths[i];
		tests[i] = (struct CMUnitTest){.name = scripts[i].name, .test_func = run_script,
					       .teardown_func = script_teardown, .initial_state = &scripts[i]};
	}
	int failed = _cmocka_run_group_tests("raft_scripts", tests, n, NULL, NULL);
	if (argc <= 1) {
		for (size_t i = 0; i < n; i++)
			free(paths[i]);
	}
	return failed;
}
