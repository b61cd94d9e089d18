/* ballot: the command-line program. Dispatches to one subcommand per technique. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: ballot COMMAND [ARGS...]\n"
	"\n"
	"Fault tolerance by replication.\n"
	"\n"
	"commands:\n"
	"  vote          run N versions of a program on one input and vote on their outputs\n"
	"  reliability   the arithmetic of redundancy: NMR, availability, quorums, MTTF\n"
	"  sim           the deterministic simulator: a Raft cluster under faults, checked\n"
	"  check         is a history of operations on a key-value map linearizable?\n"
	"  wal           check or dump a node's data directory (log, hard state, snapshot)\n"
	"  cluster up    run a local ballotd cluster in the foreground (redis-cli -p 6001)\n"
	"  help          this text; `ballot COMMAND --help` for a command's flags\n"
	"  version       print the version\n";

/* A closed standard descriptor would be handed to the next file or pipe ballot opens, and
 * ballot would then read its own pipes as its input: give each closed one /dev/null. */
static void open_standard_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int null_fd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (null_fd >= 0 && null_fd != fd) {
			dup2(null_fd, fd);
			close(null_fd);
		}
	}
}

int main(int argc, char **argv)
{
	open_standard_fds();
	if (argc < 2) {
		fputs(usage, stderr);
		return CLI_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "vote") == 0)
		return cli_vote(argc - 1, argv + 1);
	if (strcmp(cmd, "reliability") == 0)
		return cli_reliability(argc - 1, argv + 1);
	if (strcmp(cmd, "sim") == 0)
		return cli_sim(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cli_check(argc - 1, argv + 1);
	if (strcmp(cmd, "wal") == 0)
		return cli_wal(argc - 1, argv + 1);
	if (strcmp(cmd, "cluster") == 0)
		return cli_cluster(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		puts("ballot " BALLOT_VERSION_STRING);
		return CLI_EXIT_OK;
	}
	fprintf(stderr, "ballot: unknown command '%s'\n\n%s", cmd, usage);
	return CLI_EXIT_USAGE;
}
