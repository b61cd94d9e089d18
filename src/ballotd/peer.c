/* Peer transport: TCP between nodes, in the frames of ballot/frame.h.
 *
 * Each node sends on one outgoing connection per peer (it connects, says HELLO, then
 * writes frames) and receives on the connections peers make to it. A peer that is down is
 * retried with backoff; messages for it meanwhile are dropped, as a network would, and a
 * peer that does not drain its connection gets its messages dropped past
 * BALLOT_PEER_QUEUE_BYTES_MAX: Raft retransmits what matters. A connection that a partition
 * cut is noticed (BALLOT_PEER_CONNECT_TIMEOUT_MS, BALLOT_PEER_UNACKED_TIMEOUT_MS) and made
 * again, so a healed partition is not left to TCP's backed-off retransmissions. A bad frame
 * closes the connection it came on; the node keeps serving everyone else. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/frame.h"
#include "common/assert.h"
#include "ballotd/node_internal.h"


#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

/* One write of every frame queued for a peer in a turn of the loop; owns the bytes. */
typedef struct write_req {
	uv_write_t req;
	peer_conn *p;
	ballot_buf data;
} write_req;

/* ---- outgoing ----------------------------------------------------------------------- */

static void connect_peer(peer_conn *p);

static void on_retry(uv_timer_t *t)
{
	connect_peer(t->data);
}

static void on_out_closed(uv_handle_t *h)
{
	peer_conn *p = h->data;
	p->handle_open = false;
	p->connected = false;
	p->connecting = false;
	ballot_buf_clear(&p->out); /* frames for the connection that closed */
	if (p->n->stop_signal == 0 && p->n->fatal == 0 && !p->retired)
		uv_timer_start(&p->retry, on_retry, p->backoff_ms, 0);
	p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
}

static void drop_connection(peer_conn *p)
{
	if (p->handle_open && !uv_is_closing((uv_handle_t *)&p->tcp))
		uv_close((uv_handle_t *)&p->tcp, on_out_closed);
}

static void on_written(uv_write_t *req, int status)
{
	write_req *w = (write_req *)req;
	peer_conn *p = w->p;
	BALLOT_ASSERT(p->queued_bytes >= w->data.len);
	p->queued_bytes -= w->data.len;
	ballot_buf_free(&w->data);
	free(w);
	if (status != 0)
		drop_connection(p);
}

/* Adds one frame to what the peer's connection sends at the end of this turn of the loop
 * (or drops it: not connected, or past the queue's bound). */
static void send_frame(peer_conn *p, const ballot_frame *f)
{
	ballot_errmsg em;
	if (!p->connected || p->queued_bytes >= BALLOT_PEER_QUEUE_BYTES_MAX) {
		p->dropped_frames++;
		return;
	}
	/* The encoder appends whole or not at all, within the buffer's limit: the bound. */
	p->out.limit = BALLOT_PEER_QUEUE_BYTES_MAX - p->queued_bytes;
	if (ballot_frame_encode(f, &p->out, &em) != 0) {
		p->dropped_frames++;
		return;
	}
	p->sent_frames++;
}

/* Writes what the turn queued for one peer, in one write. */
static void flush_peer(peer_conn *p)
{
	if (p->out.len == 0)
		return;
	if (p->connected && p->queued_bytes == 0) {
		/* Straight to the socket when nothing is queued before it. */
		uv_buf_t buf = uv_buf_init(p->out.data, (unsigned)p->out.len);
		int written = uv_try_write((uv_stream_t *)&p->tcp, &buf, 1);
		if (written < 0 && written != UV_EAGAIN) {
			ballot_buf_clear(&p->out);
			drop_connection(p);
			return;
		}
		if (written > 0)
			ballot_buf_consume(&p->out, (size_t)written);
		if (p->out.len == 0)
			return;
	}
	write_req *w = malloc(sizeof *w);
	if (w == NULL || !p->connected) {
		free(w);
		ballot_buf_clear(&p->out);
		return;
	}
	w->p = p;
	w->data = p->out;
	ballot_buf_init(&p->out, 0);
	uv_buf_t buf = uv_buf_init(w->data.data, (unsigned)w->data.len);
	if (uv_write(&w->req, (uv_stream_t *)&p->tcp, &buf, 1, on_written) != 0) {
		ballot_buf_free(&w->data);
		free(w);
		drop_connection(p);
		return;
	}
	p->queued_bytes += w->data.len;
}

