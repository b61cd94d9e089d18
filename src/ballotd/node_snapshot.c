/* Snapshots while the node goes on serving.
 *
 * A snapshot must be one moment of the state, and a large state takes a while to serialize
 * and write (a gigabyte: seconds). The writer is a child process, as Redis's BGSAVE: fork
 * gives it the state as of that moment, copy-on-write, and it serializes and writes the
 * file beside the store while the loop goes on applying, appending and answering. If fork
 * fails (no memory for the page tables, a process limit), or the node runs with
 * --snapshot-writer thread, the loop serializes the state itself (about 0.6 s per million
 * small keys) and a pool thread writes the file; readies go on meanwhile in both cases.
 *
 * The written file is then adopted on the loop, between persists (the store takes one call
 * at a time): the store makes it its snapshot, the core compacts over it and holds the
 * file's bytes mapped, and the log it covers goes. A snapshot installed from the leader
 * meanwhile overtakes it (ballot_storage_adopt_snapshot). */
#define _GNU_SOURCE /* close_range */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ballotd/node_internal.h"

/* After a snapshot that failed, the next is tried this much later. */
#define SNAPSHOT_RETRY_MS 5000

/* The writer's pause after each synced megabyte, at most (see pace). */
#define PACE_MAX_NS 20000000

/* The child's report on its pipe: i32 rc, u64 data bytes, the error's text. */
#define REPORT_BYTES (sizeof(int32_t) + sizeof(uint64_t) + BALLOT_ERRMSG_MAX)

static bool snapshot_due(const node *n)
{
	if (n->snapshot_requested)
		return true;
	/* Each node waits a little longer than the threshold, by its own random amount, so the
	 * nodes of a cluster (which apply the same entries) do not all snapshot at once. */
	uint64_t entries = n->cfg.snapshot_entries + n->cfg.snapshot_entries / 4 * n->snap.jitter / 1000;
	if (n->cfg.snapshot_entries != 0 && n->applied >= n->last_snapshot + entries)
		return true;
	/* The log since the last snapshot is held in memory: bound it, but let it grow to half
	 * the state's size, or a large state would be rewritten every few megabytes. */
	uint64_t bytes = n->cfg.snapshot_bytes + n->cfg.snapshot_bytes / 4 * n->snap.jitter / 1000;
	return n->cfg.snapshot_bytes != 0 && n->applied_bytes >= bytes && n->applied_bytes >= n->last_snapshot_bytes / 2;
}

/* Serializes the state into a buffer handed over whole (no copy of what may be gigabytes). */
static int serialize(node *n, ballot_rbuf **out)
{
	ballot_buf data;
	ballot_buf_init(&data, 0);
	*out = NULL;
	int rc = ballot_sessions_snapshot(n->sessions, &data);
	if (rc == 0 && (*out = ballot_rbuf_wrap(data.data, data.len, free, data.data)) == NULL)
		rc = BALLOT_ENOMEM;
	if (rc != 0)
		ballot_buf_free(&data);
	return rc;
}

/* ---- the writer ------------------------------------------------------------------------ */

/* Between the megabytes of a snapshot file: pause as long as the last one took to write and
 * sync (up to PACE_MAX_NS), so the writer has at most half the disk's time and the log's
 * syncs wait behind little of it. A gigabyte takes about twice as long to write. */
