/* The simulated file system (see ballot/fs.h): in memory, deterministic, and as forgetful
 * as a real disk on power loss.
 *
 * Each inode has two images: `data` (the page cache: what reads see) and `disk` (what a
 * crash keeps). A datasync copies the bytes written since the last one (a dirty range) from
 * data to disk. Names live in two tables: `names` (what lookups see) and `dnames` (what
 * survives a crash); each create, rename or unlink is logged as a pending directory
 * operation until sync_dir of its directory replays it onto `dnames`. A crash rebuilds the
 * page cache from the disk image, after optionally replaying some pending directory
 * operations and tearing the last unsynced write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/fs.h"
#include "ballot/rng.h"
#include "common/assert.h"
#include "storage/storage_internal.h"

typedef struct sim_inode {
	bool is_dir;
	bool locked;
	bool mark; /* garbage collection */
	unsigned handles;
	unsigned char *data; /* page cache */
	uint64_t size;
	uint64_t cap;
	unsigned char *disk; /* durable image */
	uint64_t disk_size;
	uint64_t disk_cap;
	/* [dirty_lo, dirty_hi): bytes of data that may differ from disk (valid if dirty) */
	bool dirty;
	uint64_t dirty_lo, dirty_hi;
	/* The last write since the last datasync, for tearing (valid if has_write). */
	bool has_write;
	uint64_t write_off, write_len, write_seq;
} sim_inode;

typedef struct sim_name {
	char *path;
	sim_inode *ino;
} sim_name;

typedef struct sim_names {
	sim_name *items;
	size_t count, cap;
} sim_names;

enum { OP_LINK = 1, OP_UNLINK, OP_RENAME };

typedef struct sim_dirop {
	uint8_t kind;
	char *dir;
	char *path;
	char *path2; /* OP_RENAME: the new name */
	sim_inode *ino;
} sim_dirop;

struct ballot_fs_sim {
	ballot_fs base;
	ballot_rng rng;
	sim_inode **inodes;
	size_t inode_count, inode_cap;
	sim_names names, dnames;
	sim_dirop *ops;
	size_t op_count, op_cap;
	uint64_t generation; /* bumped by each crash: older handles are stale */
	uint64_t write_seq;
	uint64_t fail_after; /* UINT64_MAX: never */
	ballot_fs_sim_stats stats;
};

struct ballot_file {
	ballot_fs_sim *sim;
	sim_inode *ino;
	uint64_t generation;
	bool writable;
	bool holds_lock;
};

static ballot_fs_sim *sim_of(ballot_fs *fs)
{
	return (ballot_fs_sim *)fs;
}

/* ---- helpers ------------------------------------------------------------------------ */

static char *dup_str(const char *s)
{
	size_t len = strlen(s);
	char *d = malloc(len + 1);
	if (d != NULL)
		memcpy(d, s, len + 1);
	return d;
}

/* The directory part of an absolute path ("/a/b" -> "/a", "/a" -> "/"), in out. */
static void parent_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash == NULL || slash == path ? 1 : (size_t)(slash - path);
	if (len >= cap)
		len = cap - 1;
	memcpy(out, slash == NULL ? "/" : path, len);
	out[len] = '\0';
}

static int grow(unsigned char **buf, uint64_t *cap, uint64_t need)
{
	if (need <= *cap)
		return 0;
	uint64_t ncap = *cap ? *cap : 4096;
	while (ncap < need)
		ncap *= 2;
	unsigned char *b = realloc(*buf, (size_t)ncap);
	if (b == NULL)
		return BALLOT_ENOMEM;
	*buf = b;
	*cap = ncap;
	return 0;
}

static sim_name *names_find(sim_names *n, const char *path)
{
	for (size_t i = 0; i < n->count; i++) {
		if (strcmp(n->items[i].path, path) == 0)
			return &n->items[i];
	}
	return NULL;
}

static void names_remove(sim_names *n, sim_name *e)
{
	free(e->path);
	*e = n->items[--n->count];
}

/* Points path at ino (replacing what it named). */
static int names_set(sim_names *n, const char *path, sim_inode *ino)
{
	sim_name *e = names_find(n, path);
	if (e != NULL) {
		e->ino = ino;
		return 0;
	}
	if (n->count == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 16;
		sim_name *items = realloc(n->items, cap * sizeof *items);
		if (items == NULL)
			return BALLOT_ENOMEM;
		n->items = items;
		n->cap = cap;
	}
	char *p = dup_str(path);
	if (p == NULL)
		return BALLOT_ENOMEM;
	n->items[n->count++] = (sim_name){.path = p, .ino = ino};
	return 0;
}

