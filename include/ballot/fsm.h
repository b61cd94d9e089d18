/* ballot replicated state machines: the interface the log applies to, and exactly-once
 * client sessions over any such machine.
 *
 * The Raft core replicates opaque entries. A node applies each committed entry, in log
 * order, to a state machine behind a ballot_fsm vtable, so ballot's key-value store and a
 * user's own machine replicate the same way. Every replica applies the same entries in the
 * same order, so a machine must be deterministic: its state and its replies may depend on
 * the entries alone, never on a replica's clock, randomness, addresses or memory layout.
 *
 * A client that retries a proposal after a timeout or a leader change may get it committed
 * twice. Sessions make that harmless (Raft thesis §6.3, "Implementing linearizable
 * semantics"): each proposal travels in an envelope naming its client session and sequence
 * number, and a replica applies a sequence number once and answers its duplicates from the
 * reply it cached. Sessions expire by the leader-stamped time carried in the entries, so
 * every replica forgets the same session at the same log position.
 *
 * Buffers: ballot_buf is ballot's growable byte buffer (its definition is in the library's
 * src/common/buf.h); a state machine only appends to the buffers it is given, with
 * ballot_fsm_append below or ballot_buf_append inside the library. */
#ifndef BALLOT_FSM_H
#define BALLOT_FSM_H

#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"
#include "ballot/limits.h"

typedef struct ballot_buf ballot_buf;

/* A deterministic state machine. ctx belongs to whoever made the machine; the vtable
 * borrows it, and the machine must outlive every use of the vtable. */
typedef struct ballot_fsm {
	void *ctx;

	/* Applies the committed command cmd[0..len) at log index `index`, with the time
	 * `time_ms` the leader stamped on the entry (never a replica's own clock), and appends
	 * its reply to `reply`. A command the machine refuses (malformed, wrong arguments) is
	 * still applied: it answers an error reply and returns 0, on every replica alike.
	 * Returns 0, or a negative code when the machine could not apply the command at all
	 * (BALLOT_ENOMEM, or the reply buffer's limit): the replica's state may then differ
	 * from the others', and the caller must stop it and recover from a snapshot and the
	 * log. cmd is borrowed for the call. */
	int (*apply)(void *ctx, uint64_t index, uint64_t time_ms, const void *cmd, size_t len,
		     ballot_buf *reply);

	/* Answers a read-only command (encoded as for apply) from the current state without
	 * changing it, for reads served outside the log (Raft ReadIndex). A command that
	 * would write answers an error reply. May be NULL: the machine has no read path and
	 * every read goes through the log. Returns 0 or a negative code as apply. */
	int (*query)(void *ctx, const void *cmd, size_t len, ballot_buf *reply);

	/* Appends the whole state, serialized, to out. Equal states must give equal bytes.
	 * Returns 0, BALLOT_ENOMEM or BALLOT_ELIMIT (out's limit); on failure out may hold a
	 * partial snapshot after its old length, which the caller discards. */
	int (*snapshot)(void *ctx, ballot_buf *out);

	/* Replaces the whole state with the snapshot data[0..len). On any failure the old
	 * state is kept and em says what was wrong: BALLOT_ECORRUPT for bytes that fail the
	 * machine's checks, BALLOT_ENOMEM. data is borrowed for the call. */
	int (*restore)(void *ctx, const void *data, size_t len, ballot_errmsg *em);
} ballot_fsm;

/* Appends data[0..len) to a buffer handed to a state machine (a reply or a snapshot), for
 * machines written outside the library. Returns 0, BALLOT_ENOMEM or BALLOT_ELIMIT; on
 * failure the buffer is unchanged. */
int ballot_fsm_append(ballot_buf *out, const void *data, size_t len);

/* --- Envelopes: what a proposal carries ------------------------------------------------
 *
 * Wire format, little-endian fixed-width integers:
 *   u8  version     BALLOT_ENVELOPE_VERSION
 *   u64 client_id   the client session; 0: no session (applied every time)
 *   u64 seq         the session's sequence number, from 1; ignored when client_id is 0
 *   u64 time_ms     milliseconds since the Unix epoch, stamped by the leader that proposed
 *   ... cmd         the state machine command: every byte after the header */

#define BALLOT_ENVELOPE_VERSION 1
#define BALLOT_ENVELOPE_HEADER_BYTES 25

typedef struct ballot_envelope {
	uint64_t client_id;
	uint64_t seq;
	uint64_t time_ms;
	const void *cmd; /* borrowed: after decode, points into the decoded bytes */
	size_t cmd_len;
} ballot_envelope;

/* Appends the envelope e to out: the header, then e->cmd_len bytes of e->cmd. With
 * cmd_len 0 only the header is written, and the caller may append the command itself
 * (ballot_kv_encode into the same buffer) without a copy. Returns 0, BALLOT_ENOMEM or
 * BALLOT_ELIMIT; on failure out is unchanged. */
