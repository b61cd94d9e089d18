/* ballotd: a durable Raft key-value server speaking the Redis protocol.
 *
 * Flags and a config file give the same keys; flags win. Bad flags and inconsistent
 * configurations get a clear message and exit status 2; a fatal runtime error (a corrupt
 * data dir, a port in use) exits 1. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ballot/rbuf.h"
#include "ballotd/node.h"

static const char usage[] =
	"usage: ballotd --id ID --cluster ID=HOST:PORT,... --data-dir DIR [OPTIONS]\n"
	"       ballotd --config FILE [OPTIONS]\n"
	"\n"
	"A node of a ballot cluster: Raft replication of a key-value store, served over the\n"
	"Redis protocol (redis-cli and Redis clients work unchanged).\n"
	"\n"
	"  --id ID               this node's id, a member of --cluster\n"
	"  --cluster LIST        every member as ID=HOST:PORT (its peer address), comma-separated\n"
	"  --listen HOST:PORT    where Redis clients connect (default 127.0.0.1:6379)\n"
	"  --data-dir DIR        this node's log, hard state and snapshots (created if missing)\n"
	"  --requirepass PASS    clients must AUTH with PASS\n"
	"  --cluster-id N        refuse peers of another cluster (default 1)\n"
	"  --tick-ms MS          the Raft tick (default 25)\n"
	"  --election-ticks N    election timeout, random in [N, 2N) ticks (default 40)\n"
	"  --heartbeat-ticks N   heartbeat interval in ticks (default 2)\n"
	"  --snapshot-bytes N    snapshot once the entries applied since the last hold N bytes\n"
	"                        (counting 96 per entry for its place in memory) and half the\n"
	"                        last snapshot's size (default 67108864; the log since a snapshot\n"
	"                        is kept in memory; each node waits up to a quarter more, at\n"
	"                        random, so they take turns)\n"
	"  --snapshot-entries N  ... or every N applied entries (default 1000000)\n"
	"  --snapshot-writer fork|thread  who serializes and writes a snapshot while the node\n"
	"                        goes on: a child process with a copy-on-write view of the\n"
	"                        state (default), or a pool thread, the loop serializing\n"
	"  --leader-sync-ms MS   a leader whose followers commit its batches before its own sync\n"
	"                        ends syncs its log at most every MS ms, so the disk serves\n"
	"                        theirs first (default 5; 0: back to back, as the followers)\n"
	"  --max-clients N       client connections (default 10000)\n"
	"  --follower MODE       what a follower does with a command for the leader: 'forward' it\n"
	"                        and relay the answer (default), or 'redirect' the client with\n"
	"                        -MOVED 0 LEADER-HOST:PORT (the form redis-cli -c follows)\n"
	"  --join                a new member of a running cluster: start empty and wait for the\n"
	"                        leader (send BALLOT ADD ID HOST:PORT to any node, then BALLOT\n"
	"                        PROMOTE ID once it caught up); --cluster names at least this node\n"
	"  --config FILE         read these keys from FILE, one 'key value' per line (# comments)\n"
	"  -h, --help            this text\n"
	"\n"
	"exit status: 0 stopped by SIGINT/SIGTERM, 1 a fatal error, 2 bad flags or configuration\n";

static _Noreturn void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ballotd: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n(see ballotd --help)\n");
	va_end(ap);
	exit(2);
}

static unsigned long long parse_number(const char *key, const char *v, unsigned long long min,
				       unsigned long long max)
{
	char *end = NULL;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n < min || n > max)
		die_usage("--%s '%s': give a whole number from %llu to %llu", key, v, min, max);
	return n;
}

static void parse_cluster(ballot_node_config *c, const char *list)
{
	char copy[4096];
	if (strlen(list) >= sizeof copy)
		die_usage("--cluster: too long");
	strcpy(copy, list);
	c->peer_count = 0;
	char *save = NULL;
	for (char *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (eq == NULL)
			die_usage("--cluster: '%s' is not ID=HOST:PORT", item);
		*eq = '\0';
		if (c->peer_count == BALLOT_RAFT_MEMBERS_MAX)
			die_usage("--cluster: more than %d members", BALLOT_RAFT_MEMBERS_MAX);
		ballot_node_peer *p = &c->peers[c->peer_count++];
		p->id = parse_number("cluster", item, 1, UINT64_MAX);
		if (strlen(eq + 1) >= sizeof p->address)
			die_usage("--cluster: address '%s' is too long", eq + 1);
		strcpy(p->address, eq + 1);
	}
}

static void copy_string(char *dst, size_t cap, const char *key, const char *v)
{
	if (strlen(v) >= cap)
		die_usage("--%s: '%s' is too long", key, v);
	strcpy(dst, v);
}

/* Sets one key (a flag without its dashes, or a config file key). */
static void set_key(ballot_node_config *c, const char *key, const char *v)
{
	if (strcmp(key, "id") == 0)
		c->id = parse_number(key, v, 1, UINT64_MAX);
	else if (strcmp(key, "cluster") == 0)
		parse_cluster(c, v);
	else if (strcmp(key, "listen") == 0)
		copy_string(c->listen, sizeof c->listen, key, v);
	else if (strcmp(key, "data-dir") == 0)
		copy_string(c->data_dir, sizeof c->data_dir, key, v);
	else if (strcmp(key, "requirepass") == 0)
		copy_string(c->requirepass, sizeof c->requirepass, key, v);
	else if (strcmp(key, "cluster-id") == 0)
		c->cluster_id = parse_number(key, v, 1, UINT64_MAX);
	else if (strcmp(key, "tick-ms") == 0)
		c->tick_ms = (unsigned)parse_number(key, v, 1, 10000);
	else if (strcmp(key, "election-ticks") == 0)
		c->election_ticks = (unsigned)parse_number(key, v, 2, 1000);
	else if (strcmp(key, "heartbeat-ticks") == 0)
		c->heartbeat_ticks = (unsigned)parse_number(key, v, 1, 999);
	else if (strcmp(key, "snapshot-entries") == 0)
		c->snapshot_entries = parse_number(key, v, 0, UINT64_MAX);
	else if (strcmp(key, "snapshot-bytes") == 0)
		c->snapshot_bytes = parse_number(key, v, 0, UINT64_MAX);
	else if (strcmp(key, "snapshot-writer") == 0 && (strcmp(v, "fork") == 0 || strcmp(v, "thread") == 0))
		c->snapshot_fork = strcmp(v, "fork") == 0;
	else if (strcmp(key, "snapshot-writer") == 0)
		die_usage("--snapshot-writer '%s': give 'fork' or 'thread'", v);
	else if (strcmp(key, "leader-sync-ms") == 0)
		c->leader_sync_ms = (unsigned)parse_number(key, v, 0, 1000);
	else if (strcmp(key, "max-clients") == 0)
		c->clients_max = (unsigned)parse_number(key, v, 1, 1000000);
	else if (strcmp(key, "follower") == 0 && (strcmp(v, "forward") == 0 || strcmp(v, "redirect") == 0))
		c->redirect = strcmp(v, "redirect") == 0;
	else if (strcmp(key, "join") == 0 && (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0))
		c->join = strcmp(v, "yes") == 0;
	else if (strcmp(key, "join") == 0)
		die_usage("join '%s': give 'yes' or 'no'", v);
	else if (strcmp(key, "follower") == 0)
		die_usage("--follower '%s': give 'forward' or 'redirect'", v);
	else
		die_usage("unknown option '%s'", key);
}

