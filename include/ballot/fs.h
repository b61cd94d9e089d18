/* ballot file interface: the few file operations durable storage needs, behind a table of
 * function pointers, so the same log and snapshot code runs over the real disk (POSIX) and
 * over a simulated disk that loses unsynced writes on a crash, tears the last write or
 * flips a bit (the way SQLite swaps its OS layer in tests, and canonical/raft its raft_io).
 *
 * Paths are plain strings ("DIR/NAME"); every call that fails returns a negative code from
 * ballot/error.h and writes a message naming the path and the cause into em:
 *   BALLOT_EIO    the operating system (or the simulated disk) refused the operation;
 *   BALLOT_EBUSY  lock(): another holder has the lock;
 *   BALLOT_ENOMEM out of memory.
 *
 * Durability is explicit and matches POSIX: pwrite and truncate reach the disk only at the
 * next datasync of that file; creating, renaming and unlinking a name reach it only at the
 * next sync_dir of its directory. A file handle is used by one thread at a time. */
#ifndef BALLOT_FS_H
#define BALLOT_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ballot/error.h"

typedef struct ballot_fs ballot_fs;
typedef struct ballot_file ballot_file; /* an open file; each implementation defines it */

/* open() flags. */
enum {
	BALLOT_FS_RDONLY = 0,
	BALLOT_FS_RDWR = 1u << 0,
	BALLOT_FS_CREATE = 1u << 1, /* create if missing (with RDWR) */
	BALLOT_FS_EXCL = 1u << 2,   /* with CREATE: fail if the name exists */
};

/* The names in a directory ("." and ".." excluded), in no particular order. */
typedef struct ballot_fs_names {
	size_t count;
	char **names;
} ballot_fs_names;

void ballot_fs_names_free(ballot_fs_names *names);

typedef struct ballot_fs_ops {
	int (*open)(ballot_fs *fs, const char *path, unsigned flags, ballot_file **out, ballot_errmsg *em);
	/* Releases the handle (and a lock taken through it). Never fails; NULL is allowed. */
	void (*close)(ballot_fs *fs, ballot_file *f);
	/* Reads up to len bytes at off; *got < len only at the end of the file. */
	int (*pread)(ballot_fs *fs, ballot_file *f, void *buf, size_t len, uint64_t off, size_t *got,
		     ballot_errmsg *em);
	/* Writes all len bytes at off (extending the file if needed). */
	int (*pwrite)(ballot_fs *fs, ballot_file *f, const void *buf, size_t len, uint64_t off, ballot_errmsg *em);
	/* Makes the file's data and size durable (fdatasync). */
	int (*datasync)(ballot_fs *fs, ballot_file *f, ballot_errmsg *em);
	/* Sets the file's size; bytes past the old end read as zeros. */
	int (*truncate)(ballot_fs *fs, ballot_file *f, uint64_t size, ballot_errmsg *em);
	/* Reserves space so the file is at least size bytes (zeros); may just extend it. */
	int (*preallocate)(ballot_fs *fs, ballot_file *f, uint64_t size, ballot_errmsg *em);
	int (*size)(ballot_fs *fs, ballot_file *f, uint64_t *size, ballot_errmsg *em);
	/* Makes the creations, renames and unlinks of names in directory `dir` durable. */
	int (*sync_dir)(ballot_fs *fs, const char *dir, ballot_errmsg *em);
	/* Atomically replaces `to` (if it exists) with `from`; both in the same directory. */
	int (*rename)(ballot_fs *fs, const char *from, const char *to, ballot_errmsg *em);
	int (*unlink)(ballot_fs *fs, const char *path, ballot_errmsg *em);
	/* Creates directory path if it does not exist; *created says whether it did. */
	int (*mkdir)(ballot_fs *fs, const char *path, bool *created, ballot_errmsg *em);
	/* Lists a directory; the caller frees the names with ballot_fs_names_free. */
	int (*list)(ballot_fs *fs, const char *dir, ballot_fs_names *out, ballot_errmsg *em);
	/* Opens (creating it if needed) the lock file at path and takes an exclusive lock on
	 * it without waiting (flock-style: held until close, released if the process dies).
	 * BALLOT_EBUSY if another holder has it. */
	int (*lock)(ballot_fs *fs, const char *path, ballot_file **out, ballot_errmsg *em);
} ballot_fs_ops;

