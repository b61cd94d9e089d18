/* `ballot cluster up`: a local ballotd cluster in the foreground, for trying ballot out.
 *
 * Starts N nodes on 127.0.0.1 (clients on BASE..BASE+N-1, peers on BASE+1000...), each
 * with its data in DIR/nodeI and its log in DIR/nodeI.log, says how to connect, and stops
 * them all (SIGTERM, then SIGKILL after a bound) on Ctrl-C or SIGTERM. A node that exits on
 * its own is reported with the tail of its log; the others keep running. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "cli/cli.h"

enum {
	NODES_MAX = 7,
	PEER_PORT_OFFSET = 1000, /* node I's peers port: its client port + 1000 */
	STOP_GRACE_MS = 10000,   /* after SIGTERM, SIGKILL whoever is left */
};

static const char cluster_usage[] =
	"usage: ballot cluster up [--nodes N] [--base-port PORT] [--dir DIR] [--ballotd PATH]\n"
	"\n"
	"Starts a local ballotd cluster on 127.0.0.1 in the foreground and stops it on Ctrl-C.\n"
	"Node I (from 1) serves Redis clients on PORT+I-1 and its peers on PORT+I-1+1000; its\n"
	"data is in DIR/nodeI (kept across runs: start again to find your data) and its log in\n"
	"DIR/nodeI.log.\n"
	"\n"
	"options:\n"
	"  --nodes N        cluster size, 1 to 7 (default 3)\n"
	"  --base-port P    the first node's client port (default 6001)\n"
	"  --dir DIR        where the nodes keep their data and logs (default ./ballot-data)\n"
	"  --ballotd PATH   the ballotd to run (default: the one beside this program, else PATH)\n"
	"  -h, --help       this text\n"
	"\n"
	"exit status: 0 stopped by Ctrl-C or SIGTERM, 1 a node could not start, 2 usage\n";

typedef struct node_proc {
	uv_process_t proc;
	unsigned id;
	bool running;
	char log[PATH_MAX];
	struct cluster *cl;
} node_proc;

typedef struct cluster {
	uv_loop_t *loop;
	node_proc nodes[NODES_MAX];
	unsigned count, running;
	bool stopping;
	uv_signal_t sigint, sigterm;
	uv_timer_t grace;
} cluster;

/* The last lines of a node's log, to say why it stopped. */
static void print_log_tail(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	char lines[5][512] = {{0}};
	unsigned n = 0;
	char line[512];
	while (fgets(line, sizeof line, f) != NULL)
		snprintf(lines[n++ % 5], sizeof lines[0], "%s", line);
	fclose(f);
	for (unsigned i = n > 5 ? n - 5 : 0; i < n; i++)
		fprintf(stderr, "    %s", lines[i % 5]);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int signal)
{
	node_proc *np = p->data;
	cluster *cl = np->cl;
	np->running = false;
	cl->running--;
	if (!cl->stopping) {
		fprintf(stderr, "ballot: node %u exited (%s %lld); the others keep running. Its log, %s, ends:\n",
			np->id, signal ? "signal" : "status", signal ? (long long)signal : (long long)status, np->log);
		print_log_tail(np->log);
	}
	uv_close((uv_handle_t *)p, NULL);
	if (cl->running == 0)
		uv_walk(cl->loop, close_walk, NULL);
}

