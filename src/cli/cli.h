/* The `ballot` command-line program: subcommand entry points and shared argument parsing.
 *
 * Each subcommand takes the arguments after its own name (argv[0] is the subcommand) and
 * returns the process exit status: 0 success, 1 a runtime failure, 2 a usage error (bad
 * flag or value, always with a message on stderr), 3 a vote with no winner. */
#ifndef BALLOT_CLI_H
#define BALLOT_CLI_H

#include <stdbool.h>
#include <stdint.h>

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_NO_WINNER = 3,
};

int cli_vote(int argc, char **argv);
int cli_reliability(int argc, char **argv);
int cli_sim(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_wal(int argc, char **argv);
int cli_cluster(int argc, char **argv);

/* Prints "ballot: " and the message to stderr, with a newline. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict parsers for flag values: the whole string must be a number in range, else they
 * print "ballot: FLAG VALUE: what is wrong" and return false. */
bool cli_parse_double(const char *flag, const char *arg, double *out);
bool cli_parse_u64(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out);

#endif
