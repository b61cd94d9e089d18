/* loadgen: a closed-loop load generator for Redis-protocol servers and etcd's JSON gateway.
 *
 * N connections each send one operation and wait for its reply before sending the next
 * (closed loop), for a warm-up and then a timed window. Every operation completed inside
 * the window has its latency recorded in a log-linear histogram (under 1 % relative error),
 * so the percentiles are of every operation, not of a sample. An operation is one command,
 * or with --wait K one command followed by "WAIT K 0" sent in the same write, the pair
 * timed as one. With --proto etcd an operation is one HTTP/1.1 POST to /v3/kv/put or
 * /v3/kv/range with base64 key and value, on a kept-alive connection.
 *
 * Three modes:
 * - measure (default): ops/s, p50, p99, p99.9, errors; exits 1 if any operation failed.
 * - --fill N: writes keys 0..N-1 once each, --batch keys per MSET, --pipeline operations
 *   in flight per connection; ends when all are acknowledged (fails past --seconds).
 * - --retry: failover. A failed operation (error reply, lost connection, no reply within
 *   --timeout-ms) is retried on a new connection to the next of --ports after a short
 *   back-off. Reports the longest time between two successful operations in the window.
 * With --cpu-pids, the utime+stime of those processes (from /proc/PID/stat) is read at the
 * start and the end of the window and the difference reported.
 *
 * Output: one line of key=value pairs on stdout; diagnostics on stderr.
 * Not a test: bench/compare.sh runs it. See bench/README.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "ballot/resp.h"

#define CLIENTS_MAX 4096
#define PORTS_MAX 8
#define PIDS_MAX 16
#define PIPELINE_MAX 1024
#define BATCH_MAX 1000
#define VALUE_BYTES_MAX (1024u * 1024)
#define KEY_BYTES_MAX 32
#define ERROR_KINDS_MAX 8
#define TICK_MS 5
#define RETRY_BACKOFF_MS 20
#define READ_BUF_BYTES (64u * 1024)
#define HTTP_HEADER_BYTES_MAX (16u * 1024)

/* The histogram: values below SUB_COUNT nanoseconds exactly, above that 64 sub-buckets per
 * power of two (so a bucket is at most 1/64 of its value wide). */
#define SUB_BITS 7
#define SUB_COUNT (1u << SUB_BITS)
#define SUB_HALF (SUB_COUNT / 2)
#define HIST_BUCKETS (SUB_COUNT + 64 * SUB_HALF)

typedef enum proto { PROTO_RESP, PROTO_ETCD } proto;
typedef enum op_kind { OP_SET, OP_GET, OP_INCR } op_kind;
typedef enum phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_DONE } phase;

typedef struct options {
	const char *host;
	int ports[PORTS_MAX];
	unsigned port_count;
	proto proto;
	op_kind op;
	unsigned clients, pipeline, batch, wait_replicas;
	uint64_t keys, fill;
	size_t value_bytes;
	double seconds, warmup;
	unsigned timeout_ms;
	bool retry;
	int pids[PIDS_MAX];
	unsigned pid_count;
	uint64_t seed;
	const char *trace; /* --trace: one line per measured operation */
} options;

typedef struct histogram {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total, max_ns;
} histogram;

/* One operation in flight on a connection: its start and the replies it still awaits. */
typedef struct pending_op {
	uint64_t start_ns;
	unsigned replies_left;
	bool failed;
} pending_op;

struct loadgen;

typedef struct conn {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_timer_t retry_timer;
	struct loadgen *lg;
	unsigned port_index;
	bool open;       /* tcp is initialized and not yet closed */
	bool connected;
	bool dead;       /* failed for good (no --retry) */
	char *in;
	size_t in_len, in_cap;
	pending_op ops[PIPELINE_MAX];
	unsigned op_head, op_count;
	uint64_t rng;
} conn;

typedef struct error_kind {
	char text[96];
	uint64_t count;
} error_kind;

typedef struct loadgen {
	options opt;
	uv_loop_t *loop;
	uv_timer_t tick;
	conn *conns;
	phase phase;
	uint64_t t0_ns, window_start_ns, window_end_ns;
	histogram hist;
	uint64_t ops_ok, ops_failed, attempts_failed;
	uint64_t fill_next, fill_done_ops, fill_total_ops;
	uint64_t last_success_ns, max_gap_ns, max_gap_at_ns;
	double cpu_start_s, cpu_end_s;
	error_kind errors[ERROR_KINDS_MAX];
	char *value;     /* value_bytes of 'x' */
	char *value_b64; /* its base64, for etcd */
	FILE *trace;
	char read_buf[READ_BUF_BYTES];
} loadgen;

