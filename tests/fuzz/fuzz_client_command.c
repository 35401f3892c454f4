/*
 * libFuzzer target: the client's decoding of a server's command message
 * (_result, _error, onStatus, close) with rb_client_parse_command, the function
 * the client itself calls on every command it receives. The first byte 0
 * selects the AMF3 command form (a format byte before the AMF0 values).
 */
#include <stdint.h>
#include <string.h>

#include "rebound/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct rb_client_command cmd;
  char msg[256];
  bool amf3 = size > 0 && data[0] == 0;

  if(rb_client_parse_command(data, size, amf3, &cmd, msg, sizeof(msg)) == RB_OK) {
    /* Whatever the server sent, what the client keeps is bounded and printable. */
    if(strlen(cmd.name) >= sizeof(cmd.name) || strlen(cmd.status.code) >= sizeof(cmd.status.code))
      __builtin_trap();
    for(const char *p = cmd.status.description; *p; p++)
      if((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
        __builtin_trap();
    if(cmd.is_error && !cmd.has_info)
      __builtin_trap();
  }
  return 0;
}
