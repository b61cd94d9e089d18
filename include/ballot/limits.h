/* ballot limits: every bound the library enforces has a name and lives here.
 *
 * No "unlimited" defaults: a caller's configuration is checked against these at start and
 * refused with a clear error. Relations between limits are checked at compile time. */
#ifndef BALLOT_LIMITS_H
#define BALLOT_LIMITS_H

#include <stdint.h>

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
#define BALLOT_RAFT_ENTRY_BYTES_MAX (64u * 1024 * 1024 + 4096)
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
/* Raft: the largest snapshot chunk, the upper bound of ballot_raft_options'
 * snapshot_chunk_bytes (one InstallSnapshot message carries one chunk). */
#define BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX (16u * BALLOT_RAFT_SNAPSHOT_CHUNK_DEFAULT)
/* Raft: ReadIndex requests waiting on one leader. */
#define BALLOT_RAFT_READS_MAX 65536
/* Raft: the largest peer message on the wire (a batch plus framing). */
#define BALLOT_RAFT_MSG_BYTES_MAX (BALLOT_RAFT_ENTRY_BYTES_MAX + BALLOT_RAFT_BATCH_BYTES_MAX + 64 * 1024)

_Static_assert(BALLOT_RAFT_BATCH_BYTES_DEFAULT <= BALLOT_RAFT_BATCH_BYTES_MAX, "default batch within max");
_Static_assert(BALLOT_RAFT_INFLIGHT_DEFAULT <= BALLOT_RAFT_INFLIGHT_MAX, "default window within max");
_Static_assert(BALLOT_RAFT_SNAPSHOT_CHUNK_DEFAULT <= BALLOT_RAFT_MSG_BYTES_MAX, "a chunk fits a message");
_Static_assert(BALLOT_RAFT_SNAPSHOT_CHUNK_DEFAULT <= BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX,
	       "default chunk within the largest");
_Static_assert(BALLOT_RAFT_SNAPSHOT_CHUNK_BYTES_MAX + 64 * 1024 <= BALLOT_RAFT_MSG_BYTES_MAX,
	       "the largest chunk, with its message and configuration, fits a message");
_Static_assert(BALLOT_RAFT_MEMBERS_MAX <= 64, "member sets are 64-bit masks");
/* ballot_check and `ballot check`: the history format. */
/* Bytes in one line of a JSONL history (one event, newline excluded). */
#define BALLOT_CHECK_LINE_MAX_BYTES (1024u * 1024)
/* Nesting of arrays and objects within one line. The format itself nests 2 deep (a cas
 * value); extra fields, which are ignored, may nest up to this. */
#define BALLOT_CHECK_JSON_DEPTH_MAX 32
/* Bytes in one key or one value of an event. */
#define BALLOT_CHECK_VALUE_MAX_BYTES BALLOT_CHECK_LINE_MAX_BYTES
/* Operations in one history: operation indexes and the search's bit positions are 32-bit. */
#define BALLOT_CHECK_OPS_MAX (1u << 26)
/* Bytes of a history file `ballot check` reads (it reads the whole file). */
#define BALLOT_CHECK_INPUT_MAX_BYTES (1ull << 30)

/* ballot_check: defaults and ranges of its bounds (ballot_check_limits). */
/* Linearization attempts: 10^9 is about a minute of search. A linearizable history of a
 * register, 10,000 operations from 10 processes, needs under a million. */
#define BALLOT_CHECK_STEPS_DEFAULT 1000000000ull
#define BALLOT_CHECK_STEPS_MAX (1ull << 60)
/* Bytes of search state held at once. */
#define BALLOT_CHECK_MEMORY_DEFAULT_BYTES (1024ull * 1024 * 1024)
#define BALLOT_CHECK_MEMORY_MIN_BYTES (64ull * 1024)
#define BALLOT_CHECK_MEMORY_MAX_BYTES (1ull << 40)
/* `ballot check`: default and largest --timeout-ms. */
#define BALLOT_CHECK_TIMEOUT_DEFAULT_MS 60000ull
#define BALLOT_CHECK_TIMEOUT_MAX_MS (7ull * 24 * 3600 * 1000)
/* Replicated key-value state machine (src/kv/). */

