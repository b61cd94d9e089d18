/* ballot vote: not yet built. */
#include "cli/cli.h"

int cli_vote(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("vote: not implemented yet");
	return CLI_EXIT_FAILURE;
}
