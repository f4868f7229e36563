#include "commands.h"
int braid_cmd_demo(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 1;
}