static void pace(void *ctx)
{
	uint64_t *since = ctx;
	uint64_t took = uv_hrtime() - *since;
	struct timespec ts = {.tv_nsec = (long)(took < PACE_MAX_NS ? took : PACE_MAX_NS)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	*since = uv_hrtime();
}

static int write_file(node *n, const ballot_rbuf *data, ballot_errmsg *em)
{
	uint64_t since = uv_hrtime();
	return node_store_write_snapshot_file(n->store, n->snap.index, n->snap.term, &n->snap.config, data, pace, &since,
					      em);
}

/* ---- the child ------------------------------------------------------------------------- */

static void write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

/* In the child: its memory is the parent's at the fork, and nothing else of the parent's
 * is its own. It writes the snapshot and its report, then exits without running anything
 * the parent set up (atexit handlers, stdio buffers, the loop). */
static _Noreturn void child_main(node *n, pid_t parent, int report_fd)
{
	/* The parent's death makes this snapshot pointless: go with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	/* Hold none of the parent's sockets or files (its listeners, its data dir's lock), so a
	 * restarted node can bind and lock while this one finishes. */
	if (report_fd > 3)
		close_range(3, (unsigned)report_fd - 1, 0);
	close_range((unsigned)report_fd + 1, ~0u, 0);
	/* For tests, as Redis's rdb-key-save-delay: a writer slow enough to be caught at work. */
	const char *delay = getenv("BALLOTD_TEST_SNAPSHOT_DELAY_MS");
	if (delay != NULL)
		usleep((useconds_t)(strtoul(delay, NULL, 10) % 60000) * 1000);
	ballot_errmsg em = {{0}};
	ballot_rbuf *data = NULL;
	int rc = serialize(n, &data);
	if (rc != 0)
		ballot_errorf(&em, rc, "serializing the state: %s", ballot_strerror(rc));
	else
		rc = write_file(n, data, &em);
	unsigned char report[REPORT_BYTES] = {0};
	int32_t rc32 = rc;
	uint64_t len = data != NULL ? data->len : 0;
	memcpy(report, &rc32, sizeof rc32);
	memcpy(report + sizeof rc32, &len, sizeof len);
	memcpy(report + sizeof rc32 + sizeof len, em.text, sizeof em.text);
	write_all(report_fd, report, sizeof report);
	_exit(0);
}

/* ---- the parent ------------------------------------------------------------------------ */

static void finished(node *n, int rc, const char *why)
{
	n->snap.running = false;
	n->snap.last_ms = node_now_ms() - n->snap.started_ms;
	n->snap.last_ok = rc == 0;
	if (rc == 0) {
		n->snap.written = true;
		fprintf(stderr, "ballotd: snapshot at index %llu written: %llu bytes in %llu ms\n",
			(unsigned long long)n->snap.index, (unsigned long long)n->snap.data_bytes,
			(unsigned long long)n->snap.last_ms);
		return;
	}
	/* The state in memory and the log on disk are whole: a snapshot that failed to be
	 * written loses nothing, and another is tried after a pause (as Redis retries a failed
	 * BGSAVE after 5 s), not at every turn. A disk that refuses writes will refuse the
	 * log's too, which stops the node. */
	n->snap.failures++;
	n->snap.retry_at_ms = node_now_ms() + SNAPSHOT_RETRY_MS;
	fprintf(stderr, "ballotd: the snapshot at index %llu was not written: %s\n", (unsigned long long)n->snap.index,
		why);
}

static void report_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	node *n = h->data;
	*buf = uv_buf_init((char *)n->snap.report + n->snap.report_len, (unsigned)(REPORT_BYTES - n->snap.report_len));
}

static void report_closed(uv_handle_t *h)
{
	(void)h;
}

/* The child is done when its end of the pipe closes: read its report and its exit. */
static void report_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	node *n = s->data;
	if (nread > 0) {
		n->snap.report_len += (size_t)nread;
		if (n->snap.report_len < REPORT_BYTES)
			return;
	} else if (nread == 0) {
		return;
	}
	uv_read_stop(s);
	uv_close((uv_handle_t *)s, report_closed);
	int status = 0;
	pid_t pid = n->snap.pid;
	n->snap.pid = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char why[BALLOT_ERRMSG_MAX + 64];
	int32_t rc = BALLOT_EIO;
	if (n->snap.report_len == REPORT_BYTES) {
		memcpy(&rc, n->snap.report, sizeof rc);
		memcpy(&n->snap.data_bytes, n->snap.report + sizeof rc, sizeof n->snap.data_bytes);
		snprintf(why, sizeof why, "%.*s", BALLOT_ERRMSG_MAX - 1, (const char *)n->snap.report + sizeof rc + sizeof(uint64_t));
	} else if (WIFSIGNALED(status)) {
		snprintf(why, sizeof why, "its writer (process %d) was killed by signal %d", (int)pid, WTERMSIG(status));
	} else {
		snprintf(why, sizeof why, "its writer (process %d) exited without a report", (int)pid);
	}
	finished(n, rc, why);
}

static bool start_child(node *n)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return false;
	pid_t parent = getpid();
	uint64_t before = uv_hrtime();
	pid_t pid = fork();
	if (pid == 0)
		child_main(n, parent, fds[1]);
	n->snap.fork_us = (uv_hrtime() - before) / 1000;
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return false;
	}
	n->snap.pid = pid;
	n->snap.report_len = 0;
	uv_pipe_init(n->loop, &n->snap.report_pipe, 0);
	n->snap.report_pipe.data = n;
	if (uv_pipe_open(&n->snap.report_pipe, fds[0]) != 0 ||
	    uv_read_start((uv_stream_t *)&n->snap.report_pipe, report_alloc, report_read) != 0) {
		/* Cannot hear from it: stop it and write from here instead. */
		uv_close((uv_handle_t *)&n->snap.report_pipe, report_closed);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		n->snap.pid = 0;
		return false;
	}
	return true;
}

