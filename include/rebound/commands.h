/*
 * commands: the client subcommands `rebound probe|publish|play URL [...]`.
 *
 * Each takes argv starting at the subcommand name and returns the process exit
 * code: 0 success, 1 failure with a one-line reason on stderr (refused, timeout,
 * protocol error, rejected publish), 2 usage error. See interface.md.
 */
#ifndef REBOUND_COMMANDS_H
#define REBOUND_COMMANDS_H

int rb_cmd_probe(int argc, char **argv);
int rb_cmd_publish(int argc, char **argv);
int rb_cmd_play(int argc, char **argv);

#endif
