/* The node runtime: the loop that drives the Raft core (see node/node.h).
 *
 * The driver's cycle is the one ballot/raft.h prescribes: take a ready, send what may
 * leave now, persist on the thread pool (one sync covers every entry the ready holds:
 * group commit), then send the acknowledgements, apply, answer, advance. A leader syncing
 * a batch on the pool applies and answers what is committed (durable on a majority) as the
 * ready is taken and, while the sync runs, as acknowledgements commit more
 * (ballot_raft_take_committed): its own sync is off the write's path. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ballot/resp.h"
#include "common/array.h"
#include "common/assert.h"
#include "ballotd/node_internal.h"

void ballot_node_config_default(ballot_node_config *c)
{
	memset(c, 0, sizeof *c);
	c->cluster_id = 1;
	snprintf(c->listen, sizeof c->listen, "127.0.0.1:6379");
	c->tick_ms = 25;
	/* 1-2 s, as etcd's 1 s: safe on a loaded LAN and across the loop's longest pause (a
	 * snapshot of a million keys is serialized in about 0.6 s). A leader whose process
	 * dies is replaced sooner: its closed connections are a hint (ballot_raft_leader_lost). */
	c->election_ticks = 40;
	c->heartbeat_ticks = 2;
	/* The log since a snapshot is kept in memory: bound what it holds (64 MiB, entries of
	 * 150 bytes: about 270,000 of them), as Redis rewrites its AOF once it is 64 MB and
	 * twice its base (a small state is not rewritten every few seconds under load). The
	 * entry count is a backstop. */
	c->snapshot_entries = 1000000;
	c->snapshot_bytes = 64u << 20;
	c->snapshot_fork = true;
	/* Every node's log sync shares the disk with the others' (in a cluster on one disk, and
	 * in a virtual machine's host). A leader whose followers commit without waiting for its
	 * own sync lets theirs go first: it syncs at most every 5 ms, in larger batches. */
	c->leader_sync_ms = 5;
	c->clients_max = 10000;
	c->no_leader_wait_ms = 2000;
}

/* Splits "host:port"; returns false if it is not one. */
bool node_split_address(const char *addr, char *host, size_t host_cap, int *port)
{
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= host_cap)
		return false;
	char *end = NULL;
	long p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
		return false;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	*port = (int)p;
	return true;
}

int node_resolve(const char *address, struct sockaddr_storage *sa)
{
	char host[BALLOT_ADDRESS_MAX];
	int port;
	if (!node_split_address(address, host, sizeof host, &port))
		return BALLOT_EINVAL;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa) == 0)
		return 0;
	return BALLOT_EINVAL;
}

int node_listen(node *n, uv_tcp_t *tcp, const char *address, int backlog, uv_connection_cb cb, const char *what,
		ballot_errmsg *em)
{
	struct sockaddr_storage sa;
	if (node_resolve(address, &sa) != 0)
		return ballot_errorf(em, BALLOT_EINVAL, "%s address %s: give a numeric IP and port", what, address);
	uv_tcp_init(n->loop, tcp);
	tcp->data = n;
	int rc = uv_tcp_bind(tcp, (struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)tcp, backlog, cb);
	if (rc != 0)
		return ballot_errorf(em, BALLOT_EIO, "cannot listen for %s on %s: %s", what, address, uv_strerror(rc));
	return 0;
}