static void names_clear(sim_names *n)
{
	for (size_t i = 0; i < n->count; i++)
		free(n->items[i].path);
	n->count = 0;
}

static int names_copy(sim_names *dst, const sim_names *src)
{
	names_clear(dst);
	for (size_t i = 0; i < src->count; i++) {
		if (names_set(dst, src->items[i].path, src->items[i].ino) != 0)
			return BALLOT_ENOMEM;
	}
	return 0;
}

static sim_inode *inode_new(ballot_fs_sim *sim, bool is_dir)
{
	if (sim->inode_count == sim->inode_cap) {
		size_t cap = sim->inode_cap ? sim->inode_cap * 2 : 16;
		sim_inode **a = realloc(sim->inodes, cap * sizeof *a);
		if (a == NULL)
			return NULL;
		sim->inodes = a;
		sim->inode_cap = cap;
	}
	sim_inode *ino = calloc(1, sizeof *ino);
	if (ino == NULL)
		return NULL;
	ino->is_dir = is_dir;
	sim->inodes[sim->inode_count++] = ino;
	return ino;
}

static void inode_free(sim_inode *ino)
{
	free(ino->data);
	free(ino->disk);
	free(ino);
}

/* Frees inodes no name, durable name, pending operation or handle refers to. */
static void collect_garbage(ballot_fs_sim *sim)
{
	for (size_t i = 0; i < sim->inode_count; i++)
		sim->inodes[i]->mark = sim->inodes[i]->handles > 0;
	for (size_t i = 0; i < sim->names.count; i++)
		sim->names.items[i].ino->mark = true;
	for (size_t i = 0; i < sim->dnames.count; i++)
		sim->dnames.items[i].ino->mark = true;
	for (size_t i = 0; i < sim->op_count; i++)
		sim->ops[i].ino->mark = true;
	size_t kept = 0;
	for (size_t i = 0; i < sim->inode_count; i++) {
		if (sim->inodes[i]->mark)
			sim->inodes[kept++] = sim->inodes[i];
		else
			inode_free(sim->inodes[i]);
	}
	sim->inode_count = kept;
}

static void dirop_free(sim_dirop *op)
{
	free(op->dir);
	free(op->path);
	free(op->path2);
}

static int dirop_push(ballot_fs_sim *sim, uint8_t kind, const char *path, const char *path2, sim_inode *ino)
{
	if (sim->op_count == sim->op_cap) {
		size_t cap = sim->op_cap ? sim->op_cap * 2 : 16;
		sim_dirop *ops = realloc(sim->ops, cap * sizeof *ops);
		if (ops == NULL)
			return BALLOT_ENOMEM;
		sim->ops = ops;
		sim->op_cap = cap;
	}
	char dir[BALLOT_STORAGE_PATH_MAX];
	parent_of(path, dir, sizeof dir);
	sim_dirop op = {.kind = kind, .dir = dup_str(dir), .path = dup_str(path),
			.path2 = path2 ? dup_str(path2) : NULL, .ino = ino};
	if (op.dir == NULL || op.path == NULL || (path2 != NULL && op.path2 == NULL)) {
		dirop_free(&op);
		return BALLOT_ENOMEM;
	}
	sim->ops[sim->op_count++] = op;
	return 0;
}

/* Replays one name change onto the durable names; one that no longer applies (its source
 * is not there, or names another inode) is skipped. */
static int dirop_apply(sim_names *dn, const sim_dirop *op)
{
	sim_name *e = names_find(dn, op->path);
	switch (op->kind) {
	case OP_LINK:
		return names_set(dn, op->path, op->ino);
	case OP_UNLINK:
		if (e != NULL && e->ino == op->ino)
			names_remove(dn, e);
		return 0;
	case OP_RENAME:
		if (e == NULL || e->ino != op->ino)
			return 0;
		names_remove(dn, e);
		return names_set(dn, op->path2, op->ino);
	default:
		BALLOT_UNREACHABLE();
	}
}