static void write_work(uv_work_t *req)
{
	node *n = req->data;
	n->snap.rc = write_file(n, n->snap.data, &n->snap.em);
}

static void write_done(uv_work_t *req, int status)
{
	node *n = req->data;
	ballot_rbuf_unref(n->snap.data);
	n->snap.data = NULL;
	int rc = status != 0 ? BALLOT_EIO : n->snap.rc;
	finished(n, rc, status != 0 ? uv_strerror(status) : n->snap.em.text);
}

static bool start_thread(node *n)
{
	ballot_rbuf *data = NULL;
	if (serialize(n, &data) != 0)
		return false; /* out of memory: tried again when due */
	n->snap.data = data;
	n->snap.data_bytes = data->len;
	n->snap.req.data = n;
	uv_queue_work(n->loop, &n->snap.req, write_work, write_done);
	return true;
}

void node_snapshot_maybe(node *n)
{
	if (n->snap.running || n->snap.written || n->fatal != 0 || !snapshot_due(n) || n->applied <= n->last_snapshot)
		return;
	if (!n->snapshot_requested && node_now_ms() < n->snap.retry_at_ms)
		return;
	n->snapshot_requested = false;
	uint64_t index = n->applied;
	if (ballot_raft_config_at(n->raft, index, &n->snap.config) != 0)
		return; /* the index is in the core's snapshot already */
	n->snap.index = index;
	n->snap.term = ballot_raft_term_at(n->raft, index);
	n->snap.data_bytes = 0;
	n->snap.started_ms = node_now_ms();
	n->snap.running = true;
	n->snap.jitter = ballot_rng_below(&n->snap.rng, 1000);
	n->snap.last_forked = n->cfg.snapshot_fork && start_child(n);
	if (!n->snap.last_forked && !start_thread(n)) {
		n->snap.running = false;
		n->snap.retry_at_ms = n->snap.started_ms + SNAPSHOT_RETRY_MS; /* out of memory */
		return;
	}
	if (n->snap.last_forked)
		fprintf(stderr, "ballotd: snapshot at index %llu: writer process %d started (fork took %llu us)\n",
			(unsigned long long)index, (int)n->snap.pid, (unsigned long long)n->snap.fork_us);
	else
		fprintf(stderr, "ballotd: snapshot at index %llu: serialized, a pool thread writes it\n",
			(unsigned long long)index);
	n->applied_bytes = 0;
}

void node_snapshot_adopt(node *n)
{
	if (!n->snap.written || n->persisting || n->fatal != 0)
		return;
	/* The state may have run ahead of the stored log (entries a majority holds, applied
	 * while this node's own write of them waited): its snapshot is adopted once the log
	 * holds its index. Waiting to take it instead could wait for ever under load, a leader
	 * applying what its followers commit ahead of its own syncs (--leader-sync-ms). */
	if (n->snap.index > ballot_raft_stable_index(n->raft))
		return;
	n->snap.written = false;
	bool adopted = false;
	ballot_errmsg em;
	if (node_store_adopt_snapshot(n->store, n->snap.index, n->snap.term, &n->snap.config, n->snap.data_bytes,
				      &adopted, &em) != 0) {
		node_fatal(n, BALLOT_EIO, "could not adopt the snapshot at index %llu: %s",
			   (unsigned long long)n->snap.index, em.text);
		return;
	}
	n->snap.count++;
	n->snap.last_index = n->snap.index;
	if (!adopted)
		return; /* overtaken by the leader's snapshot (apply_ready noted it) */
	n->last_snapshot = n->snap.index;
	n->last_snapshot_bytes = n->snap.data_bytes;
	/* The core holds the saved file's bytes, mapped (paged in only to send them to a
	 * follower), rather than a copy. */
	ballot_rbuf *data = node_store_map_snapshot(n->store);
	if (data == NULL || data->len != n->snap.data_bytes) {
		/* The store has the snapshot; the core keeps its log until the next one. */
		ballot_rbuf_unref(data);
		return;
	}
	ballot_raft_compact(n->raft, n->snap.index, data);
	ballot_rbuf_unref(data);
	node_compact_store(n);
}

/* ---- the stored log follows the core's ------------------------------------------------ */