void peer_flush_all(node *n)
{
	for (unsigned i = 0; i < n->peer_count; i++)
		flush_peer(&n->peers[i]);
}

/* Bounds how long sent bytes may go unacknowledged: then the kernel fails the connection
 * (ETIMEDOUT at the next write) and it is made again. Best effort: without the option a cut
 * connection still recovers, only later. */
static void limit_unacked(peer_conn *p)
{
#ifdef TCP_USER_TIMEOUT
	uv_os_fd_t fd;
	unsigned int ms = BALLOT_PEER_UNACKED_TIMEOUT_MS;
	if (uv_fileno((uv_handle_t *)&p->tcp, &fd) == 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
#else
	(void)p;
#endif
}

static void on_connected(uv_connect_t *req, int status)
{
	peer_conn *p = req->data;
	p->connecting = false;
	uv_timer_stop(&p->retry); /* the connect timeout */
	if (status != 0) {
		if (status == UV_ECONNREFUSED) /* nothing listens there: its process is gone */
			ballot_raft_leader_lost(p->n->raft, p->id);
		drop_connection(p);
		return;
	}
	p->connected = true;
	p->backoff_ms = BACKOFF_MIN_MS;
	uv_tcp_nodelay(&p->tcp, 1);
	limit_unacked(p);
	ballot_frame hello = {.type = BALLOT_FRAME_HELLO,
			      .hello = {.cluster_id = p->n->cfg.cluster_id, .node_id = p->n->cfg.id}};
	snprintf(hello.hello.client_address, sizeof hello.hello.client_address, "%s", p->n->cfg.listen);
	send_frame(p, &hello);
}

/* A SYN that a partition dropped is retried by TCP ever more slowly: give up and start over. */
static void on_connect_timeout(uv_timer_t *t)
{
	peer_conn *p = t->data;
	if (p->connecting)
		drop_connection(p);
}

static void connect_peer(peer_conn *p)
{
	if (p->handle_open || p->n->stop_signal != 0 || p->retired)
		return;
	struct sockaddr_storage sa;
	if (node_resolve(p->address, &sa) != 0)
		return;
	uv_tcp_init(p->n->loop, &p->tcp);
	p->tcp.data = p;
	p->handle_open = true;
	p->connecting = true;
	p->connect_req.data = p;
	if (uv_tcp_connect(&p->connect_req, &p->tcp, (struct sockaddr *)&sa, on_connected) != 0) {
		drop_connection(p);
		return;
	}
	uv_timer_start(&p->retry, on_connect_timeout, BALLOT_PEER_CONNECT_TIMEOUT_MS, 0);
}

peer_conn *peer_find(node *n, uint64_t id)
{
	for (unsigned i = 0; i < n->peer_count; i++) {
		if (n->peers[i].id == id)
			return &n->peers[i];
	}
	return NULL;
}

void peer_send_msg(node *n, ballot_msg *m)
{
	peer_conn *p = peer_find(n, m->to);
	if (p != NULL) {
		ballot_frame f = {.type = BALLOT_FRAME_RAFT, .msg = m};
		send_frame(p, &f);
	}
	ballot_msg_free(m);
}

void peer_send_forward(node *n, uint64_t to, bool response, uint64_t id, int32_t error, const void *data, size_t len)
{
	peer_conn *p = peer_find(n, to);
	if (p == NULL)
		return;
	ballot_rbuf *payload = len > 0 ? ballot_rbuf_new(data, len) : NULL;
	if (len > 0 && payload == NULL) {
		p->dropped_frames++;
		return;
	}
	ballot_frame f = {.type = response ? BALLOT_FRAME_FORWARD_RESPONSE : BALLOT_FRAME_FORWARD_REQUEST,
			  .forward = {.request_id = id, .error = error, .payload = payload}};
	send_frame(p, &f);
	ballot_rbuf_unref(payload);
}

/* ---- incoming ----------------------------------------------------------------------- */

static void on_in_closed(uv_handle_t *h)
{
	peer_in *in = h->data;
	node *n = in->n;
	for (peer_in **pp = &n->incoming; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	}
	ballot_buf_free(&in->in);
	free(in);
}

static void close_in(peer_in *in)
{
	if (!uv_is_closing((uv_handle_t *)&in->tcp))
		uv_close((uv_handle_t *)&in->tcp, on_in_closed);
}

static void in_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	peer_in *in = h->data;
	(void)suggested;
	if (ballot_buf_reserve(&in->in, 64 * 1024) != 0) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	*buf = uv_buf_init(in->in.data + in->in.len, 64 * 1024);
}