/* An operation that changes the disk: counts toward an injected failure. */
static int may_fail(ballot_fs_sim *sim, const char *what, const char *path, ballot_errmsg *em)
{
	if (sim->fail_after == UINT64_MAX)
		return 0;
	if (sim->fail_after > 0) {
		sim->fail_after--;
		return 0;
	}
	return ballot_errorf(em, BALLOT_EIO, "%s %s: injected I/O error", what, path);
}

static int check_handle(const ballot_file *f, const char *what, ballot_errmsg *em)
{
	if (f->generation != f->sim->generation)
		return ballot_errorf(em, BALLOT_EIO, "%s: stale handle (the simulated machine crashed)", what);
	return 0;
}

static bool dir_exists(ballot_fs_sim *sim, const char *dir)
{
	if (strcmp(dir, "/") == 0)
		return true;
	sim_name *e = names_find(&sim->names, dir);
	return e != NULL && e->ino->is_dir;
}

static void mark_dirty(sim_inode *ino, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return;
	if (!ino->dirty) {
		ino->dirty = true;
		ino->dirty_lo = lo;
		ino->dirty_hi = hi;
		return;
	}
	if (lo < ino->dirty_lo)
		ino->dirty_lo = lo;
	if (hi > ino->dirty_hi)
		ino->dirty_hi = hi;
}

/* Sets the page cache size; new bytes are zeros. */
static int set_size(sim_inode *ino, uint64_t size)
{
	if (size > ino->size) {
		if (grow(&ino->data, &ino->cap, size) != 0)
			return BALLOT_ENOMEM;
		memset(ino->data + ino->size, 0, (size_t)(size - ino->size));
	}
	uint64_t lo = size < ino->size ? size : ino->size;
	uint64_t hi = size < ino->size ? ino->size : size;
	mark_dirty(ino, lo, hi);
	ino->size = size;
	return 0;
}

/* Copies the page cache to the disk image: datasync. */
static int make_durable(sim_inode *ino)
{
	if (grow(&ino->disk, &ino->disk_cap, ino->size) != 0)
		return BALLOT_ENOMEM;
	if (ino->size > ino->disk_size)
		memset(ino->disk + ino->disk_size, 0, (size_t)(ino->size - ino->disk_size));
	if (ino->dirty) {
		uint64_t hi = ino->dirty_hi < ino->size ? ino->dirty_hi : ino->size;
		if (ino->dirty_lo < hi)
			memcpy(ino->disk + ino->dirty_lo, ino->data + ino->dirty_lo, (size_t)(hi - ino->dirty_lo));
	}
	ino->disk_size = ino->size;
	ino->dirty = false;
	ino->has_write = false;
	return 0;
}

/* Rebuilds the page cache from the disk image (a crash). */
static void revert_to_disk(sim_inode *ino)
{
	if (ino->dirty) {
		uint64_t hi = ino->dirty_hi < ino->disk_size ? ino->dirty_hi : ino->disk_size;
		/* data has room: it was at least this large when the range was dirtied, or the
		 * disk image was copied from it. */
		if (grow(&ino->data, &ino->cap, ino->disk_size) == 0 && ino->dirty_lo < hi)
			memcpy(ino->data + ino->dirty_lo, ino->disk + ino->dirty_lo, (size_t)(hi - ino->dirty_lo));
	}
	BALLOT_ASSERT(ino->cap >= ino->disk_size || ino->disk_size == 0);
	ino->size = ino->disk_size;
	ino->dirty = false;
	ino->has_write = false;
}

/* ---- the operations ------------------------------------------------------------------ */