int ballot_envelope_encode(const ballot_envelope *e, ballot_buf *out);

/* Decodes the envelope in data[0..len) into e; e->cmd then points into data. Safe on any
 * bytes: returns 0, or BALLOT_ECORRUPT (too short, unknown version) with em saying why. */
int ballot_envelope_decode(const void *data, size_t len, ballot_envelope *e, ballot_errmsg *em);

/* --- Sessions -------------------------------------------------------------------------
 *
 * Applying an envelope of client c (c != 0) with sequence s, when c's session last applied
 * sequence `last`:
 *   s == last       the cached reply again; the machine is not called;
 *   s <  last       "-ERR stale request: ..."; the machine is not called;
 *   s >  last       the machine applies cmd; its reply is cached as c's last.
 * With no session for c, s == 1 opens one; s > 1 answers "-ERR session expired: ...",
 * because c had a session that expired or was evicted, and applying could repeat a command
 * already applied under it: the client must start over with a new client id. s == 0 is
 * refused. A client keeps one request in flight per session: a request overtaken by a
 * later one of the same session is answered as stale.
 *
 * The session clock is the largest time_ms applied so far (a new leader's clock may be
 * behind the old one's; the clock does not go back). Before each envelope, sessions idle
 * for longer than the TTL by that clock are forgotten; when the table is full, opening a
 * session forgets the least recently used one. Both depend only on the log, so every
 * replica forgets the same sessions at the same entries. All replicas of a cluster must
 * use the same session configuration. */

typedef struct ballot_session_config {
	uint64_t ttl_ms;       /* 1 .. BALLOT_SESSION_TTL_MAX_MS */
	uint32_t sessions_max; /* 1 .. BALLOT_SESSIONS_MAX */
} ballot_session_config;

/* The defaults: BALLOT_SESSION_TTL_DEFAULT_MS and BALLOT_SESSIONS_DEFAULT. */
ballot_session_config ballot_session_config_default(void);

/* Returns 0 or BALLOT_EINVAL / BALLOT_ELIMIT with em naming the bad field. */
int ballot_session_config_check(const ballot_session_config *config, ballot_errmsg *em);

typedef struct ballot_sessions ballot_sessions;

/* Makes a session table in front of the machine fsm (borrowed: it must outlive the table).
 * Returns 0 and *out, or BALLOT_EINVAL / BALLOT_ELIMIT (bad config), BALLOT_ENOMEM. */
int ballot_sessions_new(const ballot_session_config *config, ballot_fsm fsm, ballot_sessions **out,
			ballot_errmsg *em);

/* Frees the table and its cached replies, not the machine. NULL is allowed. */
void ballot_sessions_free(ballot_sessions *s);

/* Applies the committed entry[0..len) (an envelope) at log index `index` as described above
 * and appends the reply. The machine gets the session clock as its time_ms (the envelope's
 * time, or a later one already applied), so the time it sees never goes back. A malformed
 * envelope is answered with an error reply, on every replica alike. Returns 0, or a
 * negative code from the machine's apply or from the reply buffer (see ballot_fsm.apply:
 * the replica must then stop). */
int ballot_sessions_apply(ballot_sessions *s, uint64_t index, const void *entry, size_t len,
			  ballot_buf *reply);

/* Appends a snapshot of the sessions and of the machine to out:
 *   "BSES", u8 version 1, u64 clock_ms, u32 n,
 *   n x (u64 client_id, u64 seq, u64 last_used_ms, u64 reply_len, reply bytes), oldest first,
 *   u64 machine_len, machine snapshot, u64 XXH3-64 of every byte before it.
 * Returns 0, BALLOT_ENOMEM or BALLOT_ELIMIT, or the machine's snapshot error. */
int ballot_sessions_snapshot(ballot_sessions *s, ballot_buf *out);

/* Replaces the sessions and the machine's state with a snapshot from
 * ballot_sessions_snapshot. On failure both keep their old state: BALLOT_ECORRUPT (checksum,
 * format, truncation), BALLOT_ELIMIT (more sessions than this table's sessions_max),
 * BALLOT_ENOMEM, or the machine's restore error. */
int ballot_sessions_restore(ballot_sessions *s, const void *data, size_t len, ballot_errmsg *em);

/* Open sessions, and the session clock (largest time_ms applied). */
size_t ballot_sessions_count(const ballot_sessions *s);
uint64_t ballot_sessions_clock_ms(const ballot_sessions *s);

/* The table as a machine of its own, whose commands are envelopes: apply is
 * ballot_sessions_apply and ignores its time_ms argument (the envelope carries the time),
 * query unwraps the envelope and asks the inner machine, snapshot and restore are the
 * functions above. */
ballot_fsm ballot_sessions_fsm(ballot_sessions *s);

#endif