/* Bytes in one key. Redis allows 512 MB; a key is hashed and compared on every access and
 * copied into every KEYS and SCAN reply that names it, and 64 KiB is beyond any sane key. */
#define BALLOT_KV_KEY_MAX_BYTES (64u * 1024)

/* Bytes in one value, and the longest string APPEND may build. Redis allows 512 MB; a
 * ballot value travels in one log entry to every replica, is fsynced, and sits in every
 * snapshot, so ballot stops at 16 MiB. */
#define BALLOT_KV_VALUE_MAX_BYTES (16u * 1024 * 1024)

/* Bytes of a number INCRBYFLOAT reads, and room for the number it writes: Redis's
 * MAX_LONG_DOUBLE_CHARS. A text this long or longer is "not a valid float", as in Redis;
 * every finite long double written as "%.17Lf" is shorter (LDBL_MAX has 4933 digits). */
#define BALLOT_KV_FLOAT_TEXT_MAX_BYTES (5u * 1024)

/* Arguments in one command, the name included (MSET k1 v1 k2 v2 ...); Redis refuses
 * requests with more than 1024 * 1024 arguments too. */
#define BALLOT_KV_ARGS_MAX (1024u * 1024)

/* Commands in one MULTI/EXEC batch. */
#define BALLOT_KV_BATCH_MAX (64u * 1024)

/* Bytes of one encoded command or batch: the payload of one log entry. */
#define BALLOT_KV_ENTRY_MAX_BYTES (64u * 1024 * 1024)

/* Bytes the read commands of one entry may reply (KEYS on a large store, MGET or a batch of
 * GETs of large values). A read that would pass it answers an error naming the limit. */
#define BALLOT_KV_REPLY_MAX_BYTES (128u * 1024 * 1024)

/* log2 of the fewest and the most buckets of the key-value hash table. Past the largest
 * table, chains grow longer instead of the table growing. */
#define BALLOT_KV_TABLE_BITS_MIN 4
#define BALLOT_KV_TABLE_BITS_MAX 32

/* Client sessions (exactly-once proposals): default and longest idle time, by the
 * leader-stamped time of log entries, after which a session is forgotten. */
#define BALLOT_SESSION_TTL_DEFAULT_MS (3600ull * 1000)
#define BALLOT_SESSION_TTL_MAX_MS (30ull * 24 * 3600 * 1000)

/* Client sessions: default and largest table size; a full table forgets its least
 * recently used session. Each session keeps its last reply, so this bounds memory too. */
#define BALLOT_SESSIONS_DEFAULT (64u * 1024)
#define BALLOT_SESSIONS_MAX (1024u * 1024)

/* RESP2 reply decoder: deepest nesting of arrays, longest bulk string (Redis's default
 * proto-max-bulk-len), most elements of one array. */
#define BALLOT_RESP_DEPTH_MAX 32
#define BALLOT_RESP_BULK_MAX_BYTES (512u * 1024 * 1024)
#define BALLOT_RESP_ARRAY_MAX (32u * 1024 * 1024)

/* RESP2 request parser (what clients send; ballot/resp_parse.h). */

/* Bytes of an inline request line, and of a "*<count>" or "$<len>" header line, without
 * its end: Redis's PROTO_INLINE_MAX_SIZE, with Redis's errors ("too big inline request",
 * "too big mbulk count string", "too big bulk count string"). Redis checks it when a read
 * leaves a line unfinished, so its verdict depends on how TCP split the stream; ballot
 * checks it as if every byte came alone, so whole and split input get the same verdict. */
#define BALLOT_RESP_INLINE_MAX_BYTES (64u * 1024)

/* Arguments of one multibulk request ("invalid multibulk length" past it). Redis 7 allows
 * INT_MAX and Redis up to 6.0 allowed 1024 * 1024; no ballot command takes more than
 * BALLOT_KV_ARGS_MAX, and the argument vector costs 16 bytes an argument. */
#define BALLOT_RESP_REQUEST_ARGS_MAX BALLOT_KV_ARGS_MAX

/* Bytes of one bulk argument ("invalid bulk length" past it). Redis's proto-max-bulk-len
 * is 512 MiB; an argument larger than a whole log entry can be part of no command ballot
 * runs, so ballot refuses it before buffering it. */