static int sim_open(ballot_fs *fs, const char *path, unsigned flags, ballot_file **out, ballot_errmsg *em)
{
	ballot_fs_sim *sim = sim_of(fs);
	sim_name *e = names_find(&sim->names, path);
	if (e != NULL && (flags & BALLOT_FS_CREATE) && (flags & BALLOT_FS_EXCL))
		return ballot_errorf(em, BALLOT_EIO, "open %s: File exists", path);
	if (e != NULL && e->ino->is_dir)
		return ballot_errorf(em, BALLOT_EIO, "open %s: Is a directory", path);
	if (e == NULL && !(flags & BALLOT_FS_CREATE))
		return ballot_errorf(em, BALLOT_EIO, "open %s: No such file or directory", path);
	ballot_file *f = calloc(1, sizeof *f);
	if (f == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "open %s: out of memory", path);
	sim_inode *ino = e != NULL ? e->ino : NULL;
	if (ino == NULL) {
		char dir[BALLOT_STORAGE_PATH_MAX];
		parent_of(path, dir, sizeof dir);
		int rc = may_fail(sim, "create", path, em);
		if (rc == 0 && !dir_exists(sim, dir))
			rc = ballot_errorf(em, BALLOT_EIO, "open %s: No such file or directory", path);
		if (rc == 0 && ((ino = inode_new(sim, false)) == NULL || names_set(&sim->names, path, ino) != 0 ||
				dirop_push(sim, OP_LINK, path, NULL, ino) != 0))
			rc = ballot_errorf(em, BALLOT_ENOMEM, "open %s: out of memory", path);
		if (rc != 0) {
			free(f);
			collect_garbage(sim);
			return rc;
		}
	}
	ino->handles++;
	*f = (ballot_file){.sim = sim, .ino = ino, .generation = sim->generation,
			   .writable = (flags & BALLOT_FS_RDWR) != 0};
	*out = f;
	return 0;
}

static void sim_close(ballot_fs *fs, ballot_file *f)
{
	(void)fs;
	if (f == NULL)
		return;
	ballot_fs_sim *sim = f->sim;
	if (f->holds_lock && f->generation == sim->generation)
		f->ino->locked = false;
	BALLOT_ASSERT(f->ino->handles > 0);
	f->ino->handles--;
	free(f);
	collect_garbage(sim);
}

static int sim_pread(ballot_fs *fs, ballot_file *f, void *buf, size_t len, uint64_t off, size_t *got,
		     ballot_errmsg *em)
{
	(void)fs;
	int rc = check_handle(f, "read", em);
	if (rc != 0)
		return rc;
	sim_inode *ino = f->ino;
	size_t n = 0;
	if (off < ino->size)
		n = (size_t)(ino->size - off < len ? ino->size - off : len);
	if (n > 0)
		memcpy(buf, ino->data + off, n);
	*got = n;
	return 0;
}

static int sim_pwrite(ballot_fs *fs, ballot_file *f, const void *buf, size_t len, uint64_t off,
		      ballot_errmsg *em)
{
	ballot_fs_sim *sim = sim_of(fs);
	int rc = check_handle(f, "write", em);
	if (rc == 0 && !f->writable)
		rc = ballot_errorf(em, BALLOT_EIO, "write: Bad file descriptor (opened read-only)");
	if (rc == 0)
		rc = may_fail(sim, "write", "(simulated file)", em);
	if (rc != 0)
		return rc;
	sim_inode *ino = f->ino;
	if (off + len > ino->size && set_size(ino, off + len) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "write: out of memory");
	if (len > 0)
		memcpy(ino->data + off, buf, len);
	mark_dirty(ino, off, off + len);
	ino->has_write = len > 0;
	ino->write_off = off;
	ino->write_len = len;
	ino->write_seq = ++sim->write_seq;
	sim->stats.writes++;
	sim->stats.bytes_written += len;
	return 0;
}

static int sim_datasync(ballot_fs *fs, ballot_file *f, ballot_errmsg *em)
{
	ballot_fs_sim *sim = sim_of(fs);
	int rc = check_handle(f, "fdatasync", em);
	if (rc == 0)
		rc = may_fail(sim, "fdatasync", "(simulated file)", em);
	if (rc != 0)
		return rc;
	if (make_durable(f->ino) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "fdatasync: out of memory");
	sim->stats.datasyncs++;
	return 0;
}

static int sim_truncate(ballot_fs *fs, ballot_file *f, uint64_t size, ballot_errmsg *em)
{
	ballot_fs_sim *sim = sim_of(fs);
	int rc = check_handle(f, "truncate", em);
	if (rc == 0 && !f->writable)
		rc = ballot_errorf(em, BALLOT_EIO, "truncate: Bad file descriptor (opened read-only)");
	if (rc == 0)
		rc = may_fail(sim, "truncate", "(simulated file)", em);
	if (rc != 0)
		return rc;
	if (set_size(f->ino, size) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "truncate: out of memory");
	f->ino->has_write = false; /* no write to tear after it */
	return 0;
}

static int sim_preallocate(ballot_fs *fs, ballot_file *f, uint64_t size, ballot_errmsg *em)
{
	if (size <= f->ino->size)
		return check_handle(f, "preallocate", em);
	return sim_truncate(fs, f, size, em);
}

