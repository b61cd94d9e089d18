/* ballot reliability: not yet built. */
#include "cli/cli.h"

int cli_reliability(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("reliability: not implemented yet");
	return CLI_EXIT_FAILURE;
}
