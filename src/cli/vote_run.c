/* Running N versions as processes for `ballot vote` (see cli/vote_run.h). */
#include "cli/vote_run.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/assert.h"

enum { INPUT_NONE = 0, INPUT_STREAM = 1, INPUT_FILE = 2 };

/* One block of standard input, shared by the writes to every version. */
typedef struct input_chunk {
	unsigned refs;
	size_t len;
	char data[];
} input_chunk;

typedef struct input_write {
	uv_write_t req;
	input_chunk *chunk;
	vote_proc *proc;
} input_write;

static void maybe_finish(vote_proc *p);
static void input_resume(vote_runner *r);

static void on_handle_closed(uv_handle_t *handle)
{
	vote_proc *p = handle->data;
	if (p != NULL)
		maybe_finish(p);
}

static void close_handle(uv_handle_t *handle)
{
	if (!uv_is_closing(handle))
		uv_close(handle, on_handle_closed);
}

static void close_stdin(vote_proc *p)
{
	if (!p->in_open)
		return;
	p->in_open = false;
	close_handle((uv_handle_t *)&p->in_pipe);
}

static void close_stdout(vote_proc *p)
{
	if (!p->out_open)
		return;
	p->out_open = false;
	close_handle((uv_handle_t *)&p->out_pipe);
}

static void close_stderr(vote_proc *p)
{
	if (!p->err_open)
		return;
	p->err_open = false;
	close_handle((uv_handle_t *)&p->err_pipe);
}

static void kill_group(vote_proc *p)
{
	/* The version leads its own process group (UV_PROCESS_DETACHED: setsid), so -pid
	 * reaches its children too. POSIX keeps a pid from reuse while its group lives. */
	if (p->spawned && p->process.pid > 0)
		kill(-p->process.pid, SIGKILL);
}

static void runner_stop(vote_runner *r)
{
	if (r->stopping)
		return;
	r->stopping = true;
	uv_timer_stop(&r->timer);
	close_handle((uv_handle_t *)&r->timer);
	close_handle((uv_handle_t *)&r->sigint);
	close_handle((uv_handle_t *)&r->sigterm);
	if (r->in_kind == INPUT_STREAM)
		close_handle((uv_handle_t *)&r->in_stream);
	r->in_eof = true;
}

/* A version is finished once it exited and its output pipes are closed. */
static void maybe_finish(vote_proc *p)
{
	if (p->finished || p->out_open || p->err_open || !p->exited)
		return;
	close_stdin(p);
	if (p->spawned && !uv_is_closing((uv_handle_t *)&p->process))
		uv_close((uv_handle_t *)&p->process, NULL);
	p->finished = true;
	vote_runner *r = p->runner;
	BALLOT_ASSERT(r->unfinished > 0);
	r->unfinished--;
	input_resume(r);
	if (r->on_progress != NULL)
		r->on_progress(r, r->ctx);
	if (r->unfinished == 0)
		runner_stop(r);
}

void vote_runner_fail(vote_runner *r, size_t i, const char *fmt, ...)
{
	vote_proc *p = &r->procs[i];
	if (!p->failed) {
		p->failed = true;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->why, sizeof p->why, fmt, ap);
		va_end(ap);
	}
	if (!p->exited)
		kill_group(p);
	/* Once given up on, its pipes close now: a grandchild outside its group that holds
	 * them must not keep ballot waiting. */
	close_stdout(p);
	close_stderr(p);
	close_stdin(p);
	maybe_finish(p);
}

static void on_exit_cb(uv_process_t *process, int64_t exit_status, int term_signal)
{
	vote_proc *p = process->data;
	p->exited = true;
	p->exit_status = exit_status;
	p->term_signal = term_signal;
	p->end_ns = uv_hrtime();
	/* Children it left behind die with it: bounded in time, and its pipes reach EOF. */
	kill(-process->pid, SIGKILL);
	close_stdin(p);
	if (p->failed) {
		close_stdout(p);
		close_stderr(p);
	}
	maybe_finish(p);
}

static void alloc_scratch(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	vote_proc *p = handle->data;
	*buf = uv_buf_init(p->runner->scratch, sizeof p->runner->scratch);
}