int ballot_node_config_check(const ballot_node_config *c, ballot_errmsg *em)
{
	char host[BALLOT_ADDRESS_MAX];
	int port;
	bool self = false;
	if (c->id == 0)
		return ballot_errorf(em, BALLOT_EINVAL, "--id: give this node's id, a positive integer");
	if (c->peer_count == 0)
		return ballot_errorf(em, BALLOT_EINVAL, "--cluster: give every member, as 1=127.0.0.1:7001,2=...");
	for (unsigned i = 0; i < c->peer_count; i++) {
		const ballot_node_peer *p = &c->peers[i];
		if (p->id == 0)
			return ballot_errorf(em, BALLOT_EINVAL, "--cluster: member ids must be positive");
		struct sockaddr_storage sa;
		if (!node_split_address(p->address, host, sizeof host, &port) || node_resolve(p->address, &sa) != 0)
			return ballot_errorf(em, BALLOT_EINVAL, "--cluster: '%s' of member %llu is not a numeric IP:port",
					     p->address, (unsigned long long)p->id);
		for (unsigned k = 0; k < i; k++) {
			if (c->peers[k].id == p->id)
				return ballot_errorf(em, BALLOT_EINVAL, "--cluster: member %llu given twice",
						     (unsigned long long)p->id);
			if (strcmp(c->peers[k].address, p->address) == 0)
				return ballot_errorf(em, BALLOT_EINVAL, "--cluster: members %llu and %llu share %s",
						     (unsigned long long)c->peers[k].id, (unsigned long long)p->id,
						     p->address);
		}
		self |= p->id == c->id;
	}
	if (!self)
		return ballot_errorf(em, BALLOT_EINVAL, "--id %llu is not a member of --cluster", (unsigned long long)c->id);
	struct sockaddr_storage listen_sa;
	if (!node_split_address(c->listen, host, sizeof host, &port) || node_resolve(c->listen, &listen_sa) != 0)
		return ballot_errorf(em, BALLOT_EINVAL, "--listen '%s': not a numeric IP:port", c->listen);
	for (unsigned i = 0; i < c->peer_count; i++) {
		if (strcmp(c->peers[i].address, c->listen) == 0)
			return ballot_errorf(em, BALLOT_EINVAL, "--listen %s is also member %llu's peer address",
					     c->listen, (unsigned long long)c->peers[i].id);
	}
	if (c->data_dir[0] == '\0')
		return ballot_errorf(em, BALLOT_EINVAL, "--data-dir: give a directory for this node's log");
	if (c->leader_sync_ms > 1000)
		return ballot_errorf(em, BALLOT_EINVAL, "--leader-sync-ms %u: must be 0 to 1000", c->leader_sync_ms);
	if (c->tick_ms < 1 || c->tick_ms > 10000)
		return ballot_errorf(em, BALLOT_EINVAL, "--tick-ms %u: must be 1 to 10000", c->tick_ms);
	if (c->heartbeat_ticks < 1 || c->election_ticks <= c->heartbeat_ticks)
		return ballot_errorf(em, BALLOT_EINVAL, "election ticks (%u) must exceed heartbeat ticks (%u) >= 1",
				     c->election_ticks, c->heartbeat_ticks);
	if (c->clients_max < 1)
		return ballot_errorf(em, BALLOT_EINVAL, "--max-clients must be at least 1");
	return 0;
}

uint64_t node_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void node_fatal(node *n, int code, const char *fmt, ...)
{
	if (n->fatal != 0)
		return;
	n->fatal = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->fatal_msg.text, sizeof n->fatal_msg.text, fmt, ap);
	va_end(ap);
	uv_stop(n->loop);
}

const char *node_peer_address(const node *n, uint64_t id)
{
	const ballot_member *m = n->raft != NULL ? ballot_config_find(ballot_raft_config(n->raft), id) : NULL;
	if (m != NULL && id != n->cfg.id)
		return m->address;
	for (unsigned i = 0; i < n->cfg.peer_count; i++) {
		if (n->cfg.peers[i].id == id)
			return n->cfg.peers[i].address;
	}
	return NULL;
}

/* ---- replies ------------------------------------------------------------------------ */

void node_reply(node *n, origin *to, const void *data, size_t len)
{
	if (to->conn != NULL) {
		reply_slot *slot = to->slot;
		if (ballot_buf_append(&slot->data, data, len) != 0)
			ballot_resp_error(&slot->data, "ERR out of memory");
		slot->done = true;
		client_slot_done(n, to->conn);
		client_release(to->conn);
		to->conn = NULL;
		return;
	}
	if (to->forward_peer != 0)
		peer_send_forward(n, to->forward_peer, true, to->forward_id, 0, data, len);
	to->forward_peer = 0;
}

