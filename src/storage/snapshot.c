/* Snapshot files: a header (position, configuration and data lengths, its own checksum),
 * the encoded configuration, the state machine's bytes, and a checksum of everything before
 * it. Written under a temporary name, synced, renamed, and the directory synced: a snapshot
 * file under its final name is always complete, so any damage in one is corruption. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/assert.h"
#include "storage/storage_internal.h"

static void header_encode(unsigned char *p, const snap_meta *m, uint32_t config_len)
{
	memset(p, 0, SNAP_HEADER_BYTES);
	memcpy(p, SNAP_MAGIC, 8);
	put_u32(p + 8, STORAGE_VERSION);
	put_u32(p + 12, SNAP_HEADER_BYTES);
	put_u64(p + 16, m->index);
	put_u64(p + 24, m->term);
	put_u32(p + 32, config_len);
	put_u64(p + 40, m->data_bytes);
	put_u64(p + 56, XXH3_64bits(p, 56));
}

typedef struct snap_header {
	uint64_t index, term, data_bytes;
	uint32_t config_len;
} snap_header;

static int header_check(const unsigned char *p, const char *path, uint64_t index, uint64_t file_size,
			snap_header *h, ballot_errmsg *em)
{
	if (memcmp(p, SNAP_MAGIC, 8) != 0)
		return storage_corrupt(em, path, 0, "not a ballot snapshot (bad magic)");
	uint32_t version = get_u32(p + 8);
	if (version != STORAGE_VERSION)
		return storage_corrupt(em, path, 8, "format version %u, but this build reads version %u "
				       "(a newer ballot wrote it, or the header is damaged)", version, STORAGE_VERSION);
	if (get_u64(p + 56) != XXH3_64bits(p, 56))
		return storage_corrupt(em, path, 56, "snapshot header checksum mismatch");
	h->index = get_u64(p + 16);
	h->term = get_u64(p + 24);
	h->config_len = get_u32(p + 32);
	h->data_bytes = get_u64(p + 40);
	if (get_u32(p + 12) != SNAP_HEADER_BYTES || get_u32(p + 36) != 0 || get_u64(p + 48) != 0)
		return storage_corrupt(em, path, 12, "impossible snapshot header fields");
	if (h->index != index)
		return storage_corrupt(em, path, 16, "the header says index %llu, the name %llu",
				       (unsigned long long)h->index, (unsigned long long)index);
	if (h->config_len > BALLOT_CONFIG_ENCODED_MAX || h->data_bytes > BALLOT_RAFT_SNAPSHOT_BYTES_MAX)
		return storage_corrupt(em, path, 32, "impossible lengths (configuration %u, data %llu bytes)",
				       h->config_len, (unsigned long long)h->data_bytes);
	uint64_t want = SNAP_HEADER_BYTES + h->config_len + h->data_bytes + SNAP_TRAILER_BYTES;
	if (file_size != want)
		return storage_corrupt(em, path, file_size < want ? file_size : want,
				       "the file is %llu bytes, its header says %llu", (unsigned long long)file_size,
				       (unsigned long long)want);
	return 0;
}

/* Reads len bytes at off into dst (or a scratch buffer) and feeds them to the checksum. */
static int read_hashed(ballot_fs *fs, ballot_file *f, const char *path, uint64_t off, uint64_t len,
		       unsigned char *dst, XXH3_state_t *st, ballot_errmsg *em)
{
	size_t chunk = len < BALLOT_WAL_READ_BUFFER_BYTES ? (size_t)len : BALLOT_WAL_READ_BUFFER_BYTES;
	unsigned char *scratch = NULL;
	if (dst == NULL && chunk > 0) {
		scratch = malloc(chunk);
		if (scratch == NULL)
			return ballot_errorf(em, BALLOT_ENOMEM, "reading %s: out of memory", path);
	}
	int rc = 0;
	for (uint64_t done = 0; done < len && rc == 0;) {
		size_t n = len - done < chunk ? (size_t)(len - done) : chunk;
		unsigned char *p = dst != NULL ? dst + done : scratch;
		size_t got = 0;
		rc = ballot_fs_pread(fs, f, p, n, off + done, &got, em);
		if (rc == 0 && got != n)
			rc = ballot_errorf(em, BALLOT_EIO, "reading %s: the file shrank while being read", path);
		if (rc == 0)
			XXH3_64bits_update(st, p, n);
		done += n;
	}
	free(scratch);
	return rc;
}