static void on_stdout(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	vote_proc *p = stream->data;
	vote_runner *r = p->runner;
	if (nread < 0) {
		close_stdout(p);
		maybe_finish(p);
		if (r->on_progress != NULL && !p->finished)
			r->on_progress(r, r->ctx);
		return;
	}
	if (nread == 0)
		return;
	if (!r->pause_at_limit && p->out_total + (uint64_t)nread > r->out_limit) {
		vote_runner_fail(r, p->index, "wrote more than %zu bytes (--max-output)", r->out_limit);
		return;
	}
	if (ballot_buf_append(&p->out, buf->base, (size_t)nread) != 0) {
		vote_runner_fail(r, p->index, "output could not be stored (out of memory)");
		return;
	}
	p->out_total += (uint64_t)nread;
	if (r->pause_at_limit && p->out.len >= r->out_limit) {
		uv_read_stop(stream);
		p->out_paused = true;
	}
	if (r->on_progress != NULL)
		r->on_progress(r, r->ctx);
}

static void on_stderr(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	vote_proc *p = stream->data;
	if (nread < 0) {
		close_stderr(p);
		maybe_finish(p);
		return;
	}
	size_t keep = BALLOT_VOTE_STDERR_KEEP_BYTES - p->err.len;
	if ((size_t)nread < keep)
		keep = (size_t)nread;
	if (keep > 0)
		(void)ballot_buf_append(&p->err, buf->base, keep); /* best effort: diagnostics only */
}

void vote_runner_consume(vote_runner *r, size_t i, size_t n)
{
	vote_proc *p = &r->procs[i];
	ballot_buf_consume(&p->out, n);
	if (p->out_paused && p->out_open && p->out.len < r->out_limit) {
		p->out_paused = false;
		uv_read_start((uv_stream_t *)&p->out_pipe, alloc_scratch, on_stdout);
	}
}

/* ---- standard input ----------------------------------------------------------------- */

static void chunk_release(input_chunk *c)
{
	BALLOT_ASSERT(c->refs > 0);
	if (--c->refs == 0)
		free(c);
}

static bool input_congested(const vote_runner *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->procs[i].in_open && r->procs[i].in_backlog > BALLOT_VOTE_STDIN_BACKLOG_BYTES)
			return true;
	}
	return false;
}

static bool input_wanted(const vote_runner *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->procs[i].in_open)
			return true;
	}
	return false;
}

static void on_input_written(uv_write_t *req, int status)
{
	input_write *w = (input_write *)req;
	vote_proc *p = w->proc;
	BALLOT_ASSERT(p->in_backlog >= w->chunk->len);
	p->in_backlog -= w->chunk->len;
	chunk_release(w->chunk);
	free(w);
	if (status < 0)
		close_stdin(p); /* it stopped reading (EPIPE) or exited: feed it no more */
	input_resume(p->runner);
}

/* Queues one block of input to every version still reading. Takes ownership of c. */
static void input_fan_out(vote_runner *r, input_chunk *c)
{
	c->refs = 1;
	for (size_t i = 0; i < r->n; i++) {
		vote_proc *p = &r->procs[i];
		if (!p->in_open)
			continue;
		input_write *w = malloc(sizeof *w);
		if (w == NULL) {
			vote_runner_fail(r, i, "its input could not be queued (out of memory)");
			continue;
		}
		w->chunk = c;
		w->proc = p;
		uv_buf_t buf = uv_buf_init(c->data, (unsigned)c->len);
		if (uv_write(&w->req, (uv_stream_t *)&p->in_pipe, &buf, 1, on_input_written) != 0) {
			free(w);
			close_stdin(p);
			continue;
		}
		c->refs++;
		p->in_backlog += c->len;
	}
	chunk_release(c);
}

static void on_stdin_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	vote_proc *p = req->data;
	free(req);
	close_stdin(p);
}

static void input_end(vote_runner *r)
{
	r->in_eof = true;
	for (size_t i = 0; i < r->n; i++) {
		vote_proc *p = &r->procs[i];
		if (!p->in_open)
			continue;
		uv_shutdown_t *req = malloc(sizeof *req);
		if (req == NULL || uv_shutdown(req, (uv_stream_t *)&p->in_pipe, on_stdin_shutdown) != 0) {
			free(req);
			close_stdin(p);
			continue;
		}
		req->data = p;
	}
	if (r->in_kind == INPUT_STREAM)
		close_handle((uv_handle_t *)&r->in_stream);
}

static void input_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	vote_runner *r = handle->data;
	*buf = uv_buf_init(r->scratch, sizeof r->scratch);
}

