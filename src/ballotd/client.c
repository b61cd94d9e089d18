/* Redis clients: connections, the RESP2 request stream, and the commands ballotd answers.
 *
 * Requests on one connection are answered in order, whatever order the cluster finishes
 * them in: each request takes a slot in the connection's reply queue, and replies leave
 * from the head as slots fill (pipelining). Data commands go to the key-value state
 * machine through the log (writes) or ReadIndex (reads); the rest are answered here. */
#include <ctype.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ballot/rbuf.h"
#include "ballot/resp.h"
#include "common/assert.h"
#include "common/decimal.h"
#include "kv/glob.h"
#include "ballotd/node_internal.h"


#define READ_CHUNK (64 * 1024)
#define ARGS_ON_STACK 64
#define FLUSH_IOV_MAX 64 /* slots handed to one writev; the rest go in the queued write */

typedef struct out_req {
	uv_write_t req;
	client_conn *c;
	size_t len;
	char data[];
} out_req;

static void maybe_resume(client_conn *c);

/* ---- connection lifetime ------------------------------------------------------------ */

static void free_conn(client_conn *c)
{
	node *n = c->n;
	if (c->prev_conn != NULL)
		c->prev_conn->next_conn = c->next_conn;
	else if (n->clients == c)
		n->clients = c->next_conn;
	if (c->next_conn != NULL)
		c->next_conn->prev_conn = c->prev_conn;
	n->client_count--;
	while (c->head != NULL) {
		reply_slot *s = c->head;
		c->head = s->next;
		ballot_buf_free(&s->data);
		free(s);
	}
	ballot_resp_parser_free(&c->parser);
	ballot_buf_free(&c->in);
	ballot_buf_free(&c->multi);
	free(c);
}

void client_release(client_conn *c)
{
	BALLOT_ASSERT(c->refs > 0);
	if (--c->refs == 0)
		free_conn(c);
}

static void on_closed(uv_handle_t *h)
{
	client_release(h->data);
}

static void close_conn(client_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* ---- replies ------------------------------------------------------------------------ */

static void on_reply_written(uv_write_t *req, int status)
{
	out_req *w = (out_req *)req;
	client_conn *c = w->c;
	c->out_pending -= w->len;
	free(w);
	if (status != 0) {
		close_conn(c);
	} else {
		maybe_resume(c);
	}
	client_release(c);
}

/* Drops `bytes` written from the filled slots at the head of the queue: the slots wholly
 * written (and empty ones) go, a partly written one keeps its rest. */
static void pop_written(client_conn *c, size_t bytes)
{
	while (c->head != NULL && c->head->done) {
		reply_slot *s = c->head;
		if (s->data.len > bytes) {
			ballot_buf_consume(&s->data, bytes);
			return;
		}
		bytes -= s->data.len;
		c->head = s->next;
		ballot_buf_free(&s->data);
		free(s);
		c->slot_count--;
	}
	if (c->head == NULL)
		c->tail = NULL;
}

/* Writes every filled slot at the head of the queue, in order: straight to the socket when
 * nothing is queued before them (the common case: no request, no copy), and what the
 * socket does not take at once as one queued write. */
static void flush(client_conn *c)
{
	if (c->closing)
		return;
	if (c->out_pending == 0) {
		uv_buf_t bufs[FLUSH_IOV_MAX];
		unsigned count = 0;
		for (reply_slot *s = c->head; s != NULL && s->done && count < FLUSH_IOV_MAX; s = s->next) {
			if (s->data.len > 0)
				bufs[count++] = uv_buf_init(s->data.data, (unsigned)s->data.len);
		}
		int written = count > 0 ? uv_try_write((uv_stream_t *)&c->tcp, bufs, count) : 0;
		if (written < 0 && written != UV_EAGAIN) {
			close_conn(c);
			return;
		}
		pop_written(c, written > 0 ? (size_t)written : 0);
	}
	size_t len = 0;
	for (reply_slot *s = c->head; s != NULL && s->done; s = s->next)
		len += s->data.len;
	if (len > 0) {
		out_req *w = malloc(sizeof *w + len);
		if (w == NULL) {
			close_conn(c);
			return;
		}
		size_t at = 0;
		for (reply_slot *s = c->head; s != NULL && s->done; s = s->next) {
			memcpy(w->data + at, s->data.data, s->data.len);
			at += s->data.len;
		}
		pop_written(c, len);
		w->c = c;
		w->len = len;
		c->refs++;
		c->out_pending += len;
		uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
		if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_reply_written) != 0) {
			c->out_pending -= len;
			free(w);
			client_release(c);
			close_conn(c);
			return;
		}
	}
	if (c->close_after_reply && c->head == NULL)
		close_conn(c);
	else
		maybe_resume(c);
}