int snapshot_read(ballot_fs *fs, const char *path, uint64_t index, snap_meta *meta, ballot_rbuf **data,
		  ballot_errmsg *em)
{
	if (data != NULL)
		*data = NULL;
	ballot_file *f = NULL;
	int rc = ballot_fs_open(fs, path, BALLOT_FS_RDONLY, &f, em);
	if (rc != 0)
		return rc;
	uint64_t size = 0;
	unsigned char head[SNAP_HEADER_BYTES];
	unsigned char config[BALLOT_CONFIG_ENCODED_MAX];
	unsigned char trailer[SNAP_TRAILER_BYTES];
	snap_header h = {0};
	ballot_rbuf *buf = NULL;
	XXH3_state_t *st = XXH3_createState();
	size_t got = 0;
	if (st == NULL) {
		rc = ballot_errorf(em, BALLOT_ENOMEM, "reading %s: out of memory", path);
		goto close_file;
	}
	XXH3_64bits_reset(st);
	rc = ballot_fs_size(fs, f, &size, em);
	if (rc == 0 && size < SNAP_HEADER_BYTES + SNAP_TRAILER_BYTES)
		rc = storage_corrupt(em, path, size, "the file is %llu bytes, shorter than a snapshot can be",
				     (unsigned long long)size);
	if (rc == 0)
		rc = read_hashed(fs, f, path, 0, SNAP_HEADER_BYTES, head, st, em);
	if (rc == 0)
		rc = header_check(head, path, index, size, &h, em);
	if (rc == 0)
		rc = read_hashed(fs, f, path, SNAP_HEADER_BYTES, h.config_len, config, st, em);
	if (rc == 0 && data != NULL && (h.data_bytes > 0 || index > 0)) {
		buf = ballot_rbuf_new(NULL, (size_t)h.data_bytes);
		if (buf == NULL)
			rc = ballot_errorf(em, BALLOT_ENOMEM, "reading %s: out of memory for %llu bytes", path,
					   (unsigned long long)h.data_bytes);
	}
	if (rc == 0)
		rc = read_hashed(fs, f, path, SNAP_HEADER_BYTES + h.config_len, h.data_bytes,
				 buf != NULL ? buf->data : NULL, st, em);
	if (rc == 0)
		rc = ballot_fs_pread(fs, f, trailer, sizeof trailer, size - SNAP_TRAILER_BYTES, &got, em);
	if (rc == 0 && got != sizeof trailer)
		rc = ballot_errorf(em, BALLOT_EIO, "reading %s: the file shrank while being read", path);
	if (rc == 0 && get_u64(trailer) != XXH3_64bits_digest(st))
		rc = storage_corrupt(em, path, size - SNAP_TRAILER_BYTES, "snapshot checksum mismatch");
	if (rc == 0) {
		ballot_errmsg cem;
		if (ballot_config_decode(config, h.config_len, &meta->config, &cem) != 0)
			rc = storage_corrupt(em, path, SNAP_HEADER_BYTES, "%s", cem.text);
	}
	if (rc == 0) {
		meta->index = h.index;
		meta->term = h.term;
		meta->data_bytes = h.data_bytes;
		if (data != NULL) {
			*data = buf;
			buf = NULL;
		}
	}
	ballot_rbuf_unref(buf);
close_file:
	XXH3_freeState(st);
	ballot_fs_close(fs, f);
	return rc;
}

int snapshot_write(ballot_fs *fs, const char *dir, const snap_meta *meta, const ballot_rbuf *data,
		   const char *tmp_suffix, size_t sync_bytes, void (*pace)(void *), void *pace_ctx, ballot_errmsg *em)
{
	char name[64], tmp_name[64];
	char path[BALLOT_STORAGE_PATH_MAX], tmp[BALLOT_STORAGE_PATH_MAX];
	storage_name(name, sizeof name, meta->index, SNAP_SUFFIX);
	storage_name(tmp_name, sizeof tmp_name, meta->index, tmp_suffix);
	int rc = storage_path(path, dir, name, em);
	if (rc == 0)
		rc = storage_path(tmp, dir, tmp_name, em);
	if (rc != 0)
		return rc;
	unsigned char head[SNAP_HEADER_BYTES];
	unsigned char config[BALLOT_CONFIG_ENCODED_MAX];
	unsigned char trailer[SNAP_TRAILER_BYTES];
	uint32_t config_len = (uint32_t)ballot_config_encode(&meta->config, config);
	uint64_t data_len = data != NULL ? data->len : 0;
	BALLOT_ASSERT(data_len == meta->data_bytes);
	header_encode(head, meta, config_len);
	XXH3_state_t *st = XXH3_createState();
	if (st == NULL)
		return ballot_errorf(em, BALLOT_ENOMEM, "writing %s: out of memory", tmp);
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, head, sizeof head);
	XXH3_64bits_update(st, config, config_len);
	if (data_len > 0)
		XXH3_64bits_update(st, data->data, (size_t)data_len);
	put_u64(trailer, XXH3_64bits_digest(st));
	XXH3_freeState(st);

	ballot_file *f = NULL;
	rc = ballot_fs_open(fs, tmp, BALLOT_FS_RDWR | BALLOT_FS_CREATE, &f, em);
	if (rc != 0)
		return rc;
	uint64_t at = 0;
	rc = ballot_fs_truncate(fs, f, 0, em);
	if (rc == 0)
		rc = ballot_fs_pwrite(fs, f, head, sizeof head, at, em);
	at += sizeof head;
	if (rc == 0 && config_len > 0)
		rc = ballot_fs_pwrite(fs, f, config, config_len, at, em);
	at += config_len;
	for (uint64_t done = 0; rc == 0 && done < data_len;) {
		size_t n = data_len - done < sync_bytes ? (size_t)(data_len - done) : sync_bytes;
		rc = ballot_fs_pwrite(fs, f, data->data + done, n, at + done, em);
		done += n;
		if (rc == 0 && done < data_len)
			rc = ballot_fs_datasync(fs, f, em);
		if (rc == 0 && done < data_len && pace != NULL)
			pace(pace_ctx);
	}
	at += data_len;
	if (rc == 0)
		rc = ballot_fs_pwrite(fs, f, trailer, sizeof trailer, at, em);
	if (rc == 0)
		rc = ballot_fs_datasync(fs, f, em);
	ballot_fs_close(fs, f);
	if (rc == 0)
		rc = ballot_fs_rename(fs, tmp, path, em);
	if (rc == 0)
		rc = ballot_fs_sync_dir(fs, dir, em);
	return rc;
}
