/* bench_wal: how fast the write-ahead log makes entries durable on this machine's disk.
 *
 * For batch sizes 1, 16, 64 and 256: appends 128-byte entries a batch at a time, each batch
 * followed by one ballot_storage_sync (group commit: one write, one fdatasync), for a few
 * seconds, in a fresh data directory under /tmp (or --dir). Reports entries per second and
 * the latency of the sync (the write and the fdatasync) at p50 and p99. Beside it, the
 * disk's own limit: the same bytes written with pwrite + fdatasync on a bare file, once
 * preallocated with posix_fallocate (as segments are) and once filled with zeros first.
 * The fdatasync is the floor every replicated write stands on.
 *
 * Not a test: figures go to the report by hand. Usage:
 *   bench_wal [--dir DIR] [--seconds S] [--segment-bytes B] [--batches 1,16,64,256] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ballot/storage.h"

#define ENTRY_BYTES 128
#define SYNCS_MAX 200000

typedef struct bench_opts {
	const char *dir;
	double seconds;
	uint64_t segment_bytes;
	unsigned batches[8];
	unsigned batch_count;
} bench_opts;

typedef struct result {
	double entries_per_s, syncs_per_s, p50_ms, p99_ms, mean_ms;
	unsigned long syncs;
} result;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void summarize(double *lat, unsigned long n, double elapsed, unsigned batch, result *r)
{
	qsort(lat, n, sizeof *lat, cmp_double);
	double sum = 0;
	for (unsigned long i = 0; i < n; i++)
		sum += lat[i];
	r->syncs = n;
	r->entries_per_s = (double)n * batch / elapsed;
	r->syncs_per_s = (double)n / elapsed;
	r->p50_ms = lat[n / 2] * 1e3;
	r->p99_ms = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] * 1e3;
	r->mean_ms = sum / (double)n * 1e3;
}

static void remove_dir(const char *dir)
{
	ballot_fs *fs = ballot_fs_posix();
	ballot_fs_names names;
	if (ballot_fs_list(fs, dir, &names, NULL) != 0)
		return;
	for (size_t i = 0; i < names.count; i++) {
		char path[2 * BALLOT_STORAGE_PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, names.names[i]);
		ballot_fs_unlink(fs, path, NULL);
	}
	ballot_fs_names_free(&names);
	rmdir(dir);
}

/* The log: batches of entries, one sync each. */
static int bench_log(const bench_opts *o, const char *dir, unsigned batch, double *lat, result *r)
{
	ballot_storage_options so;
	ballot_storage_options_default(&so);
	so.segment_bytes = o->segment_bytes;
	ballot_storage *s = NULL;
	ballot_storage_recovery rec;
	ballot_errmsg em;
	if (ballot_storage_open(ballot_fs_posix(), dir, &so, &s, &rec, &em) != 0) {
		fprintf(stderr, "bench_wal: %s\n", em.text);
		return 1;
	}
	ballot_storage_recovery_free(&rec);
	ballot_entry *entries = calloc(batch, sizeof *entries);
	unsigned char payload[ENTRY_BYTES];
	memset(payload, 'x', sizeof payload);
	uint64_t index = 1;
	unsigned long n = 0;
	double start = now_s(), end = start + o->seconds;
	int rc = 0;
	while (rc == 0 && n < SYNCS_MAX && now_s() < end) {
		for (unsigned i = 0; i < batch; i++) {
			entries[i] = (ballot_entry){.index = index + i, .term = 1, .type = BALLOT_ENTRY_NORMAL,
						    .data = ballot_rbuf_new(payload, sizeof payload)};
		}
		rc = ballot_storage_append(s, entries, batch, &em);
		double t0 = now_s();
		if (rc == 0)
			rc = ballot_storage_sync(s, &em);
		lat[n++] = now_s() - t0;
		for (unsigned i = 0; i < batch; i++)
			ballot_rbuf_unref(entries[i].data);
		index += batch;
	}
	double elapsed = now_s() - start;
	ballot_storage_close(s);
	free(entries);
	if (rc != 0) {
		fprintf(stderr, "bench_wal: %s\n", em.text);
		return 1;
	}
	summarize(lat, n, elapsed, batch, r);
	return 0;
}

/* A fresh bare file of file_bytes, preallocated or zero-filled and synced, like a segment. */
static int raw_file(const char *path, size_t file_bytes, bool zero_fill, unsigned char *zeros)
{
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		fprintf(stderr, "bench_wal: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (zero_fill) {
		for (size_t at = 0; at < file_bytes; at += 1 << 20)
			if (pwrite(fd, zeros, 1 << 20, (off_t)at) < 0)
				break;
	} else {
		posix_fallocate(fd, 0, (off_t)file_bytes);
	}
	fdatasync(fd);
	return fd;
}

/* The disk alone: the same bytes per batch, pwrite + fdatasync on a bare file; a full file
 * is replaced by a fresh one (outside the timed sync), as the log rolls to a new segment. */