void node_reply_error(node *n, origin *to, const char *fmt, ...)
{
	char text[BALLOT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	ballot_buf b;
	ballot_buf_init(&b, 0);
	ballot_resp_error(&b, "%s", text);
	node_reply(n, to, b.data, b.len);
	ballot_buf_free(&b);
}

/* ---- pending work ------------------------------------------------------------------- */

/* Writes whose outcome this node cannot know get an error that says so (the first word is
 * the error code, as Redis's are): a client must read before it retries them. */
#define UNCERTAIN_LOST_LEADERSHIP                                                                  \
	"UNCERTAIN leadership was lost before the write committed; it may or may not have been "  \
	"applied: read before retrying"
#define UNCERTAIN_FORWARDED                                                                        \
	"UNCERTAIN the leader did not answer in time; the write may or may not have been applied: " \
	"read before retrying"
#define UNCERTAIN_LEADER_CHANGED                                                                   \
	"UNCERTAIN the leader changed while the write was forwarded to it; it may or may not have "  \
	"been applied: read before retrying"
#define UNCERTAIN_SHUTDOWN                                                                         \
	"UNCERTAIN the node is shutting down; the write may or may not have been applied: read "   \
	"before retrying"
/* A former leader waits this long beyond a request's wait for a leader to learn the fate of
 * its uncommitted writes. */
#define UNCERTAIN_WAIT_EXTRA_MS 3000

static void pending_push(node *n, pending_list *l, const pending *p)
{
	if (ballot_array_reserve(&l->items, &l->cap, l->count, sizeof *l->items, 64) != 0) {
		pending copy = *p;
		node_reply_error(n, &copy.to, "ERR out of memory");
		ballot_rbuf_unref(copy.cmd);
		return;
	}
	l->items[l->count++] = *p;
}

static void pending_remove(pending_list *l, size_t i)
{
	ballot_rbuf_unref(l->items[i].cmd);
	memmove(l->items + i, l->items + i + 1, (l->count - i - 1) * sizeof *l->items);
	l->count--;
}

/* Fails every request in a list (leadership lost, shutting down). */
static void pending_fail_all(node *n, pending_list *l, const char *why)
{
	while (l->count > 0) {
		node_reply_error(n, &l->items[0].to, "%s", why);
		pending_remove(l, 0);
	}
}

/* ---- submitting requests ------------------------------------------------------------ */

static void leader_write(node *n, origin to, ballot_rbuf *cmd)
{
	ballot_buf env;
	ballot_buf_init(&env, 0);
	/* No session: ballotd proposes each request once and never retries it, so nothing
	 * can apply twice; sessions serve clients that retry (the simulator's, ballot's own). */
	ballot_envelope e = {.client_id = 0, .seq = 0, .time_ms = node_now_ms(), .cmd = cmd->data, .cmd_len = cmd->len};
	ballot_rbuf *entry = NULL;
	if (ballot_envelope_encode(&e, &env) == 0)
		entry = ballot_rbuf_new_unforked(env.data, env.len); /* the log's */
	ballot_buf_free(&env);
	if (entry == NULL) {
		node_reply_error(n, &to, "ERR out of memory");
		return;
	}
	uint64_t index, term;
	int rc = ballot_raft_propose(n->raft, BALLOT_ENTRY_NORMAL, entry, &index, &term);
	ballot_rbuf_unref(entry);
	if (rc == BALLOT_EBUSY) {
		node_reply_error(n, &to, "TRYAGAIN leadership transfer in progress");
		return;
	}
	if (rc == BALLOT_ELIMIT) {
		node_reply_error(n, &to, "BUSY too many uncommitted writes; retry");
		return;
	}
	if (rc != 0) {
		node_reply_error(n, &to, "TRYAGAIN %s", ballot_strerror(rc));
		return;
	}
	n->last_write_index = index;
	n->last_write_term = term;
	pending_push(n, &n->proposals, &(pending){.to = to, .index = index, .term = term, .kind = REQ_WRITE});
}

static void leader_read(node *n, origin to, ballot_rbuf *cmd)
{
	uint64_t id = ++n->next_read_id;
	int rc = ballot_raft_read(n->raft, id);
	if (rc != 0) {
		node_reply_error(n, &to, "TRYAGAIN %s", ballot_strerror(rc));
		return;
	}
	/* Redis runs a connection's commands in order: a read must see the writes sent before
	 * it, committed or not (a pipeline; a follower forwards in order on one connection).
	 * The read index, the commit index when the read came (thesis §6.4), can be older than
	 * those writes, so the read also waits until the last write proposed here is applied,
	 * if it is still in the log (one truncated away was answered with an error). */
	uint64_t after = 0;
	if (n->last_write_index != 0 && ballot_raft_term_at(n->raft, n->last_write_index) == n->last_write_term)
		after = n->last_write_index;
	pending_push(n, &n->reads, &(pending){.to = to, .read_id = id, .cmd = ballot_rbuf_ref(cmd), .after_index = after,
					      .kind = REQ_READ});
}

void node_submit(node *n, origin to, request_kind kind, ballot_rbuf *cmd)
{
	uint64_t leader;
	ballot_role role = ballot_raft_role(n->raft, &leader);
	if (role == BALLOT_ROLE_LEADER) {
		if (kind == REQ_READ)
			leader_read(n, to, cmd);
		else if (kind == REQ_ADMIN)
			admin_submitted(n, &to, cmd);
		else
			leader_write(n, to, cmd);
		return;
	}
	const peer_conn *lp = leader != 0 ? peer_find(n, leader) : NULL;
	if (n->cfg.redirect && to.conn != NULL && lp != NULL && lp->client_address[0] != '\0') {
		/* The form redis-cli -c and cluster clients follow: slot 0, then the address. */
		node_reply_error(n, &to, "MOVED 0 %s", lp->client_address);
		return;
	}
	if (leader != 0 && to.forward_peer == 0) {
		/* A follower forwards to the leader and answers when the leader does. */
		uint64_t id = ++n->next_forward_id;
		unsigned char header = (unsigned char)kind;
		ballot_buf payload;
		ballot_buf_init(&payload, 0);
		if (ballot_buf_append(&payload, &header, 1) != 0 || ballot_buf_append(&payload, cmd->data, cmd->len) != 0) {
			ballot_buf_free(&payload);
			node_reply_error(n, &to, "ERR out of memory");
			return;
		}
		peer_send_forward(n, leader, false, id, 0, payload.data, payload.len);
		ballot_buf_free(&payload);
		/* A read keeps its query: if the leader changes, it is sent again (it has no effect). */
		pending_push(n, &n->forwarded, &(pending){.to = to, .read_id = id, .kind = (uint8_t)kind,
							  .cmd = kind == REQ_READ ? ballot_rbuf_ref(cmd) : NULL,
							  .forwarded_to = leader, .deadline_ms = node_now_ms() + 5000});
		return;
	}
	if (to.forward_peer != 0) {
		/* Forwarded to us, but we are not (or no longer) the leader: let them retry. */
		node_reply_error(n, &to, "TRYAGAIN not the leader");
		return;
	}
	/* No leader known: wait a bounded time for an election, then say so. */
	pending_push(n, &n->no_leader, &(pending){.to = to, .cmd = ballot_rbuf_ref(cmd), .kind = (uint8_t)kind,
						  .deadline_ms = node_now_ms() + n->cfg.no_leader_wait_ms});
}

/* Another node leads now than the one forwarded request i went to: that one may be dead,
 * and its answer may never come, so the request does not wait out its deadline. A read is
 * sent again (to the new leader, or answered here if this node leads). A write (or a
 * BALLOT command) may or may not have been committed by the old leader: sending it again
 * could apply it twice, so it fails, saying so. */
static void forward_leader_changed(node *n, size_t i)
{
	pending copy = n->forwarded.items[i];
	if (copy.kind == REQ_READ) {
		copy.cmd = ballot_rbuf_ref(copy.cmd);
		pending_remove(&n->forwarded, i);
		node_submit(n, copy.to, REQ_READ, copy.cmd);
		ballot_rbuf_unref(copy.cmd);
		return;
	}
	node_reply_error(n, &copy.to, "%s", UNCERTAIN_LEADER_CHANGED);
	pending_remove(&n->forwarded, i);
}

/* Retries requests that waited for a leader; fails those past their deadline. */
static void retry_waiting(node *n)
{
	uint64_t leader;
	ballot_raft_role(n->raft, &leader);
	uint64_t now = node_now_ms();
	for (size_t i = 0; i < n->no_leader.count;) {
		pending *p = &n->no_leader.items[i];
		if (leader != 0) {
			pending copy = *p;
			copy.cmd = ballot_rbuf_ref(p->cmd);
			pending_remove(&n->no_leader, i);
			node_submit(n, copy.to, (request_kind)copy.kind, copy.cmd);
			ballot_rbuf_unref(copy.cmd);
			continue;
		}
		if (now >= p->deadline_ms) {
			node_reply_error(n, &p->to, "CLUSTERDOWN no leader: no quorum of this cluster is reachable");
			pending_remove(&n->no_leader, i);
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < n->forwarded.count;) {
		pending *p = &n->forwarded.items[i];
		if (leader != 0 && leader != p->forwarded_to) {
			forward_leader_changed(n, i);
			continue;
		}
		if (now >= p->deadline_ms) {
			if (p->kind == REQ_READ)
				node_reply_error(n, &p->to, "TRYAGAIN the leader did not answer the read in time");
			else
				node_reply_error(n, &p->to, "%s", UNCERTAIN_FORWARDED);
			pending_remove(&n->forwarded, i);
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < n->proposals.count;) {
		pending *p = &n->proposals.items[i];
		if (p->deadline_ms != 0 && now >= p->deadline_ms) {
			node_reply_error(n, &p->to, "%s", UNCERTAIN_LOST_LEADERSHIP);
			pending_remove(&n->proposals, i);
			continue;
		}
		i++;
	}
}

void node_forward_answered(node *n, uint64_t id, int32_t error, const void *data, size_t len)
{
	for (size_t i = 0; i < n->forwarded.count; i++) {
		pending *p = &n->forwarded.items[i];
		if (p->read_id != id)
			continue;
		if (error != 0)
			node_reply_error(n, &p->to, "TRYAGAIN %s", ballot_strerror(error));
		else
			node_reply(n, &p->to, data, len);
		pending_remove(&n->forwarded, i);
		return;
	}
}

/* ---- applying ----------------------------------------------------------------------- */

static void answer_proposals(node *n, const ballot_entry *e, const ballot_buf *reply)
{
	for (size_t i = 0; i < n->proposals.count;) {
		pending *p = &n->proposals.items[i];
		if (p->index > e->index) {
			i++;
			continue;
		}
		/* The proposal took effect iff the entry applied at its index has its term; another
		 * entry there means it never will (Log Matching): retrying is safe. */
		if (p->index == e->index && p->term == e->term && reply != NULL)
			node_reply(n, &p->to, reply->data, reply->len);
		else if (p->index == e->index && p->term == e->term)
			node_reply_error(n, &p->to, "ERR the write committed but gave no reply");
		else
			node_reply_error(n, &p->to, "TRYAGAIN leadership changed and the write was not committed; retry it");
		pending_remove(&n->proposals, i);
	}
}

/* A leader that steps down cannot tell whether its uncommitted writes will commit: the next
 * leader may hold them. Each waits until its index is applied here (answer_proposals then
 * tells which way it went) or, past a bound, is answered as uncertain: never "retry" for
 * a write that may have applied. */
static void lost_leadership(node *n)
{
	uint64_t deadline = node_now_ms() + n->cfg.no_leader_wait_ms + UNCERTAIN_WAIT_EXTRA_MS;
	for (size_t i = 0; i < n->proposals.count; i++) {
		if (n->proposals.items[i].deadline_ms == 0)
			n->proposals.items[i].deadline_ms = deadline;
	}
}

static void answer_reads(node *n)
{
	for (size_t i = 0; i < n->reads.count;) {
		pending *p = &n->reads.items[i];
		if (!p->confirmed || p->read_index > n->applied) {
			i++;
			continue;
		}
		ballot_buf reply;
		ballot_buf_init(&reply, 0);
		if (ballot_kv_query_entry(n->kv, p->cmd->data, p->cmd->len, &reply) == 0)
			node_reply(n, &p->to, reply.data, reply.len);
		else
			node_reply_error(n, &p->to, "ERR out of memory");
		ballot_buf_free(&reply);
		pending_remove(&n->reads, i);
	}
}

static void read_state(node *n, const ballot_read_state *rs)
{
	for (size_t i = 0; i < n->reads.count; i++) {
		pending *p = &n->reads.items[i];
		if (p->read_id != rs->request)
			continue;
		if (!rs->ok) {
			node_reply_error(n, &p->to, "TRYAGAIN leadership lost before the read was confirmed");
			pending_remove(&n->reads, i);
			return;
		}
		p->confirmed = true;
		p->read_index = rs->index > p->after_index ? rs->index : p->after_index;
		return;
	}
}

static void apply_entries(node *n, const ballot_entry *entries, size_t count);

static void apply_ready(node *n, ballot_raft_ready *rd)
{
	if (rd->has_snapshot) {
		ballot_errmsg em;
		if (ballot_sessions_restore(n->sessions, rd->snap_data->data, rd->snap_data->len, &em) != 0) {
			node_fatal(n, BALLOT_ECORRUPT, "the leader's snapshot at index %llu does not restore: %s",
				   (unsigned long long)rd->snap_index, em.text);
			return;
		}
		n->applied = rd->snap_index;
		n->last_snapshot = rd->snap_index;
		n->applied_bytes = 0;
		n->last_snapshot_bytes = rd->snap_data->len;
	}
	apply_entries(n, rd->committed, rd->committed_count);
	for (size_t i = 0; i < rd->read_count; i++)
		read_state(n, &rd->reads[i]);
	answer_reads(n);
}

static void apply_entries(node *n, const ballot_entry *entries, size_t count)
{
	ballot_buf reply;
	ballot_buf_init(&reply, 0);
	for (size_t i = 0; i < count && n->fatal == 0; i++) {
		const ballot_entry *e = &entries[i];
		ballot_buf_clear(&reply);
		bool normal = e->type == BALLOT_ENTRY_NORMAL && e->data != NULL;
		if (normal && ballot_sessions_apply(n->sessions, e->index, e->data->data, e->data->len, &reply) != 0) {
			/* The state may now differ from the other replicas': stop, recover on restart. */
			node_fatal(n, BALLOT_ENOMEM, "could not apply entry %llu (out of memory); restart the node",
				   (unsigned long long)e->index);
			break;
		}
		n->applied = e->index;
		n->applied_bytes += (e->data != NULL ? e->data->len : 0) + ENTRY_OVERHEAD_BYTES;
		answer_proposals(n, e, normal ? &reply : NULL);
	}
	ballot_buf_free(&reply);
}

/* ---- the ready cycle ---------------------------------------------------------------- */

static void send_messages(node *n, ballot_msg **msgs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		peer_send_msg(n, msgs[i]);
		msgs[i] = NULL;
	}
}

static void finish_ready(node *n)
{
	ballot_raft_ready *rd = &n->rd;
	send_messages(n, rd->messages_after_persist, rd->message_after_persist_count);
	if (!n->applied_early)
		apply_ready(n, rd);
	n->applied_early = false;
	if (ballot_raft_role(n->raft, NULL) != BALLOT_ROLE_LEADER) {
		pending_fail_all(n, &n->reads, "TRYAGAIN leadership changed before the read was confirmed");
		lost_leadership(n);
	}
	ballot_raft_advance(n->raft, rd);
	n->persisting = false;
	peer_sync_config(n);
	node_snapshot_maybe(n);
}

static void persist_work(uv_work_t *req)
{
	node *n = req->data;
	n->persist_rc = node_store_persist(n->store, &n->rd, &n->persist_em);
}

static void on_sync_hold(uv_timer_t *t)
{
	finish_ready(t->data); /* the next ready is taken at the end of this turn (on_flush) */
}

/* How long a leader holds its next sync back: once the followers committed entries past
 * where its own log stood durable as this sync began, they are a majority without it and
 * its sync is not on those writes' path, but it does take the disk from theirs. Then it
 * syncs at most every cfg.leader_sync_ms, in larger batches, appends, commits and reads
 * flowing meanwhile (on_flush). A leader a commit needs (a follower down, or slower than
 * its sync) never sees that, and syncs back to back, as before. */
static uint64_t sync_hold_ms(node *n)
{
	const ballot_raft_ready *rd = &n->rd;
	if (n->cfg.leader_sync_ms == 0 || rd->entry_count == 0 || rd->has_snapshot ||
	    ballot_raft_role(n->raft, NULL) != BALLOT_ROLE_LEADER)
		return 0;
	ballot_raft_status st;
	ballot_raft_status_get(n->raft, &st);
	if (st.commit <= n->persist_stable)
		return 0;
	uint64_t took_ms = (uv_hrtime() - n->persist_started) / 1000000;
	return took_ms < n->cfg.leader_sync_ms ? n->cfg.leader_sync_ms - took_ms : 0;
}

static void persist_done(uv_work_t *req, int status)
{
	node *n = req->data;
	if (status != 0 || n->persist_rc != 0) {
		/* Without durability no acknowledgement may leave: stop the node. */
		node_fatal(n, BALLOT_EIO, "could not persist the log: %s", n->persist_rc ? n->persist_em.text : uv_strerror(status));
		return;
	}
	uint64_t hold = sync_hold_ms(n);
	if (hold > 0) {
		n->log_sync_holds++;
		uv_timer_start(&n->sync_hold, on_sync_hold, hold, 0);
		return;
	}
	finish_ready(n); /* the next ready is taken at the end of this turn (on_flush) */
}

static void process_ready(node *n)
{
	while (n->fatal == 0 && !n->persisting && ballot_raft_has_ready(n->raft)) {
		ballot_raft_ready *rd = &n->rd;
		ballot_raft_ready_take(n->raft, rd);
		send_messages(n, rd->messages, rd->message_count);
		n->persisting = true;
		n->log_syncs += rd->entry_count > 0;
		bool durable_work = rd->has_snapshot || rd->hard_state_changed || rd->entry_count > 0;
		if (durable_work && (rd->has_snapshot || (rd->role == BALLOT_ROLE_LEADER && rd->entry_count > 0))) {
			/* A leader syncs its entries on the thread pool: its appends are already
			 * out, and its loop keeps taking requests and acknowledgements meanwhile
			 * (the followers' may commit them first: see sync_hold_ms).
			 * What the ready says is committed is durable on a majority already (these
			 * entries, or the followers' copies): apply and answer it now rather than
			 * after this sync (ballot/raft.h, step 4), a whole sync off each write. */
			if (!rd->has_snapshot) {
				apply_ready(n, rd);
				n->applied_early = true;
			}
			n->persist_req.data = n;
			n->persist_started = uv_hrtime();
			n->persist_stable = ballot_raft_stable_index(n->raft);
			uv_queue_work(n->loop, &n->persist_req, persist_work, persist_done);
			return;
		}
		if (durable_work) {
			/* A follower's acknowledgement (a candidate's vote request) waits for this
			 * sync whatever the loop does meanwhile: sync here, two thread hand-offs
			 * fewer on the write's path. What may leave first leaves first. */
			peer_flush_all(n);
			n->persist_rc = node_store_persist(n->store, &n->rd, &n->persist_em);
			if (n->persist_rc != 0) {
				node_fatal(n, BALLOT_EIO, "could not persist the log: %s", n->persist_em.text);
				return;
			}
		}
		finish_ready(n);
	}
}

/* The end of a turn of the loop, before it waits: drive the core with everything this turn
 * brought (one ready for all of it: group commit), send what may leave while a sync runs,
 * then write the turn's output, one write per connection. */
static void on_flush(uv_prepare_t *h)
{
	node *n = h->data;
	process_ready(n);
	node_snapshot_adopt(n);
	node_snapshot_maybe(n);
	if (n->persisting && n->fatal == 0) {
		ballot_msg **msgs = NULL;
		size_t count = ballot_raft_take_messages(n->raft, &msgs);
		send_messages(n, msgs, count);
		free(msgs);
		/* What a majority acknowledged meanwhile is applied and answered now, not once
		 * this sync ends (after the ready's own committed entries, applied as it began). */
		if (n->applied_early) {
			ballot_entry *committed = NULL;
			count = ballot_raft_take_committed(n->raft, &committed);
			apply_entries(n, committed, count);
			ballot_raft_entries_free(committed, count);
			/* Reads the followers confirmed meanwhile, answered once applied. */
			ballot_read_state *reads = NULL;
			size_t read_count = ballot_raft_take_reads(n->raft, &reads);
			for (size_t i = 0; i < read_count; i++)
				read_state(n, &reads[i]);
			free(reads);
			if (count > 0 || read_count > 0)
				answer_reads(n);
		}
	}
	client_flush_all(n);
	peer_flush_all(n);
}

static void on_tick(uv_timer_t *t)
{
	node *n = t->data;
	ballot_raft_tick(n->raft);
	node_compact_store(n);
	node_prepare_spare(n);
	retry_waiting(n);
}

/* ---- INFO replication ---------------------------------------------------------------- */

void node_info_replication(node *n, ballot_buf *out)
{
	ballot_raft_status st;
	ballot_raft_status_get(n->raft, &st);
	const ballot_member *self = ballot_config_find(&st.config, n->cfg.id);
	const char *role = ballot_role_name(st.role);
	if (st.role == BALLOT_ROLE_PRECANDIDATE)
		role = "candidate";
	if (st.role == BALLOT_ROLE_FOLLOWER && self != NULL && self->role == BALLOT_MEMBER_LEARNER)
		role = "learner";
	const char *leader_addr = st.leader ? node_peer_address(n, st.leader) : NULL;
	const peer_conn *lp = st.leader ? peer_find(n, st.leader) : NULL;
	const char *leader_client = st.leader == n->cfg.id ? n->cfg.listen : lp ? lp->client_address : "";
	ballot_buf_printf(out, "# Replication\r\nrole:%s\r\nnode_id:%llu\r\nterm:%llu\r\nleader_id:%llu\r\n"
			  "leader_address:%s\r\nleader_client_address:%s\r\ncommit_index:%llu\r\n"
			  "applied_index:%llu\r\nlast_index:%llu\r\nsnapshot_index:%llu\r\nmembers:%u\r\nvoters:%u\r\n",
			  role, (unsigned long long)n->cfg.id, (unsigned long long)st.term,
			  (unsigned long long)st.leader, leader_addr ? leader_addr : "", leader_client,
			  (unsigned long long)st.commit, (unsigned long long)n->applied,
			  (unsigned long long)st.last_index, (unsigned long long)st.snap_index, st.config.count,
			  ballot_config_voters(&st.config));
	for (unsigned i = 0; i < st.peer_count && st.role == BALLOT_ROLE_LEADER; i++) {
		uint64_t lag = st.last_index > st.peers[i].match ? st.last_index - st.peers[i].match : 0;
		ballot_buf_printf(out, "peer%u:id=%llu,match=%llu,lag=%llu,active=%d\r\n", i,
				  (unsigned long long)st.peers[i].id, (unsigned long long)st.peers[i].match,
				  (unsigned long long)lag, st.peers[i].recent_active);
	}
}

/* ---- running ------------------------------------------------------------------------ */

static void on_signal(uv_signal_t *s, int signum)
{
	node *n = s->data;
	n->stop_signal = signum;
	uv_stop(n->loop);
}

static int open_state(node *n, ballot_errmsg *em)
{
	ballot_raft_storage st = {0};
	/* A founding member starts from --cluster; a joiner from nothing, until the leader that
	 * added it sends a snapshot or the log. */
	ballot_config boot = {.count = n->cfg.join ? 0 : n->cfg.peer_count};
	for (unsigned i = 0; i < boot.count; i++) {
		boot.members[i] = (ballot_member){.id = n->cfg.peers[i].id, .role = BALLOT_MEMBER_VOTER};
		snprintf(boot.members[i].address, sizeof boot.members[i].address, "%s", n->cfg.peers[i].address);
	}
	st.snap_config = boot;
	ballot_buf warnings;
	ballot_buf_init(&warnings, 0);
	int rc = node_store_open(n->cfg.data_dir, &n->store, &st, &warnings, em);
	if (warnings.len > 0)
		fprintf(stderr, "ballotd: %s\n", warnings.data);
	ballot_buf_free(&warnings);
	if (rc != 0)
		return rc;
	ballot_session_config sc = ballot_session_config_default();
	if (ballot_kv_new(&n->kv) != 0 || ballot_sessions_new(&sc, ballot_kv_fsm(n->kv), &n->sessions, em) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory");
	if (st.snap_data != NULL &&
	    ballot_sessions_restore(n->sessions, st.snap_data->data, st.snap_data->len, em) != 0)
		return BALLOT_ECORRUPT;
	n->applied = st.snap_index;
	n->last_snapshot = st.snap_index;
	ballot_raft_options o;
	ballot_raft_options_default(&o, n->cfg.id);
	o.election_ticks = n->cfg.election_ticks;
	o.heartbeat_ticks = n->cfg.heartbeat_ticks;
	/* Compaction frees the log a slice at a time: freeing 100,000 entries at once held the
	 * loop for 20-70 ms. */
	o.compact_step_entries = 4096;
	uint64_t seed = node_now_ms() ^ ((uint64_t)n->cfg.id << 32) ^ (uint64_t)uv_os_getpid();
	ballot_rng_seed(&n->snap.rng, seed ^ 0x5eed);
	n->snap.jitter = ballot_rng_below(&n->snap.rng, 1000);
	return ballot_raft_new(&n->raft, &o, &st, seed, em);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void shut_down(node *n)
{
	pending_list *lists[] = {&n->proposals, &n->reads, &n->no_leader, &n->forwarded};
	/* Proposed or forwarded writes may still commit through the others. */
	for (size_t i = 0; i < n->forwarded.count; i++) {
		if (n->forwarded.items[i].kind != REQ_READ)
			node_reply_error(n, &n->forwarded.items[i].to, "%s", UNCERTAIN_SHUTDOWN);
	}
	pending_fail_all(n, &n->proposals, UNCERTAIN_SHUTDOWN);
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
		pending_fail_all(n, lists[i], "ERR the node is shutting down");
	client_flush_all(n);
	client_close_all(n);
	peer_close_all(n);
	node_snapshot_stop(n);
	/* The sync in flight must finish before the store closes. */
	while (n->persisting && n->fatal == 0 && uv_run(n->loop, UV_RUN_ONCE) != 0)
		;
	uv_walk(n->loop, close_walk, NULL);
	uv_run(n->loop, UV_RUN_DEFAULT);
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
		free(lists[i]->items);
	ballot_raft_free(n->raft);
	ballot_sessions_free(n->sessions);
	ballot_kv_free(n->kv);
	node_store_close(n->store);
}

int ballot_node_run(const ballot_node_config *cfg, ballot_errmsg *em)
{
	int rc = ballot_node_config_check(cfg, em);
	if (rc != 0)
		return rc;
	node *n = calloc(1, sizeof *n);
	if (n == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "out of memory");
	n->cfg = *cfg;
	n->loop = uv_default_loop();
	n->started_ms = node_now_ms();
	rc = open_state(n, em);
	if (rc == 0)
		rc = peer_start(n, em);
	if (rc == 0)
		rc = client_start(n, em);
	if (rc == 0) {
		uv_timer_init(n->loop, &n->tick);
		n->tick.data = n;
		uv_timer_init(n->loop, &n->sync_hold);
		n->sync_hold.data = n;
		uv_prepare_init(n->loop, &n->flush);
		n->flush.data = n;
		uv_prepare_start(&n->flush, on_flush);
		uv_timer_start(&n->tick, on_tick, cfg->tick_ms, cfg->tick_ms);
		uv_signal_init(n->loop, &n->sigint);
		uv_signal_init(n->loop, &n->sigterm);
		n->sigint.data = n->sigterm.data = n;
		uv_signal_start(&n->sigint, on_signal, SIGINT);
		uv_signal_start(&n->sigterm, on_signal, SIGTERM);
		fprintf(stderr, "ballotd: node %llu serving Redis clients on %s, peers on %s, data in %s\n",
			(unsigned long long)cfg->id, cfg->listen, node_peer_address(n, cfg->id), cfg->data_dir);
		uv_run(n->loop, UV_RUN_DEFAULT);
		if (n->fatal != 0) {
			rc = n->fatal;
			ballot_errorf(em, rc, "%s", n->fatal_msg.text);
		}
	}
	if (n->raft != NULL || n->store != NULL)
		shut_down(n);
	free(n);
	return rc;
}
