/* disk_sync: the disk's own limit for durable writes, the floor under every system that
 * bench/compare.sh measures.
 *
 * For each batch size (default 1, 16, 64 and 256 records), appends 128-byte records a batch
 * at a time with one write and one fdatasync per batch, for --seconds, and reports records
 * per second, syncs per second, the latency of write+fdatasync at p50, p99 and its maximum,
 * and how many syncs per second took over 5 ms (bench/README.md: on the virtual disk we run
 * on, syncs from several processes at once stall in steps of 100 ms). Three file
 * layouts, because they can cost differently on a file system:
 * - append: the file grows with every batch, so each fdatasync also writes its new size;
 * - fallocated: the file's blocks were reserved with posix_fallocate first (what a ballot log
 *   segment gets, src/storage/fs_posix.c): ext4 marks them unwritten, and the first write
 *   into each block converts it, a journal commit at that block's fdatasync;
 * - prefilled: the file was written with zeros and synced first, so a batch overwrites
 *   blocks in place and fdatasync writes only data (what a preallocating log gets at best).
 *
 * With --procs N, N processes run each case at once, each on its own file, and the
 * latencies of all their syncs are pooled: the disk as a 3-node cluster on one machine
 * shares it, where every node syncs each write (bench/compare.sh runs ballotd and etcd so).
 *
 * Output: a markdown table on stdout, or with --kv one key=value line per row.
 * Usage: disk_sync [--dir DIR] [--seconds S] [--batches 1,16,64,256] [--procs N] [--kv]
 * Not a test: figures go to bench/RESULTS.md. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECORD_BYTES 128
#define BATCHES_MAX 8
#define BATCH_RECORDS_MAX 4096
#define SYNCS_MAX 2000000
#define PREFILL_BYTES (256ull * 1024 * 1024)
#define SECONDS_MAX 600.0
#define PROCS_MAX 8

typedef enum layout { LAYOUT_APPEND, LAYOUT_FALLOCATED, LAYOUT_PREFILLED, LAYOUT_COUNT } layout;

static const char *const layout_names[LAYOUT_COUNT] = {"append", "fallocated", "prefilled"};

typedef struct options {
	const char *dir;
	double seconds;
	unsigned batches[BATCHES_MAX];
	unsigned batch_count;
	unsigned procs;
	bool kv;
} options;

/* A sync slower than this is counted as a stall. */
#define SLOW_SYNC_S 0.005

typedef struct result {
	double records_per_s, syncs_per_s, p50_ms, p99_ms, max_ms, slow_per_s;
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

/* Lays out fd (bytes long) as `how` says, durably: zeros written (prefilled) or blocks
 * reserved (fallocated); append leaves it empty. Returns 0 or -1 with errno set. */
static int lay_out(int fd, layout how, unsigned long long bytes)
{
	static char zeros[1 << 20];
	if (how == LAYOUT_FALLOCATED) {
		int err = posix_fallocate(fd, 0, (off_t)bytes);
		if (err != 0) {
			errno = err;
			return -1;
		}
	} else if (how == LAYOUT_PREFILLED) {
		for (unsigned long long off = 0; off < bytes; off += sizeof zeros) {
			if (pwrite(fd, zeros, sizeof zeros, (off_t)off) != (ssize_t)sizeof zeros)
				return -1;
		}
	}
	return fsync(fd); /* the size and the extents too, so no sync below pays for them */
}

/* The timed loop of one process: appends batches of records to fd (wrapping at `bytes` when
 * the layout reserved them) until `end` or `max` syncs; writes each latency into lat.
 * Returns the number of syncs, or -1 with errno set. */
static long sync_loop(int fd, layout how, unsigned long long bytes, unsigned batch, double end, double *lat,
		      unsigned long max)
{
	static char buf[BATCH_RECORDS_MAX * RECORD_BYTES];
	memset(buf, 'r', sizeof buf);
	size_t len = (size_t)batch * RECORD_BYTES;
	unsigned long long off = 0;
	unsigned long n = 0;
	while (n < max) {
		if (how != LAYOUT_APPEND && off + len > bytes)
			off = 0;
		double t = now_s();
		if (t >= end)
			break;
		if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len || fdatasync(fd) != 0)
			return -1;
		lat[n++] = now_s() - t;
		off += len;
	}
	return (long)n;
}

/* One process of a case: lays out its own file in dir, says so on `ready`, waits for `go`
 * to close, then runs the loop for o->seconds. Stores its count in *count (-1 on failure).
 * Never returns. */
static void worker(const options *o, unsigned batch, layout how, int ready, int go, double *lat,
		   unsigned long max, long *count)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/disk_sync.%d.dat", o->dir, (int)getpid());
	*count = -1;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		_exit(1);
	unlink(path); /* gone when fd closes, even if this process is killed */
	unsigned long long bytes = PREFILL_BYTES / o->procs;
	char c = 0;
	if (lay_out(fd, how, bytes) != 0 || write(ready, &c, 1) != 1)
		_exit(1);
	while (read(go, &c, 1) < 0 && errno == EINTR) {
	}
	*count = sync_loop(fd, how, bytes, batch, now_s() + o->seconds, lat, max);
	_exit(*count < 0);
}