#define BALLOT_RESP_REQUEST_BULK_MAX_BYTES BALLOT_KV_ENTRY_MAX_BYTES

/* Argument bytes of one request: what one connection's parser may buffer. Redis closes a
 * client past client-query-buffer-limit (1 GiB); ballot replies "ERR Protocol error:
 * request arguments exceed N bytes" and closes. Twice an entry: a write's arguments fit
 * one entry, and a read (MGET) of that size is already a very large reply. */
#define BALLOT_RESP_REQUEST_MAX_BYTES (2u * BALLOT_KV_ENTRY_MAX_BYTES)

/* Storage an idle parser keeps for the next request (copied arguments, and the argument
 * vector); more is freed when the next request starts, so one large request does not pin
 * its memory for the life of the connection. */
#define BALLOT_RESP_PARSER_KEEP_BYTES (64u * 1024)

_Static_assert(BALLOT_VOTE_MODULES_MAX <= 64, "verdict masks are 64-bit");
_Static_assert(BALLOT_VOTE_LINE_MAX_BYTES <= BALLOT_VOTE_OUTPUT_MAX_BYTES,
	       "a line fits in the largest output");
_Static_assert(BALLOT_VOTE_OUTPUT_DEFAULT_BYTES <= BALLOT_VOTE_OUTPUT_MAX_BYTES,
	       "the default output cap is within the largest");
_Static_assert(BALLOT_CHECK_OPS_MAX <= (1u << 31) / 2, "two list entries per operation fit in 32 bits");
_Static_assert(BALLOT_CHECK_VALUE_MAX_BYTES <= BALLOT_CHECK_LINE_MAX_BYTES,
	       "a value fits in a line");
_Static_assert(BALLOT_CHECK_LINE_MAX_BYTES < (1ull << 32), "value lengths are 32-bit");
_Static_assert(BALLOT_CHECK_STEPS_DEFAULT <= BALLOT_CHECK_STEPS_MAX, "default steps within the largest");
_Static_assert(BALLOT_CHECK_MEMORY_MIN_BYTES <= BALLOT_CHECK_MEMORY_DEFAULT_BYTES &&
		       BALLOT_CHECK_MEMORY_DEFAULT_BYTES <= BALLOT_CHECK_MEMORY_MAX_BYTES,
	       "default memory within its range");
_Static_assert(BALLOT_CHECK_TIMEOUT_DEFAULT_MS <= BALLOT_CHECK_TIMEOUT_MAX_MS,
	       "default timeout within the largest");

_Static_assert(BALLOT_KV_KEY_MAX_BYTES + BALLOT_KV_VALUE_MAX_BYTES + 64 <= BALLOT_KV_ENTRY_MAX_BYTES,
	       "a SET of the largest key and value fits in one entry");
_Static_assert(BALLOT_KV_ENTRY_MAX_BYTES <= UINT32_MAX, "entry lengths are 32-bit on the wire");
_Static_assert(BALLOT_KV_FLOAT_TEXT_MAX_BYTES <= BALLOT_KV_VALUE_MAX_BYTES, "an INCRBYFLOAT result fits a value");
_Static_assert(BALLOT_KV_ENTRY_MAX_BYTES + 64 <= BALLOT_RAFT_ENTRY_BYTES_MAX,
	       "the largest key-value entry, in its session envelope, fits a Raft entry");
_Static_assert(BALLOT_KV_VALUE_MAX_BYTES + 64 <= BALLOT_KV_REPLY_MAX_BYTES,
	       "a GET of the largest value can be answered");
_Static_assert(BALLOT_KV_VALUE_MAX_BYTES <= BALLOT_RESP_BULK_MAX_BYTES,
	       "the reply decoder accepts the largest value");
_Static_assert(BALLOT_KV_REPLY_MAX_BYTES / 6 <= BALLOT_RESP_ARRAY_MAX,
	       "the reply decoder accepts the longest array a reply can hold ($0 elements)");