static int sim_size(ballot_fs *fs, ballot_file *f, uint64_t *size, ballot_errmsg *em)
{
	(void)fs;
	int rc = check_handle(f, "stat", em);
	if (rc == 0)
		*size = f->ino->size;
	return rc;
}

static int sim_sync_dir(ballot_fs *fs, const char *dir, ballot_errmsg *em)
{
	ballot_fs_sim *sim = sim_of(fs);
	int rc = may_fail(sim, "fsync directory", dir, em);
	if (rc == 0 && !dir_exists(sim, dir))
		rc = ballot_errorf(em, BALLOT_EIO, "open directory %s: No such file or directory", dir);
	if (rc != 0)
		return rc;
	size_t kept = 0;
	for (size_t i = 0; i < sim->op_count; i++) {
		sim_dirop *op = &sim->ops[i];
		if (strcmp(op->dir, dir) != 0) {
			sim->ops[kept++] = *op;
			continue;
		}
		if (dirop_apply(&sim->dnames, op) != 0)
			rc = ballot_errorf(em, BALLOT_ENOMEM, "fsync directory %s: out of memory", dir);
		dirop_free(op);
	}
	sim->op_count = kept;
	sim->stats.dir_syncs++;
	collect_garbage(sim);
	return rc;
}

static int sim_rename(ballot_fs *fs, const char *from, const char *to, ballot_errmsg *em)
{
	ballot_fs_sim *sim = sim_of(fs);
	char dfrom[BALLOT_STORAGE_PATH_MAX], dto[BALLOT_STORAGE_PATH_MAX];
	parent_of(from, dfrom, sizeof dfrom);
	parent_of(to, dto, sizeof dto);
	BALLOT_ASSERT(strcmp(dfrom, dto) == 0); /* the interface renames within one directory */
	int rc = may_fail(sim, "rename", from, em);
	if (rc != 0)
		return rc;
	sim_name *e = names_find(&sim->names, from);
	if (e == NULL)
		return ballot_errorf(em, BALLOT_EIO, "rename %s to %s: No such file or directory", from, to);
	sim_inode *ino = e->ino;
	sim_name *old = names_find(&sim->names, to);
	if (old != NULL && old->ino->is_dir)
		return ballot_errorf(em, BALLOT_EIO, "rename %s to %s: Is a directory", from, to);
	if (dirop_push(sim, OP_RENAME, from, to, ino) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "rename %s: out of memory", from);
	if (old != NULL && old != e)
		names_remove(&sim->names, old);
	e = names_find(&sim->names, from);
	names_remove(&sim->names, e);
	if (names_set(&sim->names, to, ino) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "rename %s: out of memory", from);
	collect_garbage(sim);
	return 0;
}

static int sim_unlink(ballot_fs *fs, const char *path, ballot_errmsg *em)
{
	ballot_fs_sim *sim = sim_of(fs);
	int rc = may_fail(sim, "unlink", path, em);
	if (rc != 0)
		return rc;
	sim_name *e = names_find(&sim->names, path);
	if (e == NULL)
		return ballot_errorf(em, BALLOT_EIO, "unlink %s: No such file or directory", path);
	if (e->ino->is_dir)
		return ballot_errorf(em, BALLOT_EIO, "unlink %s: Is a directory", path);
	if (dirop_push(sim, OP_UNLINK, path, NULL, e->ino) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "unlink %s: out of memory", path);
	names_remove(&sim->names, e);
	collect_garbage(sim);
	return 0;
}

static int sim_mkdir(ballot_fs *fs, const char *path, bool *created, ballot_errmsg *em)
{
	ballot_fs_sim *sim = sim_of(fs);
	*created = false;
	if (dir_exists(sim, path))
		return 0;
	if (names_find(&sim->names, path) != NULL)
		return ballot_errorf(em, BALLOT_EIO, "%s exists and is not a directory", path);
	char dir[BALLOT_STORAGE_PATH_MAX];
	parent_of(path, dir, sizeof dir);
	if (!dir_exists(sim, dir))
		return ballot_errorf(em, BALLOT_EIO, "mkdir %s: No such file or directory", path);
	int rc = may_fail(sim, "mkdir", path, em);
	if (rc != 0)
		return rc;
	sim_inode *ino = inode_new(sim, true);
	if (ino == NULL || names_set(&sim->names, path, ino) != 0 || dirop_push(sim, OP_LINK, path, NULL, ino) != 0) {
		collect_garbage(sim);
		return ballot_errorf(em, BALLOT_ENOMEM, "mkdir %s: out of memory", path);
	}
	*created = true;
	return 0;
}