static int bench_raw(const bench_opts *o, const char *dir, unsigned batch, bool zero_fill, double *lat, result *r)
{
	char path[BALLOT_STORAGE_PATH_MAX + 8];
	snprintf(path, sizeof path, "%s/raw", dir);
	size_t file_bytes = (size_t)o->segment_bytes;
	size_t chunk = (48 + ENTRY_BYTES) * (size_t)batch; /* records: header, payload, trailer */
	unsigned char *zeros = calloc(1, 1 << 20);
	unsigned char *buf = malloc(chunk);
	if (zeros == NULL || buf == NULL)
		return 1;
	memset(buf, 'x', chunk);
	int fd = raw_file(path, file_bytes, zero_fill, zeros);
	unsigned long n = 0;
	size_t at = 0;
	double start = now_s(), end = start + o->seconds;
	while (fd >= 0 && n < SYNCS_MAX && now_s() < end) {
		if (at + chunk > file_bytes) {
			close(fd);
			fd = raw_file(path, file_bytes, zero_fill, zeros);
			at = 0;
			continue;
		}
		double t0 = now_s();
		if (pwrite(fd, buf, chunk, (off_t)at) < 0 || fdatasync(fd) < 0) {
			fprintf(stderr, "bench_wal: %s: %s\n", path, strerror(errno));
			break;
		}
		lat[n++] = now_s() - t0;
		at += chunk;
	}
	double elapsed = now_s() - start;
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(buf);
	free(zeros);
	if (n == 0)
		return 1;
	summarize(lat, n, elapsed, batch, r);
	return 0;
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			o->dir = argv[++i];
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			o->seconds = atof(argv[++i]);
		} else if (strcmp(argv[i], "--segment-bytes") == 0 && i + 1 < argc) {
			o->segment_bytes = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc) {
			o->batch_count = 0;
			for (char *p = argv[++i]; *p != '\0' && o->batch_count < 8;) {
				o->batches[o->batch_count++] = (unsigned)strtoul(p, &p, 10);
				if (*p == ',')
					p++;
			}
		} else {
			fprintf(stderr, "usage: bench_wal [--dir DIR] [--seconds S] [--segment-bytes B] "
					"[--batches 1,16,64,256]\n");
			return 2;
		}
	}
	if (o->seconds <= 0 || o->segment_bytes < BALLOT_WAL_SEGMENT_BYTES_MIN ||
	    o->segment_bytes > BALLOT_WAL_SEGMENT_BYTES_MAX || o->batch_count == 0) {
		fprintf(stderr, "bench_wal: bad arguments\n");
		return 2;
	}
	for (unsigned b = 0; b < o->batch_count; b++) {
		if (o->batches[b] < 1 || o->batches[b] > 4096) {
			fprintf(stderr, "bench_wal: batches are 1 to 4096 entries\n");
			return 2;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	bench_opts o = {.dir = "/tmp", .seconds = 3, .segment_bytes = BALLOT_WAL_SEGMENT_BYTES_DEFAULT,
			.batches = {1, 16, 64, 256}, .batch_count = 4};
	int rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc;
	char dir[BALLOT_STORAGE_PATH_MAX];
	snprintf(dir, sizeof dir, "%s/bench-wal-%ld", o.dir, (long)getpid());
	double *lat = malloc(SYNCS_MAX * sizeof *lat);
	if (lat == NULL)
		return 1;
	printf("bench_wal: %s, %d-byte entries, %llu-byte segments, %.1f s per run\n", dir, ENTRY_BYTES,
	       (unsigned long long)o.segment_bytes, o.seconds);
	printf("%-28s %6s %12s %10s %10s %10s %10s\n", "what", "batch", "entries/s", "syncs/s", "p50 ms", "p99 ms",
	       "mean ms");
	for (unsigned b = 0; b < o.batch_count && rc == 0; b++) {
		unsigned batch = o.batches[b];
		const char *names[3] = {"wal append+sync", "raw pwrite+fdatasync (falloc)", "raw pwrite+fdatasync (zeroed)"};
		for (int kind = 0; kind < 3 && rc == 0; kind++) {
			result r;
			remove_dir(dir);
			if (kind == 0) {
				rc = bench_log(&o, dir, batch, lat, &r);
			} else {
				if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
					fprintf(stderr, "bench_wal: %s: %s\n", dir, strerror(errno));
					rc = 1;
					break;
				}
				rc = bench_raw(&o, dir, batch, kind == 2, lat, &r);
			}
			if (rc == 0)
				printf("%-28s %6u %12.0f %10.0f %10.3f %10.3f %10.3f\n", names[kind], batch, r.entries_per_s,
				       r.syncs_per_s, r.p50_ms, r.p99_ms, r.mean_ms);
			fflush(stdout);
		}
	}
	remove_dir(dir);
	free(lat);
	return rc;
}