void client_slot_done(node *n, client_conn *c)
{
	if (c->flush_scheduled)
		return;
	c->flush_scheduled = true;
	c->refs++;
	c->next_flush = n->flush_list;
	n->flush_list = c;
}

void client_flush_all(node *n)
{
	while (n->flush_list != NULL) {
		client_conn *c = n->flush_list;
		n->flush_list = c->next_flush;
		c->flush_scheduled = false;
		flush(c);
		client_release(c);
	}
}

static reply_slot *new_slot(client_conn *c)
{
	reply_slot *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	c->slot_count++;
	ballot_buf_init(&s->data, 0);
	if (c->tail != NULL)
		c->tail->next = s;
	else
		c->head = s;
	c->tail = s;
	return s;
}

/* Answers the current request at once. */
static void reply_now(reply_slot *s, const ballot_buf *b)
{
	if (ballot_buf_append(&s->data, b->data, b->len) != 0)
		ballot_resp_error(&s->data, "ERR out of memory");
	s->done = true;
}

/* ---- commands answered here --------------------------------------------------------- */


static void arity_error(ballot_buf *out, const ballot_resp_arg *cmd)
{
	char name[64];
	size_t len = cmd->len < sizeof name - 1 ? cmd->len : sizeof name - 1;
	for (size_t i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)cmd->data[i]);
	name[len] = '\0';
	ballot_resp_error(out, "ERR wrong number of arguments for '%s' command", name);
}

/* "ERR wrong number of arguments for 'client|setname' command": Redis 7's words for a
 * subcommand's arity; name is lowercase. */
static void subcommand_arity_error(ballot_buf *out, const char *name)
{
	ballot_resp_error(out, "ERR wrong number of arguments for '%s' command", name);
}

/* Whether AUTH's or HELLO AUTH's user (NULL: not given) and password are accepted, as Redis
 * 7.0 with its one user, "default", accepts them. With no --requirepass that user has no
 * password (Redis's "nopass") and any password is accepted. */
static bool password_ok(const node *n, const ballot_resp_arg *user, const ballot_resp_arg *password)
{
	if (user != NULL && !(user->len == 7 && memcmp(user->data, "default", 7) == 0))
		return false; /* user names are case-sensitive */
	const char *want = n->cfg.requirepass;
	if (want[0] == '\0')
		return true;
	return password->len == strlen(want) && memcmp(password->data, want, password->len) == 0;
}

/* Checks a name for CLIENT SETNAME or HELLO SETNAME: Redis's rule (printable ASCII without
 * spaces; "" removes the name), and the room ballot keeps for it. Returns false with the
 * error reply in out. */
static bool name_ok(const client_conn *c, const ballot_resp_arg *name, ballot_buf *out)
{
	for (size_t i = 0; i < name->len; i++) {
		unsigned char ch = (unsigned char)name->data[i];
		if (ch < '!' || ch > '~') {
			ballot_resp_error(out, "ERR Client names cannot contain spaces, newlines or special characters.");
			return false;
		}
	}
	if (name->len >= sizeof c->name) {
		/* Redis has no limit; a name cut short silently would be worse than this. */
		ballot_resp_error(out, "ERR client names are limited to %zu bytes in ballot", sizeof c->name - 1);
		return false;
	}
	return true;
}

static void set_name(client_conn *c, const ballot_resp_arg *name)
{
	BALLOT_ASSERT(name->len < sizeof c->name);
	memcpy(c->name, name->data, name->len);
	c->name[name->len] = '\0';
}

/* HELLO [protover [AUTH user pass] [SETNAME name]], in the order Redis 7.0 checks it: the
 * version, the options, then the client must be authenticated. */