static void remove_work(uv_work_t *req)
{
	node *n = req->data;
	n->removal.rc = node_store_remove_files(&n->removal.paths, &n->removal.em);
}

static void remove_done(uv_work_t *req, int status)
{
	node *n = req->data;
	n->removal.running = false;
	ballot_fs_names_free(&n->removal.paths);
	/* A file left behind holds only entries the snapshot has: the next start removes it. */
	if (status != 0 || n->removal.rc != 0)
		fprintf(stderr, "ballotd: could not remove a compacted log segment: %s\n",
			status != 0 ? uv_strerror(status) : n->removal.em.text);
}

void node_compact_store(node *n)
{
	if (n->persisting || n->removal.running || n->fatal != 0)
		return;
	ballot_raft_status st;
	ballot_raft_status_get(n->raft, &st);
	ballot_errmsg em;
	if (node_store_compact(n->store, st.first_index, &n->removal.paths, &em) != 0) {
		node_fatal(n, BALLOT_EIO, "could not compact the log: %s", em.text);
		return;
	}
	if (n->removal.paths.count == 0)
		return;
	/* Unlinking a segment of 64 MiB takes a journal commit and the disk's discards: on the
	 * loop it stalled every client for 100-300 ms. */
	n->removal.running = true;
	n->removal.req.data = n;
	uv_queue_work(n->loop, &n->removal.req, remove_work, remove_done);
}

void node_snapshot_stop(node *n)
{
	if (n->snap.pid > 0) {
		/* Its temporary file is removed at the next start. */
		kill(n->snap.pid, SIGKILL);
		while (waitpid(n->snap.pid, NULL, 0) < 0 && errno == EINTR)
			;
		n->snap.pid = 0;
		n->snap.running = false;
	}
}

void node_info_persistence(node *n, ballot_buf *out)
{
	uint64_t now = node_now_ms();
	ballot_buf_printf(out, "# Persistence\r\nsnapshot_in_progress:%d\r\nsnapshot_writer:%s\r\n"
			  "snapshots_taken:%llu\r\nsnapshot_failures:%llu\r\nlast_snapshot_status:%s\r\n"
			  "last_snapshot_index:%llu\r\nlast_snapshot_bytes:%llu\r\nlast_snapshot_ms:%llu\r\n"
			  "current_snapshot_ms:%llu\r\nloading:0\r\nrdb_bgsave_in_progress:%d\r\naof_rewrite_in_progress:0\r\n"
			  "log_syncs:%llu\r\nleader_sync_holds:%llu\r\n",
			  n->snap.running, n->snap.running || n->snap.count > 0 ? (n->snap.last_forked ? "fork" : "thread")
										  : (n->cfg.snapshot_fork ? "fork" : "thread"),
			  (unsigned long long)n->snap.count, (unsigned long long)n->snap.failures,
			  n->snap.failures == 0 || n->snap.last_ok ? "ok" : "err", (unsigned long long)n->snap.last_index,
			  (unsigned long long)n->last_snapshot_bytes, (unsigned long long)n->snap.last_ms,
			  (unsigned long long)(n->snap.running ? now - n->snap.started_ms : 0), n->snap.running,
			  (unsigned long long)n->log_syncs, (unsigned long long)n->log_sync_holds);
}

/* ---- a spare segment for the next roll ------------------------------------------------- */

static void spare_work(uv_work_t *req)
{
	node *n = req->data;
	n->spare.rc = node_store_prepare_spare(n->store, &n->spare.em);
}

static void spare_done(uv_work_t *req, int status)
{
	node *n = req->data;
	n->spare.running = false;
	n->spare.ready = status == 0 && n->spare.rc == 0;
	/* Without a spare the next segment is made as before: nothing is lost. */
	if (!n->spare.ready)
		fprintf(stderr, "ballotd: could not prepare a spare log segment: %s\n",
			status != 0 ? uv_strerror(status) : n->spare.em.text);
}

void node_prepare_spare(node *n)
{
	if (n->spare.running || n->persisting || n->fatal != 0)
		return;
	uint64_t taken = node_store_spares_taken(n->store);
	if (n->spare.ready && taken == n->spare.taken)
		return; /* the last one is still there */
	if (n->spare.rc != 0)
		return; /* it failed once: the log makes its segments as before */
	n->spare.taken = taken;
	n->spare.ready = false;
	n->spare.running = true;
	n->spare.req.data = n;
	uv_queue_work(n->loop, &n->spare.req, spare_work, spare_done);
}
