/* disk_sync: the disk's own limit for durable writes, the floor under every system that
 * bench/compare.sh measures.
 *
 * For each batch size (default 1, 16, 64 and 256 records), appends 128-byte records a batch
 * at a time with one write and one fdatasync per batch, for --seconds, and reports records
 * per second, syncs per second and the latency of write+fdatasync at p50 and p99. Two file
 * layouts, because they cost differently on most file systems:
 * - append: the file grows with every batch, so each fdatasync also writes its new size;
 * - prefilled: the file was written with zeros and synced first, so a batch overwrites
 *   blocks in place and fdatasync writes only data (what a preallocating log gets at best).
 *
 * Output: a markdown table on stdout, or with --kv one key=value line per row.
 * Usage: disk_sync [--dir DIR] [--seconds S] [--batches 1,16,64,256] [--kv]
 * Not a test: figures go to bench/RESULTS.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECORD_BYTES 128
#define BATCHES_MAX 8
#define BATCH_RECORDS_MAX 4096
#define SYNCS_MAX 2000000
#define PREFILL_BYTES (256ull * 1024 * 1024)
#define SECONDS_MAX 600.0

typedef struct options {
	const char *dir;
	double seconds;
	unsigned batches[BATCHES_MAX];
	unsigned batch_count;
	bool kv;
} options;

typedef struct result {
	double records_per_s, syncs_per_s, p50_ms, p99_ms;
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

static double quantile(const double *sorted, unsigned long n, double q)
{
	unsigned long i = (unsigned long)(q * (double)n);
	return sorted[i < n ? i : n - 1];
}

/* Writes and syncs PREFILL_BYTES of zeros to fd, so later writes land on allocated blocks. */
static int prefill(int fd)
{
	static char zeros[1 << 20];
	for (unsigned long long off = 0; off < PREFILL_BYTES; off += sizeof zeros) {
		if (pwrite(fd, zeros, sizeof zeros, (off_t)off) != (ssize_t)sizeof zeros)
			return -1;
	}
	return fdatasync(fd);
}

/* Runs one batch size on a fresh file in dir; fills r. Returns 0 or -1 with errno set. */
static int run_batch(const options *o, unsigned batch, bool prefilled, double *lat, result *r)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/disk_sync.%d.dat", o->dir, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	unlink(path); /* gone when fd closes, even if this process is killed */
	if (prefilled && prefill(fd) != 0)
		goto fail_fd;
	static char buf[BATCH_RECORDS_MAX * RECORD_BYTES];
	memset(buf, 'r', sizeof buf);
	size_t bytes = (size_t)batch * RECORD_BYTES;
	unsigned long long off = 0;
	unsigned long n = 0;
	double start = now_s(), end = start + o->seconds;
	while (n < SYNCS_MAX) {
		if (prefilled && off + bytes > PREFILL_BYTES)
			off = 0;
		double t = now_s();
		if (t >= end)
			break;
		if (pwrite(fd, buf, bytes, (off_t)off) != (ssize_t)bytes || fdatasync(fd) != 0)
			goto fail_fd;
		lat[n++] = now_s() - t;
		off += bytes;
	}
	double elapsed = now_s() - start;
	close(fd);
	qsort(lat, n, sizeof *lat, cmp_double);
	*r = (result){.syncs = n,
		      .syncs_per_s = (double)n / elapsed,
		      .records_per_s = (double)n * batch / elapsed,
		      .p50_ms = quantile(lat, n, 0.50) * 1e3,
		      .p99_ms = quantile(lat, n, 0.99) * 1e3};
	return 0;

fail_fd:
	close(fd);
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: disk_sync [--dir DIR] [--seconds S] [--batches 1,16,64,256] [--kv]\n"
		   "  --dir DIR      where the scratch file goes (default .); use the disk you measure\n"
		   "  --seconds S    per batch size and layout (default 2, at most 600)\n"
		   "  --batches L    records per fdatasync, comma-separated (each 1..%d)\n"
		   "  --kv           key=value lines instead of a table\n",
		BATCH_RECORDS_MAX);
}

static int parse_batches(const char *s, options *o)
{
	char copy[256];
	snprintf(copy, sizeof copy, "%s", s);
	o->batch_count = 0;
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v = strtoul(tok, &end, 10);
		if (*end != '\0' || v < 1 || v > BATCH_RECORDS_MAX || o->batch_count == BATCHES_MAX)
			return -1;
		o->batches[o->batch_count++] = (unsigned)v;
	}
	return o->batch_count > 0 ? 0 : -1;
}

static int parse_options(int argc, char **argv, options *o)
{
	*o = (options){.dir = ".", .seconds = 2, .batches = {1, 16, 64, 256}, .batch_count = 4};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--kv") == 0) {
			o->kv = true;
			continue;
		} else if (v == NULL) {
			fprintf(stderr, "disk_sync: %s needs a value (see --help)\n", a);
			return -1;
		} else if (strcmp(a, "--dir") == 0) {
			o->dir = v;
		} else if (strcmp(a, "--seconds") == 0) {
			char *end;
			o->seconds = strtod(v, &end);
			if (*end != '\0' || !(o->seconds > 0 && o->seconds <= SECONDS_MAX)) {
				fprintf(stderr, "disk_sync: --seconds %s: must be in (0, %.0f]\n", v, SECONDS_MAX);
				return -1;
			}
		} else if (strcmp(a, "--batches") == 0) {
			if (parse_batches(v, o) != 0) {
				fprintf(stderr, "disk_sync: --batches %s: up to %d numbers in 1..%d\n", v, BATCHES_MAX,
					BATCH_RECORDS_MAX);
				return -1;
			}
		} else {
			fprintf(stderr, "disk_sync: unknown option %s (see --help)\n", a);
			return -1;
		}
		i++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	options o;
	if (parse_options(argc, argv, &o) != 0)
		return 2;
	double *lat = malloc(SYNCS_MAX * sizeof *lat);
	if (lat == NULL) {
		fprintf(stderr, "disk_sync: out of memory\n");
		return 1;
	}
	if (!o.kv) {
		printf("| layout | records/sync | records/s | syncs/s | sync p50 ms | sync p99 ms |\n");
		printf("|---|---|---|---|---|---|\n");
	}
	for (int layout = 0; layout < 2; layout++) {
		bool prefilled = layout == 1;
		const char *name = prefilled ? "prefilled" : "append";
		for (unsigned i = 0; i < o.batch_count; i++) {
			result r;
			if (run_batch(&o, o.batches[i], prefilled, lat, &r) != 0) {
				fprintf(stderr, "disk_sync: %s in %s: %s\n", name, o.dir, strerror(errno));
				free(lat);
				return 1;
			}
			if (o.kv)
				printf("layout=%s batch=%u records_per_s=%.0f syncs_per_s=%.0f p50_ms=%.3f p99_ms=%.3f\n",
				       name, o.batches[i], r.records_per_s, r.syncs_per_s, r.p50_ms, r.p99_ms);
			else
				printf("| %s | %u | %.0f | %.0f | %.3f | %.3f |\n", name, o.batches[i], r.records_per_s,
				       r.syncs_per_s, r.p50_ms, r.p99_ms);
			fflush(stdout);
		}
	}
	free(lat);
	return 0;
}