static void cmd_hello(client_conn *c, size_t argc, const ballot_resp_arg *argv, ballot_buf *out)
{
	if (argc >= 2) {
		int64_t version;
		if (!ballot_parse_ll(argv[1].data, argv[1].len, &version)) {
			ballot_resp_error(out, "ERR Protocol version is not an integer or out of range");
			return;
		}
		if (version != 2) {
			/* RESP3 is not spoken: clients (node-redis, ioredis, redis-py) fall back to RESP2. */
			ballot_resp_error(out, "NOPROTO unsupported protocol version");
			return;
		}
	}
	const ballot_resp_arg *name = NULL;
	for (size_t i = 2; i < argc; i++) {
		size_t more = argc - 1 - i;
		if (arg_is(&argv[i], "AUTH") && more >= 2) {
			if (!password_ok(c->n, &argv[i + 1], &argv[i + 2])) {
				ballot_resp_error(out, "WRONGPASS invalid username-password pair or user is disabled.");
				return;
			}
			c->authed = true;
			i += 2;
		} else if (arg_is(&argv[i], "SETNAME") && more >= 1) {
			if (!name_ok(c, &argv[i + 1], out))
				return;
			name = &argv[i + 1];
			i++;
		} else {
			ballot_resp_error(out, "ERR Syntax error in HELLO option '%.*s'", (int)argv[i].len, argv[i].data);
			return;
		}
	}
	if (!c->authed) {
		ballot_resp_error(out, "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
				  "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
				  "the RESP protocol version at the same time");
		return;
	}
	if (name != NULL)
		set_name(c, name);
	ballot_resp_array(out, 14);
	ballot_resp_bulk(out, "server", 6);
	ballot_resp_bulk(out, "redis", 5);
	ballot_resp_bulk(out, "version", 7);
	ballot_resp_bulk(out, "7.0.0", 5);
	ballot_resp_bulk(out, "proto", 5);
	ballot_resp_integer(out, 2);
	ballot_resp_bulk(out, "id", 2);
	ballot_resp_integer(out, (int64_t)c->id);
	ballot_resp_bulk(out, "mode", 4);
	ballot_resp_bulk(out, "standalone", 10);
	ballot_resp_bulk(out, "role", 4);
	ballot_resp_bulk(out, "master", 6);
	ballot_resp_bulk(out, "modules", 7);
	ballot_resp_array(out, 0);
}

/* AUTH [user] password: Redis 7.0's authCommand. */
static void cmd_auth(client_conn *c, size_t argc, const ballot_resp_arg *argv, ballot_buf *out)
{
	if (argc < 2) {
		arity_error(out, &argv[0]);
	} else if (argc > 3) {
		ballot_resp_error(out, "ERR syntax error");
	} else if (argc == 2 && c->n->cfg.requirepass[0] == '\0') {
		ballot_resp_error(out, "ERR AUTH <password> called without any password configured for the "
				  "default user. Are you sure your configuration is correct?");
	} else if (password_ok(c->n, argc == 3 ? &argv[1] : NULL, &argv[argc - 1])) {
		c->authed = true;
		ballot_resp_simple(out, "OK");
	} else {
		ballot_resp_error(out, "WRONGPASS invalid username-password pair or user is disabled.");
	}
}

/* SELECT index: only database 0 exists. Redis 7.0's checks and words, in its order. */
static void cmd_select(size_t argc, const ballot_resp_arg *argv, ballot_buf *out)
{
	int64_t db;
	if (argc != 2)
		arity_error(out, &argv[0]);
	else if (!ballot_parse_ll(argv[1].data, argv[1].len, &db))
		ballot_resp_error(out, "ERR value is not an integer or out of range");
	else if (db < INT32_MIN || db > INT32_MAX)
		ballot_resp_error(out, "ERR value is out of range, value must between -2147483648 and 2147483647");
	else if (db != 0)
		ballot_resp_error(out, "ERR DB index is out of range");
	else
		ballot_resp_simple(out, "OK");
}

static void cmd_client(client_conn *c, size_t argc, const ballot_resp_arg *argv, ballot_buf *out)
{
	if (argc < 2) {
		arity_error(out, &argv[0]);
	} else if (arg_is(&argv[1], "SETNAME")) {
		if (argc != 3)
			subcommand_arity_error(out, "client|setname");
		else if (name_ok(c, &argv[2], out)) {
			set_name(c, &argv[2]);
			ballot_resp_simple(out, "OK");
		}
	} else if (arg_is(&argv[1], "GETNAME")) {
		if (argc != 2)
			subcommand_arity_error(out, "client|getname");
		else if (c->name[0] != '\0')
			ballot_resp_bulk(out, c->name, strlen(c->name));
		else
			ballot_resp_null(out);
	} else if (arg_is(&argv[1], "ID")) {
		if (argc != 2)
			subcommand_arity_error(out, "client|id");
		else
			ballot_resp_integer(out, (int64_t)c->id);
	} else if (arg_is(&argv[1], "SETINFO")) {
		ballot_resp_simple(out, "OK"); /* Redis 7.2's; newer clients send it */
	} else {
		ballot_resp_error(out, "ERR unknown subcommand '%.*s'. Try CLIENT HELP.", (int)argv[1].len, argv[1].data);
	}
}