static void conn_start(conn *c);
static void conn_fail(conn *c, const char *why);
static void issue_ops(conn *c);

/* --- time, random numbers, histogram ------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: good enough to spread keys, and seeded per connection. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static unsigned hist_index(uint64_t v)
{
	if (v < SUB_COUNT)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - (SUB_BITS - 1);
	unsigned top = (unsigned)(v >> shift); /* in [SUB_HALF, SUB_COUNT) */
	return SUB_COUNT + (shift - 1) * SUB_HALF + (top - SUB_HALF);
}

/* The middle of bucket i, in nanoseconds. */
static double hist_value(unsigned i)
{
	if (i < SUB_COUNT)
		return (double)i;
	unsigned shift = (i - SUB_COUNT) / SUB_HALF + 1;
	unsigned top = (i - SUB_COUNT) % SUB_HALF + SUB_HALF;
	return ((double)top + 0.5) * (double)(1ull << shift);
}

static void hist_record(histogram *h, uint64_t v)
{
	unsigned i = hist_index(v);
	if (i >= HIST_BUCKETS)
		i = HIST_BUCKETS - 1;
	h->counts[i]++;
	h->total++;
	if (v > h->max_ns)
		h->max_ns = v;
}

/* The value at quantile q in [0, 1], in milliseconds; 0 for an empty histogram. */
static double hist_quantile_ms(const histogram *h, double q)
{
	if (h->total == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->total);
	if (rank >= h->total)
		rank = h->total - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen > rank)
			return hist_value(i) / 1e6;
	}
	return (double)h->max_ns / 1e6;
}

/* --- CPU time of the server processes ------------------------------------------------ */