_Static_assert(BALLOT_KV_ARGS_MAX <= BALLOT_RESP_ARRAY_MAX, "an MGET reply can be decoded");
_Static_assert(BALLOT_KV_BATCH_MAX <= BALLOT_RESP_ARRAY_MAX, "a batch reply can be decoded");
_Static_assert(BALLOT_RESP_REQUEST_ARGS_MAX >= BALLOT_KV_ARGS_MAX, "every command's arguments can be sent");
_Static_assert(BALLOT_KV_KEY_MAX_BYTES <= BALLOT_RESP_REQUEST_BULK_MAX_BYTES, "the largest key can be sent");
_Static_assert(BALLOT_KV_VALUE_MAX_BYTES <= BALLOT_RESP_REQUEST_BULK_MAX_BYTES, "the largest value can be sent");
_Static_assert(BALLOT_RESP_REQUEST_BULK_MAX_BYTES <= BALLOT_RESP_REQUEST_MAX_BYTES, "one bulk fits a request");
_Static_assert(BALLOT_RESP_INLINE_MAX_BYTES <= BALLOT_RESP_REQUEST_MAX_BYTES, "an inline request fits a request");
_Static_assert(BALLOT_RESP_REQUEST_MAX_BYTES <= INT32_MAX, "request sizes stay far from overflow");
_Static_assert(BALLOT_RESP_REQUEST_ARGS_MAX <= SIZE_MAX / 64, "argument vectors stay addressable");
_Static_assert(BALLOT_KV_TABLE_BITS_MIN >= 1, "bucket shifts stay below 64");
_Static_assert(BALLOT_KV_TABLE_BITS_MIN <= BALLOT_KV_TABLE_BITS_MAX, "table sizes are ordered");
_Static_assert(BALLOT_KV_TABLE_BITS_MAX <= 40, "bucket arrays stay addressable");
_Static_assert(BALLOT_SESSION_TTL_DEFAULT_MS <= BALLOT_SESSION_TTL_MAX_MS, "default TTL within the largest");
_Static_assert(BALLOT_SESSIONS_DEFAULT <= BALLOT_SESSIONS_MAX, "default session table within the largest");

/* Peer protocol (include/ballot/frame.h, docs/peer-protocol.md). */

/* Bytes of the opaque payload of a forwarded client request, or of its reply: a follower
 * forwards a client's command to the leader and relays the answer, so this covers the
 * largest key-value entry and the largest reply, with room for the node layer's own
 * envelope around them. */
/* ballotd: bytes queued to one peer before its messages are dropped (Raft tolerates loss;
 * a slow or dead peer must not make the leader buffer without bound), and bytes read from
 * one client before its replies are written out. */
#define BALLOT_PEER_QUEUE_BYTES_MAX (64u * 1024 * 1024)
#define BALLOT_CLIENT_OUTPUT_BYTES_MAX (64u * 1024 * 1024)
/* Requests one client connection may have in flight (pipelined, replies not yet written)
 * before ballotd stops reading it until it catches up. */
#define BALLOT_CLIENT_INFLIGHT_MAX 128u
#define BALLOT_PEER_FORWARD_BYTES_MAX (BALLOT_KV_REPLY_MAX_BYTES + 64u * 1024)

/* ballotd: how long a connection to a peer may take to open, and how long bytes sent on it
 * may stay unacknowledged, before it is dropped and made again. A partition closes no TCP
 * connection: left alone, TCP backs its retransmissions and SYNs off exponentially, and after
 * a partition of T seconds heals the peer stays unheard for up to about T seconds more
 * (tests/system/partition.sh measured 11.5 s after 15 s). Both are far above a round trip
 * and bound how long a healed partition goes unnoticed. */
#define BALLOT_PEER_CONNECT_TIMEOUT_MS 2000u
#define BALLOT_PEER_UNACKED_TIMEOUT_MS 3000u

/* Bytes of one frame, header included: what a peer connection may have to buffer. RAFT
 * frames are held to BALLOT_RAFT_MSG_BYTES_MAX, forward frames to their payload limit. */
#define BALLOT_PEER_FRAME_BYTES_MAX (BALLOT_PEER_FORWARD_BYTES_MAX + 64u * 1024)