/* CONFIG GET pattern [pattern ...] over the few parameters clients ask for (redis-benchmark,
 * client libraries); CONFIG RESETSTAT. */
static void cmd_config(size_t argc, const ballot_resp_arg *argv, ballot_buf *out)
{
	if (argc < 2) {
		arity_error(out, &argv[0]);
		return;
	}
	if (arg_is(&argv[1], "RESETSTAT")) {
		ballot_resp_simple(out, "OK");
		return;
	}
	if (!arg_is(&argv[1], "GET")) {
		ballot_resp_error(out, "ERR CONFIG supports only GET and RESETSTAT here");
		return;
	}
	if (argc < 3) {
		subcommand_arity_error(out, "config|get");
		return;
	}
	static const char *const known[][2] = {{"save", ""}, {"appendonly", "yes"}, {"databases", "1"},
					       {"maxmemory", "0"}, {"maxmemory-policy", "noeviction"}};
	enum { KNOWN = sizeof known / sizeof known[0] };
	bool wanted[KNOWN] = {false};
	size_t count = 0;
	for (size_t i = 0; i < KNOWN; i++) {
		for (size_t p = 2; p < argc && !wanted[i]; p++)
			wanted[i] = kv_glob_match((const unsigned char *)argv[p].data, argv[p].len,
						  (const unsigned char *)known[i][0], strlen(known[i][0]));
		count += wanted[i];
	}
	ballot_resp_array(out, 2 * count);
	for (size_t i = 0; i < KNOWN; i++) {
		if (!wanted[i])
			continue;
		ballot_resp_bulk(out, known[i][0], strlen(known[i][0]));
		ballot_resp_bulk(out, known[i][1], strlen(known[i][1]));
	}
}

/* Counts a call of the command (lowercased) for INFO commandstats. Names that do not fit,
 * or a full table, are counted under "other". */
static void count_command(node *n, const ballot_resp_arg *cmd)
{
	char name[24];
	size_t len = cmd->len;
	if (len >= sizeof name)
		len = 0;
	for (size_t i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)cmd->data[i]);
	name[len] = '\0';
	if (len == 0)
		strcpy(name, "other");
	size_t slots = sizeof n->cmdstats / sizeof n->cmdstats[0];
	size_t h = 5381;
	for (size_t i = 0; name[i] != '\0'; i++)
		h = h * 33 + (unsigned char)name[i];
	for (size_t probe = 0; probe < slots; probe++) {
		size_t at = (h + probe) % slots;
		if (n->cmdstats[at].name[0] == '\0')
			strcpy(n->cmdstats[at].name, name);
		if (strcmp(n->cmdstats[at].name, name) == 0) {
			n->cmdstats[at].calls++;
			return;
		}
	}
}

/* Whether INFO's arguments ask for this section: named, or "all"/"everything", or (for the
 * sections Redis shows by default; commandstats is not one) no argument or "default". */
static bool info_wants(size_t argc, const ballot_resp_arg *argv, const char *section)
{
	bool in_default = strcmp(section, "commandstats") != 0;
	if (argc < 2 || arg_is(&argv[1], "default"))
		return in_default;
	if (arg_is(&argv[1], "all") || arg_is(&argv[1], "everything"))
		return true;
	for (size_t i = 1; i < argc; i++) {
		if (arg_is(&argv[i], section))
			return true;
	}
	return false;
}

/* Bytes as Redis's *_human fields write them: 1.50M. */
static void human_bytes(char *out, size_t cap, uint64_t bytes)
{
	static const char units[] = "BKMGTP";
	double v = (double)bytes;
	unsigned u = 0;
	while (v >= 1024 && u + 1 < sizeof units - 1) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%lluB", (unsigned long long)bytes);
	else
		snprintf(out, cap, "%.2f%c", v, units[u]);
}

/* # Memory: what the allocator holds (malloc's, and the log's arena), what is resident. The
 * fields Redis's tools read (redis-cli --stat: used_memory). */