/* A forwarded request: the payload is a kind byte (request_kind) and the command. */
static void handle_forward_request(node *n, peer_in *in, const ballot_frame_forward *fw)
{
	origin to = {.forward_peer = in->from, .forward_id = fw->request_id};
	if (fw->payload == NULL || fw->payload->len < 2) {
		peer_send_forward(n, in->from, true, fw->request_id, BALLOT_EINVAL, NULL, 0);
		return;
	}
	ballot_rbuf *cmd = ballot_rbuf_new(fw->payload->data + 1, fw->payload->len - 1);
	if (cmd == NULL) {
		peer_send_forward(n, in->from, true, fw->request_id, BALLOT_ENOMEM, NULL, 0);
		return;
	}
	uint8_t kind = (uint8_t)fw->payload->data[0];
	node_submit(n, to, kind == REQ_READ || kind == REQ_ADMIN ? (request_kind)kind : REQ_WRITE, cmd);
	ballot_rbuf_unref(cmd);
}

/* Handles one decoded frame; returns false if the connection must close. */
static bool handle_frame(node *n, peer_in *in, ballot_frame *f)
{
	ballot_errmsg em;
	if (in->from == 0) {
		if (f->type != BALLOT_FRAME_HELLO || ballot_frame_hello_check(&f->hello, n->cfg.cluster_id, &em) != 0) {
			fprintf(stderr, "ballotd: refused a peer connection: %s\n",
				f->type == BALLOT_FRAME_HELLO ? em.text : "it did not start with HELLO");
			return false;
		}
		in->from = f->hello.node_id;
		peer_conn *p = peer_find(n, in->from);
		if (p != NULL)
			memcpy(p->client_address, f->hello.client_address, sizeof p->client_address);
		/* A peer keeps one connection to us: one it made before (cut by a partition,
		 * given up on its side) will carry nothing more. */
		for (peer_in *old = n->incoming; old != NULL; old = old->next) {
			if (old != in && old->from == in->from)
				close_in(old);
		}
		return true;
	}
	switch (f->type) {
	case BALLOT_FRAME_RAFT:
		if (f->msg->from != in->from)
			return false; /* a node speaks only for itself */
		ballot_raft_step(n->raft, f->msg); /* the ready is taken at the end of the turn */
		return true;
	case BALLOT_FRAME_FORWARD_REQUEST:
		handle_forward_request(n, in, &f->forward);
		return true;
	case BALLOT_FRAME_FORWARD_RESPONSE:
		node_forward_answered(n, f->forward.request_id, f->forward.error,
				      f->forward.payload ? f->forward.payload->data : NULL,
				      f->forward.payload ? f->forward.payload->len : 0);
		return true;
	default:
		return false;
	}
}

static void on_in_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	peer_in *in = s->data;
	node *n = in->n;
	(void)buf;
	if (nread < 0) {
		/* The peer closed or reset its connection: if it led us, its process has likely
		 * died (the kernel closes a dead process's sockets): a hint to elect sooner. */
		if (in->from != 0 && (nread == UV_EOF || nread == UV_ECONNRESET))
			ballot_raft_leader_lost(n->raft, in->from);
		close_in(in);
		return;
	}
	in->in.len += (size_t)nread;
	size_t at = 0;
	while (at < in->in.len) {
		ballot_frame f;
		size_t used = 0;
		ballot_errmsg em;
		int rc = ballot_frame_decode(in->in.data + at, in->in.len - at, &f, &used, &em);
		if (rc != 0) {
			fprintf(stderr, "ballotd: closing a peer connection: %s\n", em.text);
			close_in(in);
			return;
		}
		if (f.type == BALLOT_FRAME_NONE)
			break;
		at += used;
		bool keep = handle_frame(n, in, &f);
		ballot_frame_clear(&f);
		if (!keep) {
			close_in(in);
			return;
		}
	}
	ballot_buf_consume(&in->in, at);
}

