/* ballot limits: every bound the library enforces has a name and lives here.
 *
 * No "unlimited" defaults: a caller's configuration is checked against these at start and
 * refused with a clear error. Relations between limits are checked at compile time. */
#ifndef BALLOT_LIMITS_H
#define BALLOT_LIMITS_H

/* Bytes in a ballot_errmsg, including the terminating NUL. */
#define BALLOT_ERRMSG_MAX 256

/* Modules (versions, replicas) in one vote. 64 keeps a vote's state on the stack and its
 * verdict set in one 64-bit mask; NMR beyond a few dozen modules is not a real design. */
#define BALLOT_VOTE_MODULES_MAX 64

/* Numbers in one numeric output (fields voted one by one). */
#define BALLOT_VOTE_FIELDS_MAX 4096

/* Characters in one number of a numeric output ("-1.2345e-300" is 12). */
#define BALLOT_VOTE_NUMBER_CHARS_MAX 64

/* `ballot vote`: default and largest per-version output, and largest standard input. */
#define BALLOT_VOTE_OUTPUT_DEFAULT_BYTES (64u * 1024 * 1024)
#define BALLOT_VOTE_OUTPUT_MAX_BYTES (1024u * 1024 * 1024)
#define BALLOT_VOTE_INPUT_MAX_BYTES (1024u * 1024 * 1024)

/* `ballot vote --lines`: the longest line a version may write. */
#define BALLOT_VOTE_LINE_MAX_BYTES (1024u * 1024)

/* `ballot vote`: input bytes queued to one version before ballot stops reading its own
 * standard input until that version catches up (the slowest reader sets the pace). */
#define BALLOT_VOTE_STDIN_BACKLOG_BYTES (4u * 1024 * 1024)

/* `ballot vote`: bytes of each version's standard error kept for messages and the report. */
#define BALLOT_VOTE_STDERR_KEEP_BYTES 4096u

/* `ballot vote`: default and largest --timeout, in seconds. */
#define BALLOT_VOTE_TIMEOUT_DEFAULT_S 10
#define BALLOT_VOTE_TIMEOUT_MAX_S (7 * 24 * 3600)

/* Module health: the lowest weight REDUCE takes a module to, as a fraction of its initial
 * weight (a weight must stay positive for the voter to keep voting). */
#define BALLOT_HEALTH_WEIGHT_FLOOR 1e-9

/* Reliability analysis: largest N in the binomial and Markov models, and Monte Carlo trials. */
#define BALLOT_RELIABILITY_N_MAX 1000
#define BALLOT_MONTE_CARLO_TRIALS_MAX 1000000000ull

/* Raft: members (voters and learners) of one cluster, and the bytes of a member's address. */
#define BALLOT_RAFT_MEMBERS_MAX 16
#define BALLOT_ADDRESS_MAX 64
/* An encoded configuration: a count, then per member its id, role and address. */
#define BALLOT_CONFIG_ENCODED_MAX (4 + BALLOT_RAFT_MEMBERS_MAX * (8 + 1 + 1 + BALLOT_ADDRESS_MAX))

/* Raft: the largest entry payload, the entry bytes in one AppendEntries, the appends in
 * flight to one follower (etcd's inflights), and the default cap on uncommitted bytes. */
#define BALLOT_RAFT_ENTRY_BYTES_MAX (16u * 1024 * 1024)
#define BALLOT_RAFT_BATCH_BYTES_MAX (4u * 1024 * 1024)
#define BALLOT_RAFT_BATCH_BYTES_DEFAULT (256u * 1024)
#define BALLOT_RAFT_INFLIGHT_MAX 256
#define BALLOT_RAFT_INFLIGHT_DEFAULT 64
#define BALLOT_RAFT_UNCOMMITTED_BYTES_DEFAULT (64u * 1024 * 1024)
/* Raft: entries in one AppendEntries, whatever their size. */
#define BALLOT_RAFT_BATCH_ENTRIES_MAX 4096
/* Raft: snapshot bytes per InstallSnapshot chunk, and the largest snapshot. */
#define BALLOT_RAFT_SNAPSHOT_CHUNK_DEFAULT (1u * 1024 * 1024)
#define BALLOT_RAFT_SNAPSHOT_BYTES_MAX (4ull * 1024 * 1024 * 1024)
/* Raft: ReadIndex requests waiting on one leader. */
#define BALLOT_RAFT_READS_MAX 65536
/* Raft: the largest peer message on the wire (a batch plus framing). */
#define BALLOT_RAFT_MSG_BYTES_MAX (BALLOT_RAFT_ENTRY_BYTES_MAX + BALLOT_RAFT_BATCH_BYTES_MAX + 64 * 1024)

_Static_assert(BALLOT_RAFT_BATCH_BYTES_DEFAULT <= BALLOT_RAFT_BATCH_BYTES_MAX, "default batch within max");
_Static_assert(BALLOT_RAFT_INFLIGHT_DEFAULT <= BALLOT_RAFT_INFLIGHT_MAX, "default window within max");
_Static_assert(BALLOT_RAFT_SNAPSHOT_CHUNK_DEFAULT <= BALLOT_RAFT_MSG_BYTES_MAX, "a chunk fits a message");
_Static_assert(BALLOT_RAFT_MEMBERS_MAX <= 64, "member sets are 64-bit masks");

_Static_assert(BALLOT_VOTE_MODULES_MAX <= 64, "verdict masks are 64-bit");
_Static_assert(BALLOT_VOTE_LINE_MAX_BYTES <= BALLOT_VOTE_OUTPUT_MAX_BYTES,
	       "a line fits in the largest output");
_Static_assert(BALLOT_VOTE_OUTPUT_DEFAULT_BYTES <= BALLOT_VOTE_OUTPUT_MAX_BYTES,
	       "the default output cap is within the largest");

#endif