static int sim_list(ballot_fs *fs, const char *dir, ballot_fs_names *out, ballot_errmsg *em)
{
	ballot_fs_sim *sim = sim_of(fs);
	memset(out, 0, sizeof *out);
	if (!dir_exists(sim, dir))
		return ballot_errorf(em, BALLOT_EIO, "open directory %s: No such file or directory", dir);
	size_t cap = 0;
	char parent[BALLOT_STORAGE_PATH_MAX];
	for (size_t i = 0; i < sim->names.count; i++) {
		const char *path = sim->names.items[i].path;
		parent_of(path, parent, sizeof parent);
		if (strcmp(parent, dir) != 0)
			continue;
		if (storage_names_push(out, &cap, strrchr(path, '/') + 1) != 0) {
			ballot_fs_names_free(out);
			return ballot_errorf(em, BALLOT_ENOMEM, "list %s: out of memory", dir);
		}
	}
	return 0;
}

static int sim_lock(ballot_fs *fs, const char *path, ballot_file **out, ballot_errmsg *em)
{
	int rc = sim_open(fs, path, BALLOT_FS_RDWR | BALLOT_FS_CREATE, out, em);
	if (rc != 0)
		return rc;
	if ((*out)->ino->locked) {
		sim_close(fs, *out);
		*out = NULL;
		return ballot_errorf(em, BALLOT_EBUSY, "lock %s: held by another process", path);
	}
	(*out)->ino->locked = true;
	(*out)->holds_lock = true;
	return 0;
}

static const ballot_fs_ops sim_ops = {
	.open = sim_open,
	.close = sim_close,
	.pread = sim_pread,
	.pwrite = sim_pwrite,
	.datasync = sim_datasync,
	.truncate = sim_truncate,
	.preallocate = sim_preallocate,
	.size = sim_size,
	.sync_dir = sim_sync_dir,
	.rename = sim_rename,
	.unlink = sim_unlink,
	.mkdir = sim_mkdir,
	.list = sim_list,
	.lock = sim_lock,
};

/* ---- the machine ---------------------------------------------------------------------- */

int ballot_fs_sim_new(ballot_fs_sim **out, uint64_t seed)
{
	ballot_fs_sim *sim = calloc(1, sizeof *sim);
	if (sim == NULL)
		return BALLOT_ENOMEM;
	sim->base.ops = &sim_ops;
	ballot_rng_seed(&sim->rng, seed);
	sim->fail_after = UINT64_MAX;
	*out = sim;
	return 0;
}

void ballot_fs_sim_free(ballot_fs_sim *sim)
{
	if (sim == NULL)
		return;
	for (size_t i = 0; i < sim->inode_count; i++)
		inode_free(sim->inodes[i]);
	free(sim->inodes);
	names_clear(&sim->names);
	names_clear(&sim->dnames);
	free(sim->names.items);
	free(sim->dnames.items);
	for (size_t i = 0; i < sim->op_count; i++)
		dirop_free(&sim->ops[i]);
	free(sim->ops);
	free(sim);
}

ballot_fs *ballot_fs_sim_fs(ballot_fs_sim *sim)
{
	return &sim->base;
}

/* Drops durable names whose directory is not itself durably named (a directory whose own
 * creation was lost takes its files with it). */
static void drop_orphans(sim_names *dn)
{
	bool changed = true;
	char parent[BALLOT_STORAGE_PATH_MAX];
	while (changed) {
		changed = false;
		for (size_t i = 0; i < dn->count; i++) {
			parent_of(dn->items[i].path, parent, sizeof parent);
			if (strcmp(parent, "/") == 0)
				continue;
			sim_name *p = names_find(dn, parent);
			if (p == NULL || !p->ino->is_dir) {
				names_remove(dn, &dn->items[i]);
				changed = true;
				break;
			}
		}
	}
}

/* The inode whose last unsynced write is the latest, or NULL. */
static sim_inode *last_writer(ballot_fs_sim *sim)
{
	sim_inode *best = NULL;
	for (size_t i = 0; i < sim->inode_count; i++) {
		sim_inode *ino = sim->inodes[i];
		if (ino->has_write && (best == NULL || ino->write_seq > best->write_seq))
			best = ino;
	}
	return best;
}

