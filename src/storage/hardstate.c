/* The hard state file: two copies of (sequence, term, vote, commit), each in its own
 * 512-byte slot with its own checksum, written one after the other, each followed by an
 * fdatasync.
 *
 * Why two copies written in turn, and not one file replaced by rename, or two slots used
 * alternately: a save costs two fdatasyncs and no directory operation (a rename costs two
 * syncs and a directory fsync), and any single failure leaves a copy that is safe to use:
 *   - a crash while writing copy 0 leaves copy 1 with the previous state, which is the one
 *     the caller was last told is durable;
 *   - a crash while writing copy 1 leaves copy 0 complete and synced (the newer state: it
 *     reached the disk, the caller just was not told yet);
 *   - a flipped bit in either copy leaves the other with the same state.
 * Alternating slots (one write per save) cannot tell a slot torn by a crash (fall back:
 * right) from the newest slot damaged later (fall back: a forgotten vote, so a second vote
 * in the same term, Raft §5.2). Recovery takes the valid copy with the higher sequence and
 * then rewrites both, so the copies agree again before the node acts on the state. */
#include <string.h>
#include <xxhash.h>

#include "storage/storage_internal.h"

/* Decodes copy `slot`; false if damaged. *version is what the copy claims. */
static bool slot_decode(const unsigned char *p, unsigned slot, hs_slot *v, uint32_t *version)
{
	*version = 0;
	if (memcmp(p, HS_MAGIC, 8) != 0)
		return false;
	*version = get_u32(p + 8);
	if (*version != STORAGE_VERSION || get_u64(p + 56) != XXH3_64bits(p, 56))
		return false;
	if (get_u32(p + 12) != slot || get_u64(p + 48) != 0)
		return false;
	for (unsigned i = HS_BODY_BYTES; i < HS_SLOT_BYTES; i++) {
		if (p[i] != 0) /* unused, so any change is damage */
			return false;
	}
	v->seq = get_u64(p + 16);
	v->hs.term = get_u64(p + 24);
	v->hs.vote = get_u64(p + 32);
	v->hs.commit = get_u64(p + 40);
	return true;
}

int hardstate_read(ballot_fs *fs, const char *path, hs_slot *out, bool *repair, unsigned *bad_slot,
		   ballot_errmsg *em)
{
	*repair = false;
	*bad_slot = 2;
	ballot_file *f = NULL;
	int rc = ballot_fs_open(fs, path, BALLOT_FS_RDONLY, &f, em);
	if (rc != 0)
		return rc;
	unsigned char buf[HS_FILE_BYTES + 1];
	size_t got = 0;
	rc = ballot_fs_pread(fs, f, buf, sizeof buf, 0, &got, em);
	ballot_fs_close(fs, f);
	if (rc != 0)
		return rc;
	if (got != HS_FILE_BYTES)
		return storage_corrupt(em, path, got < HS_FILE_BYTES ? got : HS_FILE_BYTES,
				       "the hard state file is %s %u bytes", got < HS_FILE_BYTES ? "shorter than" : "longer than",
				       HS_FILE_BYTES);
	hs_slot v[2];
	uint32_t version[2];
	bool ok[2];
	for (unsigned i = 0; i < 2; i++)
		ok[i] = slot_decode(buf + i * HS_SLOT_BYTES, i, &v[i], &version[i]);
	if (!ok[0] && !ok[1]) {
		for (unsigned i = 0; i < 2; i++) {
			if (version[i] != 0 && version[i] != STORAGE_VERSION)
				return storage_corrupt(em, path, i * HS_SLOT_BYTES + 8,
						       "format version %u, but this build reads version %u (a newer "
						       "ballot wrote it, or both copies are damaged)",
						       version[i], STORAGE_VERSION);
		}
		return storage_corrupt(em, path, 0, "both copies of the hard state are damaged");
	}
	if (ok[0] && ok[1]) {
		if (v[0].seq == v[1].seq && memcmp(&v[0].hs, &v[1].hs, sizeof v[0].hs) != 0)
			return storage_corrupt(em, path, HS_SLOT_BYTES, "the two copies of save %llu differ",
					       (unsigned long long)v[0].seq);
		*out = v[0].seq >= v[1].seq ? v[0] : v[1];
		*repair = v[0].seq != v[1].seq;
		return 0;
	}
	*bad_slot = ok[0] ? 1 : 0;
	*out = ok[0] ? v[0] : v[1];
	*repair = true;
	return 0;
}

int hardstate_write(ballot_fs *fs, ballot_file *f, const hs_slot *v, ballot_errmsg *em)
{
	unsigned char slot[HS_SLOT_BYTES];
	for (unsigned i = 0; i < 2; i++) {
		hs_slot_encode(slot, i, v);
		int rc = ballot_fs_pwrite(fs, f, slot, sizeof slot, (uint64_t)i * HS_SLOT_BYTES, em);
		if (rc == 0)
			rc = ballot_fs_datasync(fs, f, em);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int hardstate_create(ballot_fs *fs, const char *dir, const hs_slot *v, ballot_errmsg *em)
{
	char tmp[BALLOT_STORAGE_PATH_MAX], path[BALLOT_STORAGE_PATH_MAX];
	int rc = storage_path(tmp, dir, HS_NAME TMP_SUFFIX, em);
	if (rc == 0)
		rc = storage_path(path, dir, HS_NAME, em);
	if (rc != 0)
		return rc;
	ballot_file *f = NULL;
	rc = ballot_fs_open(fs, tmp, BALLOT_FS_RDWR | BALLOT_FS_CREATE, &f, em);
	if (rc != 0)
		return rc;
	rc = ballot_fs_truncate(fs, f, 0, em);
	if (rc == 0)
		rc = hardstate_write(fs, f, v, em);
	ballot_fs_close(fs, f);
	if (rc == 0)
		rc = ballot_fs_rename(fs, tmp, path, em);
	if (rc == 0)
		rc = ballot_fs_sync_dir(fs, dir, em);
	return rc;
}