struct ballot_fs {
	const ballot_fs_ops *ops;
};

/* ---- the real disk ------------------------------------------------------------------ */

/* The POSIX implementation (a process-wide singleton; stateless). Errors carry the path and
 * strerror(errno). preallocate uses posix_fallocate, so a segment's blocks are reserved. */
ballot_fs *ballot_fs_posix(void);

/* ---- the simulated disk ------------------------------------------------------------- */

/* An in-memory file system for tests and the simulator. Deterministic: every random choice
 * (what a crash keeps, where a write tears, which bit flips) draws from the generator seeded
 * here. For each file it keeps what is durable (as of the last datasync) apart from what is
 * only written; for each directory, the name changes not yet made durable by sync_dir.
 * Paths are absolute ("/node1/LOCK"); "/" always exists. Use one per simulated machine. */
typedef struct ballot_fs_sim ballot_fs_sim;

int ballot_fs_sim_new(ballot_fs_sim **out, uint64_t seed);
void ballot_fs_sim_free(ballot_fs_sim *sim);
ballot_fs *ballot_fs_sim_fs(ballot_fs_sim *sim);

/* How a crash treats what was not made durable. */
enum {
	/* Power loss (the default, flags 0): every file reverts to its durable contents and
	 * size, and every name change since its directory's last sync_dir is undone. */
	BALLOT_FS_SIM_CRASH_POWER = 0,
	/* The last unsynced write (over all files) leaves a random prefix of its bytes. */
	BALLOT_FS_SIM_CRASH_TEAR = 1u << 0,
	/* Each unsynced name change survives or not at random (replayed in order, each kept
	 * with probability 1/2; one that no longer applies is skipped), instead of all undone. */
	BALLOT_FS_SIM_CRASH_DIR_RANDOM = 1u << 1,
	/* A process crash (kill -9): the page cache survives, so everything written stays
	 * visible, yet still not durable (a later power loss can take it). Overrides the
	 * flags above. */
	BALLOT_FS_SIM_CRASH_PROCESS = 1u << 2,
};

/* Crashes the machine: applies `how` (above) to what was not durable, releases every lock
 * and makes every open handle stale (its operations fail with BALLOT_EIO; close it). */
void ballot_fs_sim_crash(ballot_fs_sim *sim, unsigned how);

/* Flips bit `bit` (counted from the file's first byte, low bit first) of a file, on disk and
 * in the page cache alike: media corruption. BALLOT_EINVAL if the file is missing or shorter. */
int ballot_fs_sim_flip_bit(ballot_fs_sim *sim, const char *path, uint64_t bit, ballot_errmsg *em);

/* Flips a random bit in bytes [from, to) of a file (to is clamped to the file's size) and
 * says which in *bit (may be NULL). BALLOT_EINVAL if the range is empty. */
int ballot_fs_sim_flip_random_bit(ballot_fs_sim *sim, const char *path, uint64_t from, uint64_t to,
				  uint64_t *bit, ballot_errmsg *em);

/* Bytes at the end of a file's data that ballot_fs_sim_flip_in_dir aims at a quarter of the
 * time: a log's last record or two, where a crash could also have torn a write. */
#define BALLOT_FS_SIM_FLIP_TAIL_BYTES 256u

/* Media corruption somewhere in a data directory: flips one random bit of one of the files
 * directly in dir (subdirectories excluded), on disk and in the page cache. The file is
 * chosen uniformly among the non-empty ones (in name order); the bit, so that flips land
 * where recovery has decisions to make: half of the time anywhere in the file's data (up to
 * its last non-zero byte), a quarter of the time in the last BALLOT_FS_SIM_FLIP_TAIL_BYTES
 * of that data, a quarter anywhere in the file (preallocated zeros too). Every choice draws
 * from the generator. Writes the file's path into path (cap bytes; may be NULL) and the bit
 * into *bit (may be NULL). BALLOT_EINVAL if dir holds no non-empty file. */