/* Runs one batch size and layout in o->procs processes at once (each on a fresh file in
 * o->dir, started together once all are laid out); pools their latencies into r. lat is
 * shared memory of SYNCS_MAX slots. Returns 0 or -1 with errno set. */
static int run_case(const options *o, unsigned batch, layout how, double *lat, long *counts, result *r)
{
	int ready[2], go[2];
	if (pipe(ready) != 0)
		return -1;
	if (pipe(go) != 0) {
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	unsigned long per_proc = SYNCS_MAX / o->procs;
	unsigned started = 0;
	for (; started < o->procs; started++) {
		pid_t pid = fork();
		if (pid < 0)
			break;
		if (pid == 0) {
			close(ready[0]);
			close(go[1]);
			worker(o, batch, how, ready[1], go[0], lat + started * per_proc, per_proc, &counts[started]);
		}
	}
	close(ready[1]);
	close(go[0]);
	char c;
	unsigned laid_out = 0;
	while (laid_out < started && read(ready[0], &c, 1) == 1)
		laid_out++;
	double start = now_s();
	close(go[1]); /* every worker's read returns: go */
	close(ready[0]);
	bool ok = started == o->procs && laid_out == started;
	for (unsigned i = 0; i < started; i++) {
		int status;
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = false;
	}
	double elapsed = now_s() - start;
	if (!ok) {
		errno = EIO; /* a worker could not lay out, write or sync its file */
		return -1;
	}
	unsigned long n = 0;
	for (unsigned i = 0; i < o->procs; i++) {
		memmove(lat + n, lat + i * per_proc, (size_t)counts[i] * sizeof *lat);
		n += (unsigned long)counts[i];
	}
	qsort(lat, n, sizeof *lat, cmp_double);
	unsigned long slow = 0;
	while (slow < n && lat[n - 1 - slow] > SLOW_SYNC_S)
		slow++;
	*r = (result){.syncs = n,
		      .max_ms = n > 0 ? lat[n - 1] * 1e3 : 0,
		      .slow_per_s = (double)slow / elapsed,
		      .syncs_per_s = (double)n / elapsed,
		      .records_per_s = (double)n * batch / elapsed,
		      .p50_ms = quantile(lat, n, 0.50) * 1e3,
		      .p99_ms = quantile(lat, n, 0.99) * 1e3};
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: disk_sync [--dir DIR] [--seconds S] [--batches 1,16,64,256] [--procs N] [--kv]\n"
		   "  --dir DIR      where the scratch file goes (default .); use the disk you measure\n"
		   "  --seconds S    per batch size and layout (default 2, at most 600)\n"
		   "  --batches L    records per fdatasync, comma-separated (each 1..%d)\n"
		   "  --procs N      processes syncing at once, each on its own file (default 1, at most %d)\n"
		   "  --kv           key=value lines instead of a table\n",
		BATCH_RECORDS_MAX, PROCS_MAX);
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
	*o = (options){.dir = ".", .seconds = 2, .batches = {1, 16, 64, 256}, .batch_count = 4, .procs = 1};
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
		} else if (strcmp(a, "--procs") == 0) {
			char *end;
			unsigned long procs = strtoul(v, &end, 10);
			if (*end != '\0' || procs < 1 || procs > PROCS_MAX) {
				fprintf(stderr, "disk_sync: --procs %s: must be in 1..%d\n", v, PROCS_MAX);
				return -1;
			}
			o->procs = (unsigned)procs;
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
	/* Shared with the workers, which fill it in place. */
	size_t shared_bytes = SYNCS_MAX * sizeof(double) + PROCS_MAX * sizeof(long);
	void *shared = mmap(NULL, shared_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		fprintf(stderr, "disk_sync: out of memory\n");
		return 1;
	}
	double *lat = shared;
	long *counts = (long *)(lat + SYNCS_MAX);
	if (!o.kv) {
		printf("| layout | procs | records/sync | records/s | syncs/s | sync p50 ms | sync p99 ms | max ms | "
		       "over 5 ms /s |\n");
		printf("|---|---|---|---|---|---|---|---|---|\n");
	}
	for (layout how = 0; how < LAYOUT_COUNT; how++) {
		const char *name = layout_names[how];
		for (unsigned i = 0; i < o.batch_count; i++) {
			result r;
			if (run_case(&o, o.batches[i], how, lat, counts, &r) != 0) {
				fprintf(stderr, "disk_sync: %s in %s: %s\n", name, o.dir, strerror(errno));
				munmap(shared, shared_bytes);
				return 1;
			}
			if (o.kv)
				printf("layout=%s procs=%u batch=%u records_per_s=%.0f syncs_per_s=%.0f p50_ms=%.3f "
				       "p99_ms=%.3f max_ms=%.1f slow_per_s=%.1f\n",
				       name, o.procs, o.batches[i], r.records_per_s, r.syncs_per_s, r.p50_ms, r.p99_ms,
				       r.max_ms, r.slow_per_s);
			else
				printf("| %s | %u | %u | %.0f | %.0f | %.3f | %.3f | %.1f | %.1f |\n", name, o.procs,
				       o.batches[i], r.records_per_s, r.syncs_per_s, r.p50_ms, r.p99_ms, r.max_ms,
				       r.slow_per_s);
			fflush(stdout);
		}
	}
	munmap(shared, shared_bytes);
	return 0;
}