static void info_memory(ballot_buf *text)
{
	struct mallinfo2 mi = mallinfo2();
	size_t chunks = 0, log_bytes = 0;
	ballot_rbuf_arena_stats(&chunks, &log_bytes);
	uint64_t used = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd + log_bytes;
	uint64_t rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long pages_total = 0, pages_resident = 0;
	if (f != NULL) {
		if (fscanf(f, "%llu %llu", &pages_total, &pages_resident) == 2)
			rss = pages_resident * (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	if (mi.uordblks + mi.hblkhd == 0)
		used = rss; /* an allocator that keeps no count (a sanitizer's): what is resident */
	char used_h[32], rss_h[32];
	human_bytes(used_h, sizeof used_h, used);
	human_bytes(rss_h, sizeof rss_h, rss);
	ballot_buf_printf(text, "# Memory\r\nused_memory:%llu\r\nused_memory_human:%s\r\nused_memory_rss:%llu\r\n"
			  "used_memory_rss_human:%s\r\nused_memory_log:%llu\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\n"
			  "maxmemory_policy:noeviction\r\nmem_allocator:libc\r\n\r\n",
			  (unsigned long long)used, used_h, (unsigned long long)rss, rss_h, (unsigned long long)log_bytes);
}

static void cmd_info(client_conn *c, size_t argc, const ballot_resp_arg *argv, ballot_buf *out)
{
	node *n = c->n;
	ballot_buf text;
	ballot_buf_init(&text, 0);
	uint64_t now = node_now_ms();
	if (info_wants(argc, argv, "server"))
		ballot_buf_printf(&text, "# Server\r\nredis_version:7.0.0\r\nballot_version:0.1.0\r\nredis_mode:standalone\r\n"
			  "process_id:%d\r\ntcp_port:%s\r\nuptime_in_seconds:%llu\r\n\r\n",
			  (int)uv_os_getpid(), strrchr(n->cfg.listen, ':') + 1,
			  (unsigned long long)((now - n->started_ms) / 1000));
	if (info_wants(argc, argv, "clients"))
		ballot_buf_printf(&text, "# Clients\r\nconnected_clients:%u\r\nmaxclients:%u\r\nblocked_clients:0\r\n\r\n",
				  n->client_count, n->cfg.clients_max);
	if (info_wants(argc, argv, "memory"))
		info_memory(&text);
	if (info_wants(argc, argv, "stats"))
		ballot_buf_printf(&text, "# Stats\r\ntotal_connections_received:%llu\r\n"
				  "total_commands_processed:%llu\r\nrejected_connections:%llu\r\n"
				  "latest_fork_usec:%llu\r\n\r\n",
				  (unsigned long long)n->connections_total, (unsigned long long)n->commands,
				  (unsigned long long)n->rejected_connections, (unsigned long long)n->snap.fork_us);
	if (info_wants(argc, argv, "commandstats")) {
		ballot_buf_puts(&text, "# Commandstats\r\n");
		for (size_t i = 0; i < sizeof n->cmdstats / sizeof n->cmdstats[0]; i++) {
			if (n->cmdstats[i].name[0] != '\0')
				ballot_buf_printf(&text, "cmdstat_%s:calls=%llu,rejected_calls=0,failed_calls=0\r\n",
						  n->cmdstats[i].name, (unsigned long long)n->cmdstats[i].calls);
		}
		ballot_buf_puts(&text, "\r\n");
	}
	if (info_wants(argc, argv, "persistence")) {
		node_info_persistence(n, &text);
		ballot_buf_puts(&text, "\r\n");
	}
	if (info_wants(argc, argv, "replication")) {
		node_info_replication(n, &text);
		ballot_buf_puts(&text, "\r\n");
	}
	if (info_wants(argc, argv, "keyspace"))
		ballot_buf_printf(&text, "# Keyspace\r\ndb0:keys=%llu,expires=0,avg_ttl=0\r\n",
				  (unsigned long long)ballot_kv_count(n->kv));
	ballot_resp_bulk(out, text.data, text.len);
	ballot_buf_free(&text);
}

/* BALLOT ...: membership and transfer go to the leader through node_submit (a follower
 * forwards them); the rest are answered here. */
static bool cmd_ballot(client_conn *c, size_t argc, const ballot_resp_arg *argv, reply_slot *slot, ballot_buf *out)
{
	if (!admin_is_leaders(argc, argv)) {
		admin_run(c->n, argc, argv, out);
		return false;
	}
	ballot_buf cmd;
	ballot_buf_init(&cmd, 0);
	ballot_resp_array(&cmd, argc);
	for (size_t i = 0; i < argc; i++)
		ballot_resp_bulk(&cmd, argv[i].data, argv[i].len);
	ballot_rbuf *encoded = ballot_rbuf_new(cmd.data, cmd.len);
	ballot_buf_free(&cmd);
	if (encoded == NULL) {
		ballot_resp_error(out, "ERR out of memory");
		return false;
	}
	c->refs++;
	node_submit(c->n, (origin){.conn = c, .slot = slot}, REQ_ADMIN, encoded);
	ballot_rbuf_unref(encoded);
	return true;
}

/* ---- dispatch ----------------------------------------------------------------------- */

/* Calls fn with the arguments as the kv API takes them (pointer and length arrays). */
typedef int (*args_fn)(void *ctx, size_t argc, const char *const *ptrs, const size_t *lens);

static int with_args(size_t argc, const ballot_resp_arg *argv, args_fn fn, void *ctx)
{
	const char *ptrs_stack[ARGS_ON_STACK];
	size_t lens_stack[ARGS_ON_STACK];
	ptrs_stack[0] = NULL; /* argc >= 1, but the compiler cannot know */
	lens_stack[0] = 0;
	const char **ptrs = argc > ARGS_ON_STACK ? malloc(argc * sizeof *ptrs) : ptrs_stack;
	size_t *lens = argc > ARGS_ON_STACK ? malloc(argc * sizeof *lens) : lens_stack;
	int rc = BALLOT_ENOMEM;
	if (ptrs != NULL && lens != NULL) {
		for (size_t i = 0; i < argc; i++) {
			ptrs[i] = argv[i].data;
			lens[i] = argv[i].len;
		}
		rc = fn(ctx, argc, ptrs, lens);
	}
	if (ptrs != ptrs_stack)
		free(ptrs);
	if (lens != lens_stack)
		free(lens);
	return rc;
}

typedef struct encode_ctx {
	ballot_buf *errors; /* Redis's error reply for an unknown command or a bad arity */
	ballot_buf *out;
	ballot_kv_batch *batch; /* or: add to this batch instead of encoding one command */
} encode_ctx;

static int encode_args(void *p, size_t argc, const char *const *ptrs, const size_t *lens)
{
	encode_ctx *e = p;
	int rc = ballot_kv_check(argc, ptrs, lens, e->errors);
	if (rc != 0)
		return rc;
	if (e->batch != NULL)
		return ballot_kv_batch_add(e->batch, argc, ptrs, lens);
	return ballot_kv_encode(argc, ptrs, lens, e->out);
}

/* The error reply for a command that could not be encoded, when the check gave none: rc is
 * BALLOT_ELIMIT (past what one log entry holds) or BALLOT_ENOMEM. */
static void encode_error(ballot_buf *out, int rc, bool in_multi)
{
	if (rc != BALLOT_ELIMIT)
		ballot_resp_error(out, "ERR out of memory");
	else if (in_multi)
		ballot_resp_error(out, "ERR transaction too large: ballot applies at most %u commands and %u bytes "
				  "in one EXEC", BALLOT_KV_BATCH_MAX, BALLOT_KV_ENTRY_MAX_BYTES);
	else
		ballot_resp_error(out, "ERR command too large: ballot takes at most %u arguments and %u bytes in one "
				  "command", BALLOT_KV_ARGS_MAX, BALLOT_KV_ENTRY_MAX_BYTES);
}

/* The command, checked and kv-encoded; NULL with the error reply in errors. */
static ballot_rbuf *encode(size_t argc, const ballot_resp_arg *argv, ballot_buf *errors)
{
	ballot_buf b;
	ballot_buf_init(&b, 0);
	encode_ctx e = {.errors = errors, .out = &b};
	ballot_rbuf *out = NULL;
	int rc = with_args(argc, argv, encode_args, &e);
	if (rc == 0) {
		out = ballot_rbuf_new(b.data, b.len);
		rc = out == NULL ? BALLOT_ENOMEM : 0;
	}
	if (rc != 0 && errors->len == 0)
		encode_error(errors, rc, false);
	ballot_buf_free(&b);
	return out;
}

/* Adds a checked command to the MULTI batch; answers QUEUED or the error (which dooms EXEC,
 * as in Redis). */
static void queue_command(client_conn *c, size_t argc, const ballot_resp_arg *argv, ballot_buf *out)
{
	encode_ctx e = {.errors = out, .batch = &c->batch};
	int rc = with_args(argc, argv, encode_args, &e);
	if (rc == 0) {
		ballot_resp_simple(out, "QUEUED");
		return;
	}
	c->multi_error = true;
	if (out->len == 0)
		encode_error(out, rc, true);
}

static void multi_reset(client_conn *c)
{
	c->in_multi = c->multi_error = false;
	ballot_buf_clear(&c->multi);
}

/* EXEC: the queued commands become one log entry, applied atomically. */
static bool exec_multi(client_conn *c, reply_slot *slot, ballot_buf *out)
{
	bool doomed = c->multi_error;
	uint32_t count = c->batch.count;
	ballot_rbuf *entry = doomed || count == 0 ? NULL : ballot_rbuf_new_unforked(c->multi.data, c->multi.len);
	multi_reset(c);
	if (doomed) {
		ballot_resp_error(out, "EXECABORT Transaction discarded because of previous errors.");
		return false;
	}
	if (count == 0) {
		ballot_resp_array(out, 0);
		return false;
	}
	if (entry == NULL) {
		ballot_resp_error(out, "ERR out of memory");
		return false;
	}
	c->refs++;
	node_submit(c->n, (origin){.conn = c, .slot = slot}, REQ_WRITE, entry);
	ballot_rbuf_unref(entry);
	return true;
}

static void multi_begin(client_conn *c, ballot_buf *out)
{
	if (c->in_multi) {
		ballot_resp_error(out, "ERR MULTI calls can not be nested");
		return;
	}
	ballot_buf_clear(&c->multi);
	if (ballot_kv_batch_begin(&c->batch, &c->multi) != 0) {
		ballot_resp_error(out, "ERR out of memory");
		return;
	}
	c->in_multi = true;
	ballot_resp_simple(out, "OK");
}

/* Runs one request. Returns true if the reply comes later (the slot is in flight). */
static bool dispatch(client_conn *c, size_t argc, const ballot_resp_arg *argv, reply_slot *slot, ballot_buf *out)
{
	node *n = c->n;
	const ballot_resp_arg *cmd = &argv[0];
	n->commands++;
	count_command(n, cmd);
	if (n->cfg.requirepass[0] != '\0' && !c->authed && !arg_is(cmd, "AUTH") && !arg_is(cmd, "HELLO") && !arg_is(cmd, "QUIT")) {
		ballot_resp_error(out, "NOAUTH Authentication required.");
		return false;
	}
	if (c->in_multi && !arg_is(cmd, "EXEC") && !arg_is(cmd, "DISCARD") && !arg_is(cmd, "MULTI") && !arg_is(cmd, "QUIT")) {
		queue_command(c, argc, argv, out);
		return false;
	}
	if (arg_is(cmd, "PING")) {
		if (argc == 1)
			ballot_resp_simple(out, "PONG");
		else if (argc == 2)
			ballot_resp_bulk(out, argv[1].data, argv[1].len);
		else
			arity_error(out, cmd);
	} else if (arg_is(cmd, "ECHO")) {
		if (argc == 2)
			ballot_resp_bulk(out, argv[1].data, argv[1].len);
		else
			arity_error(out, cmd);
	} else if (arg_is(cmd, "QUIT")) {
		ballot_resp_simple(out, "OK");
		c->close_after_reply = true;
	} else if (arg_is(cmd, "SELECT")) {
		cmd_select(argc, argv, out);
	} else if (arg_is(cmd, "AUTH")) {
		cmd_auth(c, argc, argv, out);
	} else if (arg_is(cmd, "HELLO")) {
		cmd_hello(c, argc, argv, out);
	} else if (arg_is(cmd, "COMMAND")) {
		if (argc >= 2 && arg_is(&argv[1], "COUNT"))
			ballot_resp_integer(out, 0);
		else
			ballot_resp_array(out, 0); /* enough for redis-cli: it then completes nothing */
	} else if (arg_is(cmd, "CLIENT")) {
		cmd_client(c, argc, argv, out);
	} else if (arg_is(cmd, "CONFIG")) {
		cmd_config(argc, argv, out);
	} else if (arg_is(cmd, "INFO")) {
		cmd_info(c, argc, argv, out);
	} else if (arg_is(cmd, "MULTI")) {
		multi_begin(c, out);
	} else if (arg_is(cmd, "EXEC")) {
		if (!c->in_multi)
			ballot_resp_error(out, "ERR EXEC without MULTI");
		else
			return exec_multi(c, slot, out);
	} else if (arg_is(cmd, "DISCARD")) {
		if (!c->in_multi) {
			ballot_resp_error(out, "ERR DISCARD without MULTI");
		} else {
			multi_reset(c);
			ballot_resp_simple(out, "OK");
		}
	} else if (arg_is(cmd, "BALLOT")) {
		return cmd_ballot(c, argc, argv, slot, out);
	} else {
		ballot_rbuf *encoded = encode(argc, argv, out);
		if (encoded == NULL)
			return false;
		c->refs++;
		request_kind kind = ballot_kv_is_readonly(cmd->data, cmd->len) ? REQ_READ : REQ_WRITE;
		node_submit(n, (origin){.conn = c, .slot = slot}, kind, encoded);
		ballot_rbuf_unref(encoded);
		return true;
	}
	return false;
}

/* ---- reading ------------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	client_conn *c = h->data;
	(void)suggested;
	if (ballot_buf_reserve(&c->in, READ_CHUNK) != 0) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	*buf = uv_buf_init(c->in.data + c->in.len, READ_CHUNK);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Whether the connection has enough requests in flight or replies unwritten: a client that
 * pipelines without reading its replies is read no further until it catches up, so what
 * the node holds for it stays bounded (BALLOT_CLIENT_INFLIGHT_MAX requests, and half the
 * output limit plus what those requests answer: the limit with room for a whole batch). */
static bool saturated(const client_conn *c)
{
	return c->slot_count >= BALLOT_CLIENT_INFLIGHT_MAX || c->out_pending > BALLOT_CLIENT_OUTPUT_BYTES_MAX / 2;
}

/* Runs the whole requests in the connection's input, in order, until it is drained or the
 * connection is saturated (then the rest waits in the input, and reading stops). */
static void process_input(client_conn *c)
{
	if (c->processing)
		return; /* a reply given while dispatching came back here: the outer call goes on */
	c->processing = true;
	size_t at = 0;
	while (!c->closing && !c->close_after_reply && !saturated(c)) {
		ballot_resp_request req;
		size_t used = 0;
		ballot_errmsg em;
		int rc = ballot_resp_parse(&c->parser, c->in.data + at, c->in.len - at, &used, &req, &em);
		reply_slot *slot = NULL;
		if (rc != 0 || req.argc > 0)
			slot = new_slot(c);
		if (slot == NULL && (rc != 0 || req.argc > 0)) {
			c->processing = false;
			close_conn(c);
			return;
		}
		if (rc != 0) {
			/* Redis replies to a protocol error and closes the connection. */
			ballot_resp_error(&slot->data, "%s", em.text);
			slot->done = true;
			c->close_after_reply = true;
			break;
		}
		at += used;
		if (req.argc == 0)
			break;
		ballot_buf out;
		ballot_buf_init(&out, 0);
		bool later = dispatch(c, req.argc, req.argv, slot, &out);
		if (!later)
			reply_now(slot, &out);
		ballot_buf_free(&out);
	}
	ballot_buf_consume(&c->in, at);
	c->processing = false;
	if (!c->closing && saturated(c) && !c->reading_paused) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading_paused = true;
	}
	flush(c); /* replies given at once; the cluster's come at the end of the turn */
}

/* A saturated connection caught up (replies written, requests answered): run what waits in
 * its input, and read again if that does not saturate it. */
static void maybe_resume(client_conn *c)
{
	if (!c->reading_paused || c->closing || c->processing || c->slot_count > BALLOT_CLIENT_INFLIGHT_MAX / 2 ||
	    c->out_pending > BALLOT_CLIENT_OUTPUT_BYTES_MAX / 4)
		return;
	c->reading_paused = false;
	process_input(c);
	if (!c->reading_paused && !c->closing)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	client_conn *c = s->data;
	(void)buf;
	if (nread < 0) {
		close_conn(c);
		return;
	}
	c->in.len += (size_t)nread;
	process_input(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	node *n = server->data;
	if (status != 0)
		return;
	client_conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return;
	c->n = n;
	c->refs = 1;
	c->id = ++n->next_client_id;
	ballot_resp_parser_init(&c->parser);
	ballot_buf_init(&c->in, 0);
	ballot_buf_init(&c->multi, 0);
	uv_tcp_init(n->loop, &c->tcp);
	c->tcp.data = c;
	c->next_conn = n->clients;
	if (n->clients != NULL)
		n->clients->prev_conn = c;
	n->clients = c;
	n->client_count++;
	n->connections_total++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		close_conn(c);
		return;
	}
	c->authed = n->cfg.requirepass[0] == '\0';
	if (n->client_count > n->cfg.clients_max) {
		n->rejected_connections++;
		reply_slot *s = new_slot(c);
		if (s != NULL) {
			ballot_resp_error(&s->data, "ERR max number of clients reached");
			s->done = true;
			c->close_after_reply = true;
			flush(c);
		} else {
			close_conn(c);
		}
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int client_start(node *n, ballot_errmsg *em)
{
	return node_listen(n, &n->client_listener, n->cfg.listen, 511, on_connection, "clients", em);
}

void client_close_all(node *n)
{
	for (client_conn *c = n->clients; c != NULL; c = c->next_conn)
		close_conn(c);
}
