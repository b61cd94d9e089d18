/* Running N versions of a program as processes, for `ballot vote` (libuv).
 *
 * The runner spawns each command with `/bin/sh -c` in a process group of its own, feeds
 * every version the same standard input (read once from ballot's own, streamed to all;
 * the slowest reader sets the pace, so memory stays bounded), collects each version's
 * standard output into a bounded buffer and the head of its standard error, and can kill a
 * version with its whole process group. It decides nothing: after every bit of progress
 * (output arrived, a version finished) it calls on_progress, and the caller votes.
 *
 * A version is finished when its process has exited and its output pipes are closed. When
 * its shell exits, the runner kills what is left of its process group, so children that
 * outlive it cannot hold its output open. */
#ifndef BALLOT_CLI_VOTE_RUN_H
#define BALLOT_CLI_VOTE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ballot/limits.h"
#include "common/buf.h"

typedef struct vote_runner vote_runner;

typedef struct vote_proc {
	vote_runner *runner;
	unsigned index;          /* 0-based; messages say index + 1 */
	const char *cmd;         /* borrowed from argv */
	uv_process_t process;
	uv_pipe_t in_pipe, out_pipe, err_pipe;
	bool spawned, exited, finished;
	bool in_open, out_open, err_open;
	bool out_paused;
	int64_t exit_status;
	int term_signal;
	uint64_t start_ns, end_ns;
	ballot_buf out;          /* stdout bytes not yet consumed by the caller */
	uint64_t out_total;      /* stdout bytes read in all */
	ballot_buf err;          /* the first BALLOT_VOTE_STDERR_KEEP_BYTES of stderr */
	size_t in_backlog;       /* input bytes queued to this version */
	bool failed;             /* the runner or the caller gave up on it */
	char why[192];           /* why it failed */
} vote_proc;

typedef void (*vote_progress_fn)(vote_runner *runner, void *ctx);

struct vote_runner {
	uv_loop_t loop;
	size_t n;
	vote_proc procs[BALLOT_VOTE_MODULES_MAX];
	size_t out_limit;       /* stdout bytes buffered per version */
	bool pause_at_limit;    /* true: stop reading until consumed; false: fail the version */
	vote_progress_fn on_progress;
	void *ctx;
	unsigned unfinished;
	bool stopping;          /* all finished or interrupted: close what is left */
	int interrupted_by;     /* a signal ballot got (SIGINT, SIGTERM), or 0 */
	uv_timer_t timer;
	uv_signal_t sigint, sigterm;
	/* standard input */
	int in_kind;            /* 0 none (tty or closed), 1 stream, 2 file */
	bool in_eof, in_paused, in_reading;
	uv_pipe_t in_stream;
	uv_fs_t in_req;
	char *in_file_buf;
	char scratch[64 * 1024];
};

/* Sets up a runner for n commands (borrowed). out_limit bounds each version's buffered
 * stdout: past it the version fails ("wrote more than N bytes"), or with pause_at_limit,
 * its output is not read until the caller consumes some. Returns 0 or a negative libuv
 * error. */
int vote_runner_init(vote_runner *r, char **cmds, size_t n, size_t out_limit, bool pause_at_limit,
		     vote_progress_fn on_progress, void *ctx);

/* Spawns every version and starts feeding input; then run the loop with vote_runner_run.
 * A version that cannot be spawned is failed, not an error. */
void vote_runner_start(vote_runner *r);

/* Runs the event loop until every version has finished and every handle is closed. */
void vote_runner_run(vote_runner *r);

/* Arms the one deadline timer to call cb after ms milliseconds (rearming replaces it). */
void vote_runner_deadline(vote_runner *r, uint64_t ms, uv_timer_cb cb);

/* Gives up on version i: records why (the first reason wins), kills its process group and
 * closes its pipes. */
void vote_runner_fail(vote_runner *r, size_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The caller used the first n bytes of version i's buffered output. */
void vote_runner_consume(vote_runner *r, size_t i, size_t n);

/* Releases the runner's memory. Precondition: vote_runner_run returned. */
void vote_runner_free(vote_runner *r);

/* Writes a one-line description of how version i ended ("exited with status 1", "killed by
 * signal 9", or its failure reason) into out. */
void vote_proc_describe(const vote_proc *p, char *out, size_t cap);

#endif