static void on_grace(uv_timer_t *t)
{
	cluster *cl = t->data;
	for (unsigned i = 0; i < cl->count; i++) {
		if (cl->nodes[i].running)
			uv_process_kill(&cl->nodes[i].proc, SIGKILL);
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	cluster *cl = s->data;
	(void)signum;
	if (cl->stopping)
		return;
	cl->stopping = true;
	fprintf(stderr, "\nballot: stopping %u node(s)\n", cl->running);
	for (unsigned i = 0; i < cl->count; i++) {
		if (cl->nodes[i].running)
			uv_process_kill(&cl->nodes[i].proc, SIGTERM);
	}
	uv_timer_start(&cl->grace, on_grace, STOP_GRACE_MS, 0);
	if (cl->running == 0)
		uv_walk(cl->loop, close_walk, NULL);
}

/* The ballotd beside this program, or "ballotd" (found on PATH by uv_spawn). */
static void default_ballotd(char *out, size_t cap)
{
	char self[PATH_MAX];
	size_t len = sizeof self;
	snprintf(out, cap, "ballotd");
	if (uv_exepath(self, &len) != 0)
		return;
	char *slash = strrchr(self, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	char candidate[PATH_MAX + 16];
	snprintf(candidate, sizeof candidate, "%s/ballotd", self);
	if (access(candidate, X_OK) == 0 && strlen(candidate) < cap)
		snprintf(out, cap, "%s", candidate);
}

static int start_node(cluster *cl, unsigned i, const char *ballotd, const char *dir, unsigned base,
		      const char *members)
{
	node_proc *np = &cl->nodes[i];
	np->id = i + 1;
	np->cl = cl;
	char id[16], listen[64], data[PATH_MAX];
	snprintf(id, sizeof id, "%u", np->id);
	snprintf(listen, sizeof listen, "127.0.0.1:%u", base + i);
	if ((size_t)snprintf(data, sizeof data, "%s/node%u", dir, np->id) >= sizeof data ||
	    (size_t)snprintf(np->log, sizeof np->log, "%s/node%u.log", dir, np->id) >= sizeof np->log) {
		cli_error("cluster up: --dir %s is too long", dir);
		return CLI_EXIT_USAGE;
	}
	FILE *log = fopen(np->log, "a");
	if (log == NULL) {
		cli_error("cluster up: cannot open %s", np->log);
		return CLI_EXIT_FAILURE;
	}
	char *args[] = {(char *)ballotd, "--id", id, "--cluster", (char *)members, "--listen", listen,
			"--data-dir", data, NULL};
	uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
					 {.flags = UV_INHERIT_FD, .data.fd = fileno(log)},
					 {.flags = UV_INHERIT_FD, .data.fd = fileno(log)}};
	uv_process_options_t o = {.file = ballotd, .args = args, .exit_cb = on_exit_cb, .stdio_count = 3,
				  .stdio = stdio};
	np->proc.data = np;
	int rc = uv_spawn(cl->loop, &np->proc, &o);
	fclose(log);
	if (rc != 0) {
		cli_error("cluster up: cannot run %s: %s (build it with scripts/build.sh, or give --ballotd)", ballotd,
			  uv_strerror(rc));
		return CLI_EXIT_FAILURE;
	}
	np->running = true;
	cl->running++;
	return CLI_EXIT_OK;
}

static int cluster_up(unsigned nodes, unsigned base, const char *dir, const char *ballotd)
{
	if (mkdir(dir, 0755) != 0 && access(dir, W_OK) != 0) {
		cli_error("cluster up: cannot create or write %s", dir);
		return CLI_EXIT_FAILURE;
	}
	char members[NODES_MAX * 40] = "";
	for (unsigned i = 0; i < nodes; i++) {
		size_t at = strlen(members);
		snprintf(members + at, sizeof members - at, "%s%u=127.0.0.1:%u", i ? "," : "", i + 1,
			 base + i + PEER_PORT_OFFSET);
	}
	cluster cl = {.loop = uv_default_loop(), .count = nodes};
	uv_signal_init(cl.loop, &cl.sigint);
	uv_signal_init(cl.loop, &cl.sigterm);
	uv_timer_init(cl.loop, &cl.grace);
	cl.sigint.data = cl.sigterm.data = cl.grace.data = &cl;
	uv_signal_start(&cl.sigint, on_signal, SIGINT);
	uv_signal_start(&cl.sigterm, on_signal, SIGTERM);
	int rc = CLI_EXIT_OK;
	for (unsigned i = 0; i < nodes && rc == CLI_EXIT_OK; i++)
		rc = start_node(&cl, i, ballotd, dir, base, members);
	if (rc != CLI_EXIT_OK) {
		on_signal(&cl.sigint, SIGTERM);
	} else {
		printf("ballot: a %u-node cluster on 127.0.0.1, data and logs in %s/\n", nodes, dir);
		for (unsigned i = 0; i < nodes; i++)
			printf("  node %u: redis-cli -p %u   (peers on %u, pid %d)\n", i + 1, base + i,
			       base + i + PEER_PORT_OFFSET, cl.nodes[i].proc.pid);
		printf("try:  redis-cli -p %u SET hello world && redis-cli -p %u GET hello\n", base,
		       base + (nodes > 1 ? 1 : 0));
		printf("      redis-cli -p %u INFO replication      (Ctrl-C stops the cluster)\n", base);
		fflush(stdout);
	}
	uv_run(cl.loop, UV_RUN_DEFAULT);
	uv_loop_close(cl.loop);
	if (rc == CLI_EXIT_OK && !cl.stopping)
		rc = CLI_EXIT_FAILURE; /* every node exited on its own */
	return rc;
}

int cli_cluster(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(cluster_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "up") != 0) {
		cli_error("cluster: unknown subcommand '%s' (only 'up')", argv[1]);
		return CLI_EXIT_USAGE;
	}
	uint64_t nodes = 3, base = 6001;
	const char *dir = "ballot-data";
	char ballotd[PATH_MAX];
	default_ballotd(ballotd, sizeof ballotd);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(cluster_usage, stdout);
			return CLI_EXIT_OK;
		}
		if (i + 1 >= argc) {
			cli_error("cluster up: %s needs a value (see ballot cluster --help)", a);
			return CLI_EXIT_USAGE;
		}
		const char *v = argv[++i];
		if (strcmp(a, "--nodes") == 0) {
			if (!cli_parse_u64(a, v, 1, NODES_MAX, &nodes))
				return CLI_EXIT_USAGE;
		} else if (strcmp(a, "--base-port") == 0) {
			if (!cli_parse_u64(a, v, 1, 65535 - PEER_PORT_OFFSET - NODES_MAX, &base))
				return CLI_EXIT_USAGE;
		} else if (strcmp(a, "--dir") == 0) {
			dir = v;
		} else if (strcmp(a, "--ballotd") == 0) {
			snprintf(ballotd, sizeof ballotd, "%s", v);
		} else {
			cli_error("cluster up: unknown option '%s' (see ballot cluster --help)", a);
			return CLI_EXIT_USAGE;
		}
	}
	return cluster_up((unsigned)nodes, (unsigned)base, dir, ballotd);
}