static void on_peer_connection(uv_stream_t *server, int status)
{
	node *n = server->data;
	if (status != 0)
		return;
	peer_in *in = calloc(1, sizeof *in);
	if (in == NULL)
		return;
	in->n = n;
	ballot_buf_init(&in->in, BALLOT_RAFT_MSG_BYTES_MAX + 64 * 1024);
	uv_tcp_init(n->loop, &in->tcp);
	in->tcp.data = in;
	in->next = n->incoming;
	n->incoming = in;
	if (uv_accept(server, (uv_stream_t *)&in->tcp) != 0) {
		close_in(in);
		return;
	}
	uv_tcp_nodelay(&in->tcp, 1);
	uv_read_start((uv_stream_t *)&in->tcp, in_alloc, on_in_read);
}

/* Starts talking to a member: a new slot, or the slot of one that left (whose connection
 * has closed). Returns false if every slot is taken. */
static bool peer_add(node *n, uint64_t id, const char *address)
{
	peer_conn *p = peer_find(n, id);
	for (unsigned i = 0; p == NULL && i < n->peer_count; i++) {
		if (n->peers[i].retired && !n->peers[i].handle_open)
			p = &n->peers[i];
	}
	if (p == NULL && n->peer_count == BALLOT_RAFT_MEMBERS_MAX)
		return false;
	if (p == NULL) {
		p = &n->peers[n->peer_count++];
		memset(p, 0, sizeof *p);
		ballot_buf_init(&p->out, 0);
		uv_timer_init(n->loop, &p->retry);
		p->retry.data = p;
	} else if (p->id != id) {
		uv_timer_stop(&p->retry);
		p->client_address[0] = '\0';
	}
	p->n = n;
	p->id = id;
	p->retired = false;
	snprintf(p->address, sizeof p->address, "%s", address);
	p->backoff_ms = BACKOFF_MIN_MS;
	connect_peer(p);
	return true;
}

void peer_sync_config(node *n)
{
	const ballot_config *c = ballot_raft_config(n->raft);
	if (memcmp(c, &n->peer_config, sizeof *c) == 0)
		return;
	n->peer_config = *c;
	/* A joiner knows no configuration until the leader's first snapshot or entries: it keeps
	 * the peers of --cluster meanwhile, to answer the leader that is adding it. */
	for (unsigned i = 0; i < n->peer_count && c->count > 0; i++) {
		peer_conn *p = &n->peers[i];
		if (!p->retired && ballot_config_find(c, p->id) == NULL) {
			p->retired = true; /* removed: stop reconnecting */
			uv_timer_stop(&p->retry);
			drop_connection(p);
		}
	}
	for (unsigned i = 0; i < c->count; i++) {
		const ballot_member *m = &c->members[i];
		if (m->id == n->cfg.id)
			continue;
		peer_conn *p = peer_find(n, m->id);
		if (p != NULL && !p->retired && strcmp(p->address, m->address) == 0)
			continue;
		if (p != NULL && !p->retired) {
			snprintf(p->address, sizeof p->address, "%s", m->address);
			drop_connection(p); /* reconnects to the new address */
		} else if (!peer_add(n, m->id, m->address)) {
			fprintf(stderr, "ballotd: no room to connect to member %llu\n", (unsigned long long)m->id);
		}
	}
}

int peer_start(node *n, ballot_errmsg *em)
{
	int rc = node_listen(n, &n->peer_listener, node_peer_address(n, n->cfg.id), 128, on_peer_connection,
			     "peers", em);
	if (rc != 0)
		return rc;
	for (unsigned i = 0; i < n->cfg.peer_count; i++) {
		const ballot_node_peer *p = &n->cfg.peers[i];
		if (p->id != n->cfg.id && ballot_config_find(ballot_raft_config(n->raft), p->id) == NULL)
			peer_add(n, p->id, p->address);
	}
	peer_sync_config(n);
	return 0;
}

void peer_close_all(node *n)
{
	for (unsigned i = 0; i < n->peer_count; i++) {
		peer_conn *p = &n->peers[i];
		uv_timer_stop(&p->retry);
		drop_connection(p);
		ballot_buf_free(&p->out);
	}
	for (peer_in *in = n->incoming; in != NULL; in = in->next)
		close_in(in);
}