/* utime+stime of pid in seconds, or -1 if /proc/pid/stat cannot be read. */
static double proc_cpu_s(int pid)
{
	char path[64], line[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[n] = '\0';
	/* The command name (field 2) may hold spaces: count fields from after its ')'. */
	char *p = strrchr(line, ')');
	if (p == NULL)
		return -1;
	unsigned long utime = 0, stime = 0;
	/* After ')': state(3) ... utime is field 14, stime 15, so skip fields 3..13. */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
		return -1;
	long ticks = sysconf(_SC_CLK_TCK);
	return (double)(utime + stime) / (double)(ticks > 0 ? ticks : 100);
}

static double pids_cpu_s(const options *o)
{
	double sum = 0;
	for (unsigned i = 0; i < o->pid_count; i++) {
		double s = proc_cpu_s(o->pids[i]);
		if (s < 0) {
			fprintf(stderr, "loadgen: cannot read /proc/%d/stat (did the server exit?)\n", o->pids[i]);
			return -1;
		}
		sum += s;
	}
	return sum;
}

/* --- errors -------------------------------------------------------------------------- */

static void note_error(loadgen *lg, const char *text)
{
	for (unsigned i = 0; i < ERROR_KINDS_MAX; i++) {
		error_kind *k = &lg->errors[i];
		if (k->count == 0)
			snprintf(k->text, sizeof k->text, "%s", text);
		if (strcmp(k->text, text) == 0 || k->count == 0) {
			k->count++;
			return;
		}
	}
}

/* --- request encoding ---------------------------------------------------------------- */

static size_t base64_encode(const void *src, size_t len, char *dst)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = src;
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		dst[o++] = tab[v >> 18 & 63];
		dst[o++] = tab[v >> 12 & 63];
		dst[o++] = tab[v >> 6 & 63];
		dst[o++] = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
		dst[o++] = tab[v >> 18 & 63];
		dst[o++] = tab[v >> 12 & 63];
		dst[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return o;
}

/* A growable byte string for one write; owned by the write request that sends it. */
typedef struct wreq {
	uv_write_t req;
	size_t len, cap;
	char data[];
} wreq;

static wreq *wreq_new(size_t cap)
{
	wreq *w = malloc(sizeof *w + cap);
	if (w == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(2);
	}
	w->len = 0;
	w->cap = cap;
	return w;
}

static void put_bytes(wreq *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		fprintf(stderr, "loadgen: internal error: request buffer too small\n");
		abort();
	}
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

static void put_bulk(wreq *w, const void *p, size_t n)
{
	char head[32];
	int h = snprintf(head, sizeof head, "$%zu\r\n", n);
	put_bytes(w, head, (size_t)h);
	put_bytes(w, p, n);
	put_bytes(w, "\r\n", 2);
}

static void put_array_head(wreq *w, size_t count)
{
	char head[32];
	int h = snprintf(head, sizeof head, "*%zu\r\n", count);
	put_bytes(w, head, (size_t)h);
}

/* SET and GET use key:N; INCR uses counter:N, so it never meets a 100-byte value. */
static size_t key_name(uint64_t k, char out[KEY_BYTES_MAX])
{
	return (size_t)snprintf(out, KEY_BYTES_MAX, "key:%08" PRIu64, k);
}

static size_t counter_name(uint64_t k, char out[KEY_BYTES_MAX])
{
	return (size_t)snprintf(out, KEY_BYTES_MAX, "counter:%08" PRIu64, k);
}

/* Appends one RESP operation on key k (or fill keys [k, k+count)) to w; returns the number
 * of replies it will get. */
static unsigned encode_resp(const loadgen *lg, wreq *w, uint64_t k, unsigned count)
{
	const options *o = &lg->opt;
	char key[KEY_BYTES_MAX];
	if (o->fill != 0 && count > 1) {
		put_array_head(w, 1 + 2 * (size_t)count);
		put_bulk(w, "MSET", 4);
		for (unsigned i = 0; i < count; i++) {
			put_bulk(w, key, key_name(k + i, key));
			put_bulk(w, lg->value, o->value_bytes);
		}
		return 1;
	}
	size_t klen = o->op == OP_INCR ? counter_name(k, key) : key_name(k, key);
	if (o->op == OP_SET) {
		put_array_head(w, 3);
		put_bulk(w, "SET", 3);
		put_bulk(w, key, klen);
		put_bulk(w, lg->value, o->value_bytes);
	} else {
		put_array_head(w, 2);
		put_bulk(w, o->op == OP_GET ? "GET" : "INCR", o->op == OP_GET ? 3 : 4);
		put_bulk(w, key, klen);
	}
	if (o->wait_replicas == 0)
		return 1;
	char n[16];
	put_array_head(w, 3);
	put_bulk(w, "WAIT", 4);
	put_bulk(w, n, (size_t)snprintf(n, sizeof n, "%u", o->wait_replicas));
	put_bulk(w, "0", 1);
	return 2;
}

/* Appends one HTTP request to etcd's v3 gateway to w: a put (SET) or range (GET) of key k,
 * or in fill mode with count > 1 a txn that puts keys [k, k+count). */
static void encode_etcd(const loadgen *lg, wreq *w, uint64_t k, unsigned count)
{
	size_t cap = 64 + (size_t)count * (2 * KEY_BYTES_MAX + strlen(lg->value_b64) + 64);
	wreq *body = wreq_new(cap);
	char key[KEY_BYTES_MAX], key_b64[2 * KEY_BYTES_MAX];
	const char *path = lg->opt.op == OP_SET ? "put" : "range";
	if (count > 1) {
		path = "txn";
		put_bytes(body, "{\"success\":[", 12);
	}
	for (unsigned i = 0; i < count; i++) {
		base64_encode(key, key_name(k + i, key), key_b64);
		char head[128];
		int h = snprintf(head, sizeof head, "%s%s{\"key\":\"%s\"", i > 0 ? "," : "",
				 count > 1 ? "{\"requestPut\":" : "", key_b64);
		put_bytes(body, head, (size_t)h);
		if (lg->opt.op == OP_SET) {
			put_bytes(body, ",\"value\":\"", 10);
			put_bytes(body, lg->value_b64, strlen(lg->value_b64));
			put_bytes(body, "\"", 1);
		}
		put_bytes(body, count > 1 ? "}}" : "}", count > 1 ? 2 : 1);
	}
	if (count > 1)
		put_bytes(body, "]}", 2);
	char head[256];
	int hlen = snprintf(head, sizeof head,
			    "POST /v3/kv/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
			    "Content-Length: %zu\r\n\r\n",
			    path, lg->opt.host, body->len);
	put_bytes(w, head, (size_t)hlen);
	put_bytes(w, body->data, body->len);
	free(body);
}

/* --- reply decoding ------------------------------------------------------------------ */

/* Bytes of the first whole RESP reply in buf, 0 if incomplete, -1 if malformed. Sets
 * *is_error and copies an error's text into err. */
static long decode_resp(const char *buf, size_t len, bool *is_error, char *err, size_t err_cap)
{
	ballot_resp_value *v = NULL;
	size_t used = 0;
	ballot_errmsg em;
	if (ballot_resp_decode_reply(buf, len, &v, &used, &em) != 0) {
		snprintf(err, err_cap, "bad reply: %.80s", em.text);
		return -1;
	}
	if (v == NULL)
		return 0;
	*is_error = v->type == BALLOT_RESP_ERROR;
	if (*is_error)
		snprintf(err, err_cap, "%.*s", (int)(v->len < 80 ? v->len : 80), v->str);
	ballot_resp_free(v);
	return (long)used;
}

/* The value of header name (lower case, with ':') in the header block, or NULL. */
static const char *http_header(const char *head, size_t head_len, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = head; p + n < head + head_len; p++) {
		if ((p == head || p[-1] == '\n') && strncasecmp(p, name, n) == 0) {
			p += n;
			while (*p == ' ')
				p++;
			return p;
		}
	}
	return NULL;
}