_Static_assert(BALLOT_KV_ENTRY_MAX_BYTES + 64 * 1024 <= BALLOT_PEER_FORWARD_BYTES_MAX,
	       "the largest key-value command can be forwarded");
_Static_assert(BALLOT_KV_REPLY_MAX_BYTES <= BALLOT_PEER_FORWARD_BYTES_MAX,
	       "the largest key-value reply can be forwarded back");
_Static_assert(BALLOT_ERRMSG_MAX <= BALLOT_PEER_FORWARD_BYTES_MAX, "an error detail can be forwarded");
_Static_assert(BALLOT_RAFT_MSG_BYTES_MAX <= BALLOT_PEER_FRAME_BYTES_MAX, "a Raft message fits a frame");
_Static_assert(BALLOT_PEER_FRAME_BYTES_MAX <= UINT32_MAX, "frame body lengths are 32-bit on the wire");
_Static_assert(BALLOT_RAFT_ENTRY_BYTES_MAX <= UINT32_MAX, "entry lengths are 32-bit on the wire");
/* Durable storage (src/storage/, docs/storage.md). */

/* A log segment's preallocated size: default, smallest and largest. A record larger than a
 * segment gets a segment of its own, sized to fit it. */
#define BALLOT_WAL_SEGMENT_BYTES_DEFAULT (64u * 1024 * 1024)
#define BALLOT_WAL_SEGMENT_BYTES_MIN (4u * 1024)
#define BALLOT_WAL_SEGMENT_BYTES_MAX (1024u * 1024 * 1024)

/* Encoded records the log buffers before writing them out: a batch larger than this reaches
 * the file in several writes before its one fdatasync. */
#define BALLOT_WAL_WRITE_BUFFER_BYTES (1u * 1024 * 1024)

/* Bytes recovery reads at a time (a larger record is read whole). */
#define BALLOT_WAL_READ_BUFFER_BYTES (1u * 1024 * 1024)
/* A snapshot file is written and synced this many bytes at a time (as Redis's
 * rdb-save-incremental-fsync), so the file system never holds much of it unsynced: an
 * ext4 journal commit, which a log sync may need, writes out every dirty block of the
 * files it orders first, and a whole unsynced snapshot would stall the log for as long. */
#define BALLOT_SNAPSHOT_SYNC_BYTES (4u * 1024 * 1024)
/* ... and a snapshot written beside the storage (ballot_storage_write_snapshot_file, while
 * the log goes on) this many, with the caller's pause between: a log sync waits behind at
 * most this much of it. */
#define BALLOT_SNAPSHOT_SIDE_SYNC_BYTES (1u * 1024 * 1024)

/* A spare segment (ballot_storage_prepare_spare) is written and synced this many bytes at a
 * time, with the caller's pause between: a log sync waits behind at most this much of it. */
#define BALLOT_SPARE_SYNC_BYTES (256u * 1024)

/* The longest path storage composes: the data directory, a slash and a file name. */
#define BALLOT_STORAGE_PATH_MAX 4096

/* Names a data directory may hold (segments, snapshots, the hard state, the lock). */
#define BALLOT_STORAGE_DIR_ENTRIES_MAX 1000000

/* Recovery notices (a torn tail cut, stale files removed) kept for the caller; more are
 * counted, not kept. */
#define BALLOT_STORAGE_WARNINGS_MAX 16

_Static_assert(BALLOT_WAL_SEGMENT_BYTES_MIN <= BALLOT_WAL_SEGMENT_BYTES_DEFAULT &&
		       BALLOT_WAL_SEGMENT_BYTES_DEFAULT <= BALLOT_WAL_SEGMENT_BYTES_MAX,
	       "the default segment size is within its range");
_Static_assert((uint64_t)BALLOT_WAL_SEGMENT_BYTES_MAX + BALLOT_RAFT_ENTRY_BYTES_MAX + 4096 < UINT32_MAX,
	       "offsets within a segment, even one sized for the largest entry, are 32-bit");
_Static_assert(BALLOT_WAL_SEGMENT_BYTES_MIN >= 4096, "a segment holds its header and a small record");
_Static_assert(BALLOT_CONFIG_ENCODED_MAX < UINT32_MAX, "a snapshot's configuration length is 32-bit");

#endif