static void read_config_file(ballot_node_config *c, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die_usage("--config %s: %s", path, strerror(errno));
	char line[8192];
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		p[strcspn(p, "\r\n")] = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		char *sep = p + strcspn(p, " \t=");
		if (*sep == '\0')
			die_usage("--config: '%s' has no value", p);
		*sep++ = '\0';
		while (*sep == ' ' || *sep == '\t' || *sep == '=')
			sep++;
		set_key(c, p, sep);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	/* A peer or client that goes away mid-write must not kill the node. */
	signal(SIGPIPE, SIG_IGN);
	/* The log's buffers, most of a node's memory, stay out of the snapshot writer's fork
	 * (node_snapshot.c): it copies that many fewer page tables while the node waits. Not
	 * under AddressSanitizer, which sees into malloc's blocks and not into the arena's. */
#ifndef __SANITIZE_ADDRESS__
	ballot_rbuf_use_unforked_arena();
#endif
	ballot_node_config c;
	ballot_node_config_default(&c);
	/* The config file first, so flags given with it win. */
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--config") == 0)
			read_config_file(&c, argv[i + 1]);
	}
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (strncmp(arg, "--", 2) != 0)
			die_usage("unexpected argument '%s'", arg);
		const char *eq = strchr(arg, '=');
		char key[64];
		size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (len >= sizeof key)
			die_usage("unknown option '%s'", arg);
		memcpy(key, arg + 2, len);
		key[len] = '\0';
		const char *v;
		if (eq != NULL)
			v = eq + 1;
		else if (strcmp(key, "join") == 0)
			v = "yes"; /* a switch on the command line; "join yes" in a config file */
		else
			v = i + 1 < argc ? argv[++i] : NULL;
		if (v == NULL)
			die_usage("--%s needs a value", key);
		if (strcmp(key, "config") == 0)
			continue;
		set_key(&c, key, v);
	}
	ballot_errmsg em;
	if (ballot_node_config_check(&c, &em) != 0) {
		fprintf(stderr, "ballotd: %s\n(see ballotd --help)\n", em.text);
		return 2;
	}
	if (ballot_node_run(&c, &em) != 0) {
		fprintf(stderr, "ballotd: %s\n", em.text);
		return 1;
	}
	return 0;
}