int ballot_fs_sim_flip_in_dir(ballot_fs_sim *sim, const char *dir, char *path, size_t cap, uint64_t *bit,
			      ballot_errmsg *em);

/* Creates or replaces a file with these bytes, durably (contents and name), creating no
 * directories: a fixture for tests and fuzzing. */
int ballot_fs_sim_write_file(ballot_fs_sim *sim, const char *path, const void *data, size_t len,
			     ballot_errmsg *em);

/* The current contents of a file (page cache view), in a new malloc'ed buffer the caller
 * frees (NULL if the file is empty). BALLOT_EINVAL if the file is missing. */
int ballot_fs_sim_read_file(ballot_fs_sim *sim, const char *path, unsigned char **data, size_t *len,
			    ballot_errmsg *em);

/* Fault injection: after `ops` more operations succeed, every operation that writes, syncs
 * or changes a name fails with BALLOT_EIO until ballot_fs_sim_fail_after(sim, UINT64_MAX). */
void ballot_fs_sim_fail_after(ballot_fs_sim *sim, uint64_t ops);

/* Counters, for tests and the simulator's report. */
typedef struct ballot_fs_sim_stats {
	uint64_t writes, bytes_written, datasyncs, dir_syncs, crashes;
} ballot_fs_sim_stats;

void ballot_fs_sim_stats_get(const ballot_fs_sim *sim, ballot_fs_sim_stats *out);

/* ---- calls through the table ---------------------------------------------------------- */

static inline int ballot_fs_open(ballot_fs *fs, const char *path, unsigned flags, ballot_file **out,
				 ballot_errmsg *em)
{
	return fs->ops->open(fs, path, flags, out, em);
}

static inline void ballot_fs_close(ballot_fs *fs, ballot_file *f)
{
	fs->ops->close(fs, f);
}

static inline int ballot_fs_pread(ballot_fs *fs, ballot_file *f, void *buf, size_t len, uint64_t off,
				  size_t *got, ballot_errmsg *em)
{
	return fs->ops->pread(fs, f, buf, len, off, got, em);
}

static inline int ballot_fs_pwrite(ballot_fs *fs, ballot_file *f, const void *buf, size_t len, uint64_t off,
				   ballot_errmsg *em)
{
	return fs->ops->pwrite(fs, f, buf, len, off, em);
}

static inline int ballot_fs_datasync(ballot_fs *fs, ballot_file *f, ballot_errmsg *em)
{
	return fs->ops->datasync(fs, f, em);
}

static inline int ballot_fs_truncate(ballot_fs *fs, ballot_file *f, uint64_t size, ballot_errmsg *em)
{
	return fs->ops->truncate(fs, f, size, em);
}

static inline int ballot_fs_preallocate(ballot_fs *fs, ballot_file *f, uint64_t size, ballot_errmsg *em)
{
	return fs->ops->preallocate(fs, f, size, em);
}

static inline int ballot_fs_size(ballot_fs *fs, ballot_file *f, uint64_t *size, ballot_errmsg *em)
{
	return fs->ops->size(fs, f, size, em);
}

static inline int ballot_fs_sync_dir(ballot_fs *fs, const char *dir, ballot_errmsg *em)
{
	return fs->ops->sync_dir(fs, dir, em);
}

static inline int ballot_fs_rename(ballot_fs *fs, const char *from, const char *to, ballot_errmsg *em)
{
	return fs->ops->rename(fs, from, to, em);
}

static inline int ballot_fs_unlink(ballot_fs *fs, const char *path, ballot_errmsg *em)
{
	return fs->ops->unlink(fs, path, em);
}

static inline int ballot_fs_mkdir(ballot_fs *fs, const char *path, bool *created, ballot_errmsg *em)
{
	return fs->ops->mkdir(fs, path, created, em);
}

static inline int ballot_fs_list(ballot_fs *fs, const char *dir, ballot_fs_names *out, ballot_errmsg *em)
{
	return fs->ops->list(fs, dir, out, em);
}

static inline int ballot_fs_lock(ballot_fs *fs, const char *path, ballot_file **out, ballot_errmsg *em)
{
	return fs->ops->lock(fs, path, out, em);
}

#endif