/* Rebuilds every inode from its disk image; the torn inode keeps a prefix of its last write. */
static void crash_data(ballot_fs_sim *sim, bool tear)
{
	sim_inode *torn = tear ? last_writer(sim) : NULL;
	unsigned char *prefix = NULL;
	uint64_t prefix_len = 0, prefix_off = 0;
	if (torn != NULL) {
		prefix_off = torn->write_off;
		prefix_len = ballot_rng_below(&sim->rng, torn->write_len + 1);
		prefix = malloc(prefix_len ? (size_t)prefix_len : 1);
		if (prefix != NULL)
			memcpy(prefix, torn->data + prefix_off, (size_t)prefix_len);
		else
			prefix_len = 0;
	}
	for (size_t i = 0; i < sim->inode_count; i++)
		revert_to_disk(sim->inodes[i]);
	if (torn != NULL && prefix_len > 0) {
		uint64_t end = prefix_off + prefix_len;
		if (end > torn->size && set_size(torn, end) != 0)
			BALLOT_ASSERT(!"out of memory tearing a write");
		memcpy(torn->data + prefix_off, prefix, (size_t)prefix_len);
		mark_dirty(torn, prefix_off, end);
		BALLOT_ASSERT(make_durable(torn) == 0); /* on the platter now */
	}
	free(prefix);
}

void ballot_fs_sim_crash(ballot_fs_sim *sim, unsigned how)
{
	sim->stats.crashes++;
	if (!(how & BALLOT_FS_SIM_CRASH_PROCESS)) {
		for (size_t i = 0; i < sim->op_count; i++) {
			if ((how & BALLOT_FS_SIM_CRASH_DIR_RANDOM) && ballot_rng_below(&sim->rng, 2) == 0)
				BALLOT_ASSERT(dirop_apply(&sim->dnames, &sim->ops[i]) == 0);
		}
		drop_orphans(&sim->dnames);
		BALLOT_ASSERT(names_copy(&sim->names, &sim->dnames) == 0);
		crash_data(sim, (how & BALLOT_FS_SIM_CRASH_TEAR) != 0);
		for (size_t i = 0; i < sim->op_count; i++)
			dirop_free(&sim->ops[i]);
		sim->op_count = 0;
	}
	/* A process crash leaves the page cache and the pending name changes as they are: still
	 * not durable, a later power loss can take them. */
	for (size_t i = 0; i < sim->inode_count; i++)
		sim->inodes[i]->locked = false;
	sim->generation++;
	collect_garbage(sim);
}

static sim_inode *file_inode(ballot_fs_sim *sim, const char *path)
{
	sim_name *e = names_find(&sim->names, path);
	return e != NULL && !e->ino->is_dir ? e->ino : NULL;
}

int ballot_fs_sim_flip_bit(ballot_fs_sim *sim, const char *path, uint64_t bit, ballot_errmsg *em)
{
	sim_inode *ino = file_inode(sim, path);
	if (ino == NULL)
		return ballot_errorf(em, BALLOT_EINVAL, "flip %s: no such file", path);
	uint64_t byte = bit / 8;
	if (byte >= ino->size)
		return ballot_errorf(em, BALLOT_EINVAL, "flip %s: bit %llu past the end (%llu bytes)", path,
				     (unsigned long long)bit, (unsigned long long)ino->size);
	unsigned char mask = (unsigned char)(1u << (bit % 8));
	ino->data[byte] ^= mask;
	if (byte < ino->disk_size)
		ino->disk[byte] ^= mask;
	return 0;
}

int ballot_fs_sim_flip_random_bit(ballot_fs_sim *sim, const char *path, uint64_t from, uint64_t to,
				  uint64_t *bit, ballot_errmsg *em)
{
	sim_inode *ino = file_inode(sim, path);
	if (ino == NULL)
		return ballot_errorf(em, BALLOT_EINVAL, "flip %s: no such file", path);
	if (to > ino->size)
		to = ino->size;
	if (from >= to)
		return ballot_errorf(em, BALLOT_EINVAL, "flip %s: empty range", path);
	uint64_t b = from * 8 + ballot_rng_below(&sim->rng, (to - from) * 8);
	if (bit != NULL)
		*bit = b;
	return ballot_fs_sim_flip_bit(sim, path, b, em);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(const sim_name *const *)a)->path, (*(const sim_name *const *)b)->path);
}