static bool contains(const char *p, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++) {
		if (memcmp(p + i, needle, n) == 0)
			return true;
	}
	return false;
}

/* Length of a chunked body starting at body, 0 if incomplete, -1 if malformed. */
static long chunked_length(const char *body, size_t avail)
{
	size_t pos = 0;
	for (;;) {
		const char *eol = memchr(body + pos, '\n', avail - pos);
		if (eol == NULL)
			return 0;
		char *end;
		unsigned long size = strtoul(body + pos, &end, 16);
		if (end == body + pos)
			return -1;
		pos = (size_t)(eol - body) + 1 + size + 2;
		if (pos > avail)
			return 0;
		if (size == 0)
			return (long)pos;
	}
}

/* Bytes of the first whole HTTP response in buf, 0 if incomplete, -1 if malformed. A
 * status other than 2xx, or a body holding "error", is an error. */
static long decode_http(const char *buf, size_t len, bool *is_error, char *err, size_t err_cap)
{
	const char *end = NULL;
	for (size_t i = 3; i < len && i < HTTP_HEADER_BYTES_MAX; i++) {
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
			end = buf + i + 1;
			break;
		}
	}
	if (end == NULL) {
		if (len >= HTTP_HEADER_BYTES_MAX)
			snprintf(err, err_cap, "HTTP header too long");
		return len >= HTTP_HEADER_BYTES_MAX ? -1 : 0;
	}
	size_t head_len = (size_t)(end - buf);
	int status = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		snprintf(err, err_cap, "not an HTTP response");
		return -1;
	}
	long body_len;
	const char *cl = http_header(buf, head_len, "content-length:");
	const char *te = http_header(buf, head_len, "transfer-encoding:");
	if (cl != NULL)
		body_len = strtol(cl, NULL, 10);
	else if (te != NULL && strncasecmp(te, "chunked", 7) == 0)
		body_len = chunked_length(end, len - head_len);
	else
		body_len = 0;
	if (body_len < 0) {
		snprintf(err, err_cap, "bad HTTP body length");
		return -1;
	}
	if (cl == NULL && te != NULL && body_len == 0)
		return 0;
	if (head_len + (size_t)body_len > len)
		return 0;
	const char *body = end;
	bool body_error = contains(body, (size_t)body_len, "\"error\"");
	*is_error = status < 200 || status > 299 || body_error;
	if (*is_error)
		snprintf(err, err_cap, "HTTP %d %.*s", status, (int)(body_len < 60 ? body_len : 60), body);
	return (long)(head_len + (size_t)body_len);
}

/* --- the connection ------------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status)
{
	(void)status; /* a failed write shows up as a failed read or a timeout */
	free(req->data);
}

static bool window_open(const loadgen *lg)
{
	return lg->phase != PHASE_DONE;
}

/* Sends one operation on c: in fill mode the next batch of keys, else a random key. */
static void issue_one(conn *c)
{
	loadgen *lg = c->lg;
	const options *o = &lg->opt;
	uint64_t k;
	unsigned count = 1;
	if (o->fill != 0) {
		if (lg->fill_next >= o->fill)
			return;
		k = lg->fill_next;
		count = (unsigned)(o->fill - k < o->batch ? o->fill - k : o->batch);
		lg->fill_next += count;
	} else {
		k = rng_next(&c->rng) % o->keys;
	}
	/* Room for the request: etcd's base64 takes 4/3 of the value, JSON and HTTP the rest. */
	size_t cap = 1024 + (size_t)count * (2 * o->value_bytes + 4 * KEY_BYTES_MAX + 64);
	wreq *w = wreq_new(cap);
	unsigned replies = 1;
	if (o->proto == PROTO_ETCD)
		encode_etcd(lg, w, k, count);
	else
		replies = encode_resp(lg, w, k, count);
	pending_op *p = &c->ops[(c->op_head + c->op_count) % PIPELINE_MAX];
	*p = (pending_op){.start_ns = now_ns(), .replies_left = replies};
	c->op_count++;
	w->req.data = w;
	uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
	int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc != 0) {
		free(w);
		conn_fail(c, uv_strerror(rc));
	}
}

static void issue_ops(conn *c)
{
	while (c->connected && window_open(c->lg) && c->op_count < c->lg->opt.pipeline) {
		unsigned before = c->op_count;
		issue_one(c);
		if (c->op_count == before)
			return;
	}
}