static input_chunk *chunk_copy(const char *data, size_t len)
{
	input_chunk *c = malloc(sizeof *c + len);
	if (c != NULL) {
		c->len = len;
		memcpy(c->data, data, len);
	}
	return c;
}

static void after_input(vote_runner *r)
{
	if (!input_wanted(r)) {
		input_end(r);
		return;
	}
	if (input_congested(r)) {
		r->in_paused = true;
		if (r->in_kind == INPUT_STREAM)
			uv_read_stop((uv_stream_t *)&r->in_stream);
	}
}

static void on_stdin_stream(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	vote_runner *r = stream->data;
	if (nread < 0) {
		input_end(r);
		return;
	}
	if (nread == 0)
		return;
	input_chunk *c = chunk_copy(buf->base, (size_t)nread);
	if (c == NULL) {
		input_end(r);
		return;
	}
	input_fan_out(r, c);
	after_input(r);
}

static void file_read_next(vote_runner *r);

static void on_stdin_file(uv_fs_t *req)
{
	vote_runner *r = req->data;
	ssize_t nread = req->result;
	uv_fs_req_cleanup(req);
	r->in_reading = false;
	if (r->in_eof)
		return;
	if (nread <= 0) {
		input_end(r);
		return;
	}
	input_chunk *c = chunk_copy(r->in_file_buf, (size_t)nread);
	if (c == NULL) {
		input_end(r);
		return;
	}
	input_fan_out(r, c);
	after_input(r);
	if (!r->in_paused && !r->in_eof)
		file_read_next(r);
}

static void file_read_next(vote_runner *r)
{
	uv_buf_t buf = uv_buf_init(r->in_file_buf, 64 * 1024);
	r->in_req.data = r;
	r->in_reading = true;
	if (uv_fs_read(&r->loop, &r->in_req, 0, &buf, 1, -1, on_stdin_file) != 0) {
		r->in_reading = false;
		input_end(r);
	}
}

static void input_resume(vote_runner *r)
{
	if (!r->in_paused || r->in_eof || input_congested(r))
		return;
	r->in_paused = false;
	if (r->in_kind == INPUT_STREAM)
		uv_read_start((uv_stream_t *)&r->in_stream, input_alloc, on_stdin_stream);
	else if (r->in_kind == INPUT_FILE && !r->in_reading)
		file_read_next(r);
}

/* Decides how to read ballot's own standard input: a terminal is nobody's input (versions
 * get /dev/null, and nothing waits for a Ctrl-D), a pipe or socket is streamed, anything
 * else (a file, /dev/null) is read as a file. */
static void input_start(vote_runner *r)
{
	uv_handle_type type = uv_guess_handle(0);
	if (type == UV_TTY || fcntl(0, F_GETFD) < 0) {
		r->in_kind = INPUT_NONE;
		r->in_eof = true;
		return;
	}
	if (type == UV_NAMED_PIPE || type == UV_TCP) {
		r->in_kind = INPUT_STREAM;
		uv_pipe_init(&r->loop, &r->in_stream, 0);
		r->in_stream.data = r;
		if (uv_pipe_open(&r->in_stream, 0) == 0 &&
		    uv_read_start((uv_stream_t *)&r->in_stream, input_alloc, on_stdin_stream) == 0)
			return;
		close_handle((uv_handle_t *)&r->in_stream);
	}
	r->in_kind = INPUT_FILE;
	r->in_file_buf = malloc(64 * 1024);
	if (r->in_file_buf == NULL) {
		input_end(r);
		return;
	}
	file_read_next(r);
}

/* ---- spawning ----------------------------------------------------------------------- */

static void on_signal(uv_signal_t *handle, int signum)
{
	vote_runner *r = handle->data;
	r->interrupted_by = signum;
	for (size_t i = 0; i < r->n; i++)
		vote_runner_fail(r, i, "ballot was interrupted by signal %d", signum);
	runner_stop(r);
}

