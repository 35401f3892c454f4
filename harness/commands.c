/* placeholder until the client commands land */
#include "rebound/commands.h"
int rb_cmd_probe(int argc, char **argv) { (void)argc; (void)argv; return 2; }
int rb_cmd_publish(int argc, char **argv) { (void)argc; (void)argv; return 2; }
int rb_cmd_play(int argc, char **argv) { (void)argc; (void)argv; return 2; }