static void record_success(loadgen *lg, uint64_t start_ns, uint64_t end_ns)
{
	if (lg->opt.fill != 0)
		lg->fill_done_ops++;
	if (lg->phase != PHASE_MEASURE)
		return;
	lg->ops_ok++;
	hist_record(&lg->hist, end_ns - start_ns);
	if (lg->trace != NULL)
		fprintf(lg->trace, "%.6f %.3f\n", (double)(end_ns - lg->window_start_ns) / 1e9,
			(double)(end_ns - start_ns) / 1e3);
	if (end_ns - lg->last_success_ns > lg->max_gap_ns) {
		lg->max_gap_ns = end_ns - lg->last_success_ns;
		lg->max_gap_at_ns = lg->last_success_ns;
	}
	lg->last_success_ns = end_ns;
}

/* One reply arrived on c: it belongs to the oldest operation in flight. */
static void on_reply(conn *c, bool is_error, const char *err)
{
	loadgen *lg = c->lg;
	if (c->op_count == 0) {
		conn_fail(c, "a reply nobody asked for");
		return;
	}
	pending_op *p = &c->ops[c->op_head];
	if (is_error) {
		p->failed = true;
		note_error(lg, err);
	}
	if (--p->replies_left > 0)
		return;
	c->op_head = (c->op_head + 1) % PIPELINE_MAX;
	c->op_count--;
	if (!p->failed) {
		record_success(lg, p->start_ns, now_ns());
	} else {
		lg->attempts_failed++;
		if (lg->phase == PHASE_MEASURE)
			lg->ops_failed++;
		if (lg->opt.retry) {
			/* The node may have lost its leader: try another. */
			conn_fail(c, NULL);
			return;
		}
	}
	issue_ops(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	conn *c = h->data;
	loadgen *lg = c->lg;
	/* Replies are consumed in on_read, so one shared read buffer serves every connection. */
	buf->base = lg->read_buf;
	buf->len = sizeof lg->read_buf;
}

static void conn_append(conn *c, const char *p, size_t n)
{
	if (c->in_len + n > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 4096;
		while (cap < c->in_len + n)
			cap *= 2;
		char *in = realloc(c->in, cap);
		if (in == NULL) {
			fprintf(stderr, "loadgen: out of memory\n");
			exit(2);
		}
		c->in = in;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	conn *c = s->data;
	if (nread < 0) {
		conn_fail(c, nread == UV_EOF ? "connection closed by server" : uv_strerror((int)nread));
		return;
	}
	conn_append(c, buf->base, (size_t)nread);
	size_t pos = 0;
	while (pos < c->in_len && c->open) {
		bool is_error = false;
		char err[128] = "";
		long used = c->lg->opt.proto == PROTO_ETCD
				    ? decode_http(c->in + pos, c->in_len - pos, &is_error, err, sizeof err)
				    : decode_resp(c->in + pos, c->in_len - pos, &is_error, err, sizeof err);
		if (used < 0) {
			conn_fail(c, err);
			return;
		}
		if (used == 0)
			break;
		pos += (size_t)used;
		on_reply(c, is_error, err);
	}
	if (!c->open)
		return;
	memmove(c->in, c->in + pos, c->in_len - pos);
	c->in_len -= pos;
}

static void on_connect(uv_connect_t *req, int status)
{
	conn *c = req->data;
	if (!c->open)
		return;
	if (status != 0) {
		conn_fail(c, uv_strerror(status));
		return;
	}
	c->connected = true;
	uv_tcp_nodelay(&c->tcp, 1);
	int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc != 0) {
		conn_fail(c, uv_strerror(rc));
		return;
	}
	issue_ops(c);
}

static void on_retry_timer(uv_timer_t *t)
{
	conn *c = t->data;
	if (window_open(c->lg))
		conn_start(c);
}

static void on_closed(uv_handle_t *h)
{
	conn *c = h->data;
	loadgen *lg = c->lg;
	if (!window_open(lg))
		return;
	if (!lg->opt.retry) {
		c->dead = true;
		return;
	}
	c->port_index = (c->port_index + 1) % lg->opt.port_count;
	uv_timer_start(&c->retry_timer, on_retry_timer, RETRY_BACKOFF_MS, 0);
}

/* Ends c's connection: its operations in flight fail; with --retry, a new connection to the
 * next port follows (in on_closed). why NULL means the failure was already counted. */
static void conn_fail(conn *c, const char *why)
{
	loadgen *lg = c->lg;
	if (!c->open)
		return;
	if (why != NULL && window_open(lg)) {
		note_error(lg, why);
		lg->attempts_failed += c->op_count;
		if (lg->phase == PHASE_MEASURE)
			lg->ops_failed += c->op_count > 0 ? c->op_count : 1;
	}
	c->op_count = 0;
	c->in_len = 0;
	c->open = false;
	c->connected = false;
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void conn_start(conn *c)
{
	loadgen *lg = c->lg;
	struct sockaddr_in addr;
	uv_ip4_addr(lg->opt.host, lg->opt.ports[c->port_index], &addr);
	uv_tcp_init(lg->loop, &c->tcp);
	c->tcp.data = c;
	c->open = true;
	c->connect_req.data = c;
	int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&addr, on_connect);
	if (rc != 0)
		conn_fail(c, uv_strerror(rc));
}

/* --- the run ------------------------------------------------------------------------- */

static void check_timeouts(loadgen *lg, uint64_t now)
{
	uint64_t limit = (uint64_t)lg->opt.timeout_ms * 1000000u;
	for (unsigned i = 0; i < lg->opt.clients; i++) {
		conn *c = &lg->conns[i];
		if (c->open && c->op_count > 0 && now - c->ops[c->op_head].start_ns > limit)
			conn_fail(c, "no reply within --timeout-ms");
	}
}

static void close_all(loadgen *lg)
{
	for (unsigned i = 0; i < lg->opt.clients; i++) {
		conn *c = &lg->conns[i];
		if (c->open) {
			c->open = false;
			uv_close((uv_handle_t *)&c->tcp, NULL);
		}
		uv_timer_stop(&c->retry_timer);
		uv_close((uv_handle_t *)&c->retry_timer, NULL);
	}
}

static void end_window(loadgen *lg, uint64_t now)
{
	lg->phase = PHASE_DONE;
	lg->window_end_ns = now;
	if (now - lg->last_success_ns > lg->max_gap_ns) {
		lg->max_gap_ns = now - lg->last_success_ns;
		lg->max_gap_at_ns = lg->last_success_ns;
	}
	lg->cpu_end_s = pids_cpu_s(&lg->opt);
	/* Closing every handle lets uv_run return; replies still in flight are dropped. */
	close_all(lg);
	uv_close((uv_handle_t *)&lg->tick, NULL);
}

/* Fill mode: every batch has been sent and no connection waits for a reply. */
static bool fill_finished(const loadgen *lg)
{
	if (lg->opt.fill == 0 || lg->fill_next < lg->opt.fill)
		return false;
	for (unsigned i = 0; i < lg->opt.clients; i++) {
		if (lg->conns[i].op_count > 0)
			return false;
	}
	return true;
}

static bool all_dead(const loadgen *lg)
{
	for (unsigned i = 0; i < lg->opt.clients; i++) {
		if (!lg->conns[i].dead)
			return false;
	}
	return true;
}

static void on_tick(uv_timer_t *t)
{
	loadgen *lg = t->data;
	uint64_t now = now_ns();
	if (lg->phase == PHASE_WARMUP && now >= lg->window_start_ns) {
		lg->phase = PHASE_MEASURE;
		lg->window_start_ns = now;
		lg->last_success_ns = now;
		lg->max_gap_at_ns = now;
		lg->cpu_start_s = pids_cpu_s(&lg->opt);
	}
	check_timeouts(lg, now);
	if (fill_finished(lg) || all_dead(lg) || now >= lg->window_end_ns)
		end_window(lg, now);
}

static void print_results(const loadgen *lg)
{
	const options *o = &lg->opt;
	double secs = (double)(lg->window_end_ns - lg->window_start_ns) / 1e9;
	double cpu = lg->cpu_start_s >= 0 && lg->cpu_end_s >= 0 ? lg->cpu_end_s - lg->cpu_start_s : -1;
	uint64_t done = o->fill != 0 ? lg->fill_done_ops : lg->ops_ok;
	printf("ops=%" PRIu64 " seconds=%.3f ops_per_s=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f "
	       "errors=%" PRIu64 " failed_attempts=%" PRIu64 " max_gap_ms=%.1f max_gap_at_s=%.3f",
	       done, secs, secs > 0 ? (double)done / secs : 0, hist_quantile_ms(&lg->hist, 0.50),
	       hist_quantile_ms(&lg->hist, 0.99), hist_quantile_ms(&lg->hist, 0.999),
	       (double)lg->hist.max_ns / 1e6, lg->ops_failed, lg->attempts_failed,
	       (double)lg->max_gap_ns / 1e6,
	       (double)(lg->max_gap_at_ns - lg->window_start_ns) / 1e9);
	if (o->pid_count > 0)
		printf(" cpu_s=%.3f", cpu);
	if (o->fill != 0)
		printf(" keys=%" PRIu64 " fill_complete=%d", o->fill, lg->fill_done_ops >= lg->fill_total_ops);
	printf("\n");
	for (unsigned i = 0; i < ERROR_KINDS_MAX && lg->errors[i].count > 0; i++)
		fprintf(stderr, "loadgen: %" PRIu64 " x %s\n", lg->errors[i].count, lg->errors[i].text);
}

/* --- options ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: loadgen --ports P[,P...] [options]\n"
		   "  --host H          server address (default 127.0.0.1)\n"
		   "  --proto resp|etcd Redis protocol, or etcd's v3 JSON gateway (default resp)\n"
		   "  --op set|get|incr the operation (etcd: set = put, get = range)\n"
		   "  --wait K          follow each command with WAIT K 0, one operation (resp only)\n"
		   "  --clients N       connections (default 1, at most %u)\n"
		   "  --seconds S       measured window (default 5); with --fill, the time allowed\n"
		   "  --warmup S        before the window (default 1)\n"
		   "  --keys K          keys are key:00000000 .. K-1 (INCR: counter:...), at random (default 100000)\n"
		   "  --value-bytes B   SET value size (default 100, at most %u)\n"
		   "  --fill N          write keys 0..N-1 once each, then stop\n"
		   "  --batch M         with --fill: keys per MSET or etcd txn (default 1; at most %u)\n"
		   "  --pipeline D      operations in flight per connection (default 1, at most %u)\n"
		   "  --retry           on failure, reconnect to the next port and go on (failover)\n"
		   "  --timeout-ms T    an operation without reply by then fails (default 5000)\n"
		   "  --cpu-pids P,...  report utime+stime these processes used in the window\n"
		   "  --seed S          random seed (default 1)\n"
		   "  --trace FILE      write each measured operation as a line: its completion (seconds\n"
		   "                    into the window) and its latency (microseconds)\n",
		CLIENTS_MAX, VALUE_BYTES_MAX, BATCH_MAX, PIPELINE_MAX);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_list(const char *s, int *out, unsigned max, unsigned *count)
{
	char copy[512];
	snprintf(copy, sizeof copy, "%s", s);
	*count = 0;
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (*count == max || !parse_u64(tok, 1, 4194304, &v))
			return false;
		out[(*count)++] = (int)v;
	}
	return *count > 0;
}

static int parse_options(int argc, char **argv, options *o)
{
	*o = (options){.host = "127.0.0.1", .clients = 1, .pipeline = 1, .batch = 1, .keys = 100000,
		       .value_bytes = 100, .seconds = 5, .warmup = 1, .timeout_ms = 5000, .seed = 1};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n = 0;
		bool ok = true, takes_value = true;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--retry") == 0) {
			o->retry = true;
			takes_value = false;
		} else if (v == NULL) {
			ok = false;
		} else if (strcmp(a, "--host") == 0) {
			o->host = v;
		} else if (strcmp(a, "--ports") == 0) {
			ok = parse_list(v, o->ports, PORTS_MAX, &o->port_count);
		} else if (strcmp(a, "--cpu-pids") == 0) {
			ok = parse_list(v, o->pids, PIDS_MAX, &o->pid_count);
		} else if (strcmp(a, "--proto") == 0) {
			ok = strcmp(v, "resp") == 0 || strcmp(v, "etcd") == 0;
			o->proto = strcmp(v, "etcd") == 0 ? PROTO_ETCD : PROTO_RESP;
		} else if (strcmp(a, "--op") == 0) {
			ok = strcmp(v, "set") == 0 || strcmp(v, "get") == 0 || strcmp(v, "incr") == 0;
			o->op = strcmp(v, "get") == 0 ? OP_GET : strcmp(v, "incr") == 0 ? OP_INCR : OP_SET;
		} else if (strcmp(a, "--wait") == 0) {
			ok = parse_u64(v, 1, 64, &n);
			o->wait_replicas = (unsigned)n;
		} else if (strcmp(a, "--clients") == 0) {
			ok = parse_u64(v, 1, CLIENTS_MAX, &n);
			o->clients = (unsigned)n;
		} else if (strcmp(a, "--pipeline") == 0) {
			ok = parse_u64(v, 1, PIPELINE_MAX, &n);
			o->pipeline = (unsigned)n;
		} else if (strcmp(a, "--batch") == 0) {
			ok = parse_u64(v, 1, BATCH_MAX, &n);
			o->batch = (unsigned)n;
		} else if (strcmp(a, "--keys") == 0) {
			ok = parse_u64(v, 1, 100000000, &o->keys);
		} else if (strcmp(a, "--fill") == 0) {
			ok = parse_u64(v, 1, 100000000, &o->fill);
		} else if (strcmp(a, "--value-bytes") == 0) {
			ok = parse_u64(v, 1, VALUE_BYTES_MAX, &n);
			o->value_bytes = (size_t)n;
		} else if (strcmp(a, "--timeout-ms") == 0) {
			ok = parse_u64(v, 1, 600000, &n);
			o->timeout_ms = (unsigned)n;
		} else if (strcmp(a, "--trace") == 0) {
			o->trace = v;
		} else if (strcmp(a, "--seed") == 0) {
			ok = parse_u64(v, 0, UINT64_MAX, &o->seed);
		} else if (strcmp(a, "--seconds") == 0 || strcmp(a, "--warmup") == 0) {
			char *end;
			double d = strtod(v, &end);
			ok = end != v && *end == '\0' && d >= 0 && d <= 3600;
			*(strcmp(a, "--seconds") == 0 ? &o->seconds : &o->warmup) = d;
		} else {
			fprintf(stderr, "loadgen: unknown option %s (see --help)\n", a);
			return -1;
		}
		if (!ok) {
			fprintf(stderr, "loadgen: %s %s: missing or out of range (see --help)\n", a, v ? v : "");
			return -1;
		}
		i += takes_value;
	}
	if (o->port_count == 0) {
		fprintf(stderr, "loadgen: --ports is required (see --help)\n");
		return -1;
	}
	if (o->proto == PROTO_ETCD && (o->op == OP_INCR || o->wait_replicas != 0 || o->batch > 128)) {
		fprintf(stderr, "loadgen: --proto etcd does set and get only, without --wait, and at most "
				"128 keys per --batch (etcd's --max-txn-ops)\n");
		return -1;
	}
	if (o->fill != 0) {
		o->op = OP_SET;
		o->warmup = 0;
	}
	return 0;
}

/* --- main ---------------------------------------------------------------------------- */

static int setup(loadgen *lg)
{
	const options *o = &lg->opt;
	lg->value = malloc(o->value_bytes);
	lg->value_b64 = malloc(o->value_bytes * 4 / 3 + 8);
	lg->conns = calloc(o->clients, sizeof *lg->conns);
	if (lg->value == NULL || lg->value_b64 == NULL || lg->conns == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return -1;
	}
	memset(lg->value, 'x', o->value_bytes);
	base64_encode(lg->value, o->value_bytes, lg->value_b64);
	lg->fill_total_ops = o->fill == 0 ? 0 : (o->fill + o->batch - 1) / o->batch;
	lg->loop = uv_default_loop();
	lg->t0_ns = now_ns();
	lg->window_start_ns = lg->t0_ns + (uint64_t)(o->warmup * 1e9);
	lg->window_end_ns = lg->window_start_ns + (uint64_t)(o->seconds * 1e9);
	lg->last_success_ns = lg->window_start_ns;
	lg->cpu_start_s = lg->cpu_end_s = -1;
	uv_timer_init(lg->loop, &lg->tick);
	lg->tick.data = lg;
	uv_timer_start(&lg->tick, on_tick, TICK_MS, TICK_MS);
	for (unsigned i = 0; i < o->clients; i++) {
		conn *c = &lg->conns[i];
		c->lg = lg;
		c->rng = o->seed * 1000003u + i;
		c->port_index = 0;
		uv_timer_init(lg->loop, &c->retry_timer);
		c->retry_timer.data = c;
		conn_start(c);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static loadgen lg; /* large (the histogram): not on the stack */
	if (parse_options(argc, argv, &lg.opt) != 0)
		return 2;
	if (lg.opt.trace != NULL && (lg.trace = fopen(lg.opt.trace, "w")) == NULL) {
		fprintf(stderr, "loadgen: --trace %s: %s\n", lg.opt.trace, strerror(errno));
		return 2;
	}
	if (setup(&lg) != 0)
		return 2;
	uv_run(lg.loop, UV_RUN_DEFAULT);
	print_results(&lg);
	if (lg.trace != NULL && fclose(lg.trace) != 0) {
		fprintf(stderr, "loadgen: --trace %s: %s\n", lg.opt.trace, strerror(errno));
		return 1;
	}
	bool fill_failed = lg.opt.fill != 0 && lg.fill_done_ops < lg.fill_total_ops;
	if (fill_failed)
		fprintf(stderr, "loadgen: --fill did not finish within --seconds %.1f\n", lg.opt.seconds);
	int status = (!lg.opt.retry && lg.ops_failed > 0) || fill_failed ? 1 : 0;
	if (lg.opt.retry && lg.ops_ok == 0)
		status = 1;
	free(lg.conns);
	free(lg.value);
	free(lg.value_b64);
	return status;
}