int vote_runner_init(vote_runner *r, char **cmds, size_t n, size_t out_limit, bool pause_at_limit,
		     vote_progress_fn on_progress, void *ctx)
{
	BALLOT_ASSERT(n >= 1);
	BALLOT_ASSERT(n <= BALLOT_VOTE_MODULES_MAX);
	memset(r, 0, offsetof(vote_runner, scratch));
	int rc = uv_loop_init(&r->loop);
	if (rc != 0)
		return rc;
	r->n = n;
	r->out_limit = out_limit;
	r->pause_at_limit = pause_at_limit;
	r->on_progress = on_progress;
	r->ctx = ctx;
	r->unfinished = (unsigned)n;
	uv_timer_init(&r->loop, &r->timer);
	r->timer.data = r;
	uv_signal_init(&r->loop, &r->sigint);
	uv_signal_init(&r->loop, &r->sigterm);
	r->sigint.data = r;
	r->sigterm.data = r;
	for (size_t i = 0; i < n; i++) {
		vote_proc *p = &r->procs[i];
		p->runner = r;
		p->index = (unsigned)i;
		p->cmd = cmds[i];
		ballot_buf_init(&p->out, 0);
		ballot_buf_init(&p->err, 0);
	}
	return 0;
}

static void spawn_one(vote_runner *r, vote_proc *p, bool feed_input)
{
	uv_pipe_init(&r->loop, &p->in_pipe, 0);
	uv_pipe_init(&r->loop, &p->out_pipe, 0);
	uv_pipe_init(&r->loop, &p->err_pipe, 0);
	p->in_pipe.data = p->out_pipe.data = p->err_pipe.data = p->process.data = p;
	p->in_open = p->out_open = p->err_open = true;

	char *args[] = {"/bin/sh", "-c", (char *)p->cmd, NULL};
	uv_stdio_container_t stdio[3] = {
		{.flags = feed_input ? UV_CREATE_PIPE | UV_READABLE_PIPE : UV_IGNORE,
		 .data.stream = (uv_stream_t *)&p->in_pipe},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&p->out_pipe},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&p->err_pipe},
	};
	uv_process_options_t options = {
		.file = args[0],
		.args = args,
		.exit_cb = on_exit_cb,
		.flags = UV_PROCESS_DETACHED,
		.stdio_count = 3,
		.stdio = stdio,
	};
	p->start_ns = uv_hrtime();
	int rc = uv_spawn(&r->loop, &p->process, &options);
	if (rc != 0) {
		/* libuv leaves a failed process handle initialized; it must still be closed. */
		uv_close((uv_handle_t *)&p->process, NULL);
		p->exited = true;
		p->end_ns = p->start_ns;
		vote_runner_fail(r, p->index, "could not be started: %s", uv_strerror(rc));
		return;
	}
	p->spawned = true;
	if (!feed_input)
		close_stdin(p);
	uv_read_start((uv_stream_t *)&p->out_pipe, alloc_scratch, on_stdout);
	uv_read_start((uv_stream_t *)&p->err_pipe, alloc_scratch, on_stderr);
}

void vote_runner_start(vote_runner *r)
{
	/* A version that stops reading its input must not kill ballot with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	uv_signal_start(&r->sigint, on_signal, SIGINT);
	uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	uv_handle_type type = uv_guess_handle(0);
	bool feed_input = type != UV_TTY && fcntl(0, F_GETFD) >= 0;
	for (size_t i = 0; i < r->n; i++)
		spawn_one(r, &r->procs[i], feed_input);
	if (feed_input && input_wanted(r))
		input_start(r);
	else
		r->in_eof = true;
}

void vote_runner_run(vote_runner *r)
{
	if (r->unfinished == 0)
		runner_stop(r);
	uv_run(&r->loop, UV_RUN_DEFAULT);
}

void vote_runner_deadline(vote_runner *r, uint64_t ms, uv_timer_cb cb)
{
	if (r->stopping)
		return;
	uv_timer_start(&r->timer, cb, ms, 0);
}

void vote_runner_free(vote_runner *r)
{
	for (size_t i = 0; i < r->n; i++) {
		ballot_buf_free(&r->procs[i].out);
		ballot_buf_free(&r->procs[i].err);
	}
	free(r->in_file_buf);
	r->in_file_buf = NULL;
	uv_loop_close(&r->loop);
}

void vote_proc_describe(const vote_proc *p, char *out, size_t cap)
{
	if (p->failed)
		snprintf(out, cap, "%s", p->why);
	else if (p->term_signal != 0)
		snprintf(out, cap, "killed by signal %d", p->term_signal);
	else if (p->exit_status != 0)
		snprintf(out, cap, "exited with status %lld", (long long)p->exit_status);
	else
		snprintf(out, cap, "exited with status 0");
}