/* One past the last non-zero byte of the file (0 if it is all zeros). */
static uint64_t data_extent(const sim_inode *ino)
{
	uint64_t end = ino->size;
	while (end > 0 && ino->data[end - 1] == 0)
		end--;
	return end;
}

int ballot_fs_sim_flip_in_dir(ballot_fs_sim *sim, const char *dir, char *path, size_t cap, uint64_t *bit,
			      ballot_errmsg *em)
{
	sim_name **files = malloc((sim->names.count > 0 ? sim->names.count : 1) * sizeof *files);
	if (files == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "flip in %s: out of memory", dir);
	size_t count = 0;
	char parent[BALLOT_STORAGE_PATH_MAX];
	for (size_t i = 0; i < sim->names.count; i++) {
		sim_name *e = &sim->names.items[i];
		parent_of(e->path, parent, sizeof parent);
		if (!e->ino->is_dir && e->ino->size > 0 && strcmp(parent, dir) == 0)
			files[count++] = e;
	}
	if (count == 0) {
		free(files);
		return ballot_errorf(em, BALLOT_EINVAL, "flip in %s: no file with data", dir);
	}
	qsort(files, count, sizeof *files, cmp_name);
	const sim_name *victim = files[ballot_rng_below(&sim->rng, count)];
	free(files);
	uint64_t size = victim->ino->size, extent = data_extent(victim->ino);
	uint64_t from = 0, to = size;
	uint64_t aim = ballot_rng_below(&sim->rng, 4);
	if (aim < 2 && extent > 0) {
		to = extent;
	} else if (aim == 2 && extent > 0) {
		from = extent > BALLOT_FS_SIM_FLIP_TAIL_BYTES ? extent - BALLOT_FS_SIM_FLIP_TAIL_BYTES : 0;
		to = extent;
	}
	if (path != NULL)
		snprintf(path, cap, "%s", victim->path);
	return ballot_fs_sim_flip_random_bit(sim, victim->path, from, to, bit, em);
}

int ballot_fs_sim_write_file(ballot_fs_sim *sim, const char *path, const void *data, size_t len,
			     ballot_errmsg *em)
{
	char dir[BALLOT_STORAGE_PATH_MAX];
	parent_of(path, dir, sizeof dir);
	if (!dir_exists(sim, dir))
		return ballot_errorf(em, BALLOT_EINVAL, "write %s: no directory %s", path, dir);
	sim_inode *ino = file_inode(sim, path);
	if (ino == NULL && names_find(&sim->names, path) != NULL)
		return ballot_errorf(em, BALLOT_EINVAL, "write %s: is a directory", path);
	if (ino == NULL) {
		ino = inode_new(sim, false);
		if (ino == NULL || names_set(&sim->names, path, ino) != 0)
			return ballot_errorf(em, BALLOT_ENOMEM, "write %s: out of memory", path);
	}
	if (names_set(&sim->dnames, path, ino) != 0 || set_size(ino, 0) != 0 || set_size(ino, len) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "write %s: out of memory", path);
	if (len > 0)
		memcpy(ino->data, data, len);
	mark_dirty(ino, 0, len);
	if (make_durable(ino) != 0)
		return ballot_errorf(em, BALLOT_ENOMEM, "write %s: out of memory", path);
	return 0;
}

int ballot_fs_sim_read_file(ballot_fs_sim *sim, const char *path, unsigned char **data, size_t *len,
			    ballot_errmsg *em)
{
	sim_inode *ino = file_inode(sim, path);
	if (ino == NULL)
		return ballot_errorf(em, BALLOT_EINVAL, "read %s: no such file", path);
	*data = NULL;
	*len = (size_t)ino->size;
	if (ino->size == 0)
		return 0;
	*data = malloc((size_t)ino->size);
	if (*data == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "read %s: out of memory", path);
	memcpy(*data, ino->data, (size_t)ino->size);
	return 0;
}

void ballot_fs_sim_fail_after(ballot_fs_sim *sim, uint64_t ops)
{
	sim->fail_after = ops;
}

void ballot_fs_sim_stats_get(const ballot_fs_sim *sim, ballot_fs_sim_stats *out)
{
	*out = sim->stats;
}
