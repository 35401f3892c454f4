/* Unit tests for types: the word tables (every enum value has exactly one name,
   prefix rows, lookups) and the formatting `rebound keys` and messages use. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_test.h"
#include "rebound/scenario.h"
#include "rebound/types.h"

/* Every value from first to last appears in table, and no word twice. */
static void check_table(const struct rb_word *table, int first, int last)
{
  for(int v = first; v <= last; v++)
    CU_ASSERT_PTR_NOT_NULL(rb_word_of(table, v));
  for(const struct rb_word *a = table; a->word; a++) {
    CU_ASSERT_PTR_NOT_NULL(a->help);
    CU_ASSERT(a->value >= first && a->value <= last);
    for(const struct rb_word *b = a + 1; b->word; b++)
      CU_ASSERT(strcmp(a->word, b->word) != 0);
  }
}

static void test_tables_are_complete(void)
{
  check_table(rb_fault_words, RB_FAULT_SIGKILL, RB_FAULT_EXEC);
  check_table(rb_fault_at_words, RB_FAULT_AT_PUBLISHING, RB_FAULT_AT_RANDOM);
  check_table(rb_ready_words, RB_READY_LISTEN, RB_READY_HTTP);
  check_table(rb_expect_words, RB_EXPECT_PASS, RB_EXPECT_FAIL);
  check_table(rb_verdict_words, RB_VERDICT_PASS, RB_VERDICT_XPASS);
  check_table(rb_tcp_state_words, RB_TCP_ESTABLISHED, RB_TCP_NEW_SYN_RECV);
}

static void test_names(void)
{
  CU_ASSERT_STRING_EQUAL(rb_fault_name(RB_FAULT_SIGKILL), "sigkill");
  CU_ASSERT_STRING_EQUAL(rb_fault_name(RB_FAULT_SIGKILL_MAIN), "sigkill-main");
  CU_ASSERT_STRING_EQUAL(rb_fault_name(RB_FAULT_HANG), "hang");
  CU_ASSERT_STRING_EQUAL(rb_fault_name(RB_FAULT_EXEC), "exec");
  CU_ASSERT_STRING_EQUAL(rb_fault_name((enum rb_fault_kind)99), "?");
  CU_ASSERT_STRING_EQUAL(rb_verdict_name(RB_VERDICT_XPASS), "xpass");
  CU_ASSERT_STRING_EQUAL(rb_verdict_name((enum rb_verdict)-1), "?");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(RB_TCP_CLOSE_WAIT), "CLOSE_WAIT");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(0), "UNKNOWN");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(RB_TCP_STATE_MAX), "UNKNOWN");
}

static void test_match(void)
{
  const char *rest = NULL;
  const struct rb_word *w;

  w = rb_word_match(rb_fault_words, "sigterm", &rest);
  CU_ASSERT(w && w->value == RB_FAULT_SIGTERM && rest && !*rest);
  CU_ASSERT_PTR_NULL(rb_word_match(rb_fault_words, "sigterm ", NULL));
  CU_ASSERT_PTR_NULL(rb_word_match(rb_fault_words, "sig", NULL));
  CU_ASSERT_PTR_NULL(rb_word_match(rb_fault_words, "exec", NULL)); /* the separator belongs to the word */
  CU_ASSERT_PTR_NULL(rb_word_match(rb_fault_words, NULL, NULL));
  w = rb_word_match(rb_fault_words, "exec:kill -9 1", &rest);
  CU_ASSERT(w && w->value == RB_FAULT_EXEC && !strcmp(rest, "kill -9 1"));
  w = rb_word_match(rb_fault_words, "exec:", &rest);
  CU_ASSERT(w && w->value == RB_FAULT_EXEC && !*rest);
  w = rb_word_match(rb_ready_words, "https://h/x", &rest);
  CU_ASSERT(w && w->value == RB_READY_HTTP && !strcmp(rest, "h/x"));
  CU_ASSERT_PTR_NULL(rb_word_match(rb_ready_words, "http:/x", NULL));
}

static void test_format(void)
{
  char buf[200], small[12];
  unsigned counts[RB_TCP_STATE_MAX] = { 0 };

  rb_words_format(rb_fault_words, " or ", buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "sigkill, sigkill-main, sigterm, hang, reload, network or exec:CMD");
  rb_words_format(rb_expect_words, ", ", buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "pass, fail");
  rb_words_format(rb_fault_words, " or ", small, sizeof(small));
  CU_ASSERT(strlen(small) < sizeof(small));
  rb_tcp_states_format(counts, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "none");
  counts[RB_TCP_TIME_WAIT] = 6;
  counts[RB_TCP_LISTEN] = 1;
  rb_tcp_states_format(counts, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "LISTEN=1 TIME_WAIT=6");
}

/* rebound keys shows every word of the enumerated keys with its help. */
static void test_keys_show_words(void)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  CU_ASSERT_FATAL(f != NULL);
  rb_scenario_print_keys(f);
  fclose(f);
  for(const struct rb_word *const *t = (const struct rb_word *const[]){ rb_fault_words, rb_fault_at_words,
                                                                       rb_ready_words, rb_expect_words, NULL };
      *t; t++)
    for(const struct rb_word *w = *t; w->word; w++) {
      CU_ASSERT_PTR_NOT_NULL(strstr(text, w->word));
      CU_ASSERT_PTR_NOT_NULL(strstr(text, w->help));
    }
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "exec:CMD"));
  free(text);
}

/* The JSON Schema of the results lists the same words as the tables: a new fault
   kind or verdict must appear in both (the schema is what CI consumers validate). */
static void check_schema_enum(json_t *e, const struct rb_word *table)
{
  size_t n = 0;

  CU_ASSERT_FATAL(json_is_array(e));
  for(const struct rb_word *w = table; w->word; w++, n++) {
    bool found = false;

    for(size_t i = 0; i < json_array_size(e); i++)
      found |= !strcmp(json_string_value(json_array_get(e, i)), w->word);
    CU_ASSERT(found);
    if(!found)
      fprintf(stderr, "'%s' is not in the schema's enum\n", w->word);
  }
  CU_ASSERT_EQUAL(json_array_size(e), n);
}

/* o["a"]["b"]... for a NULL-terminated list of keys. */
static json_t *at(json_t *o, const char *const *keys)
{
  for(; *keys && o; keys++)
    o = json_object_get(o, *keys);
  return o;
}

static void test_schema_agrees(void)
{
  static const char *const fault[] = { "$defs", "cycle", "properties", "fault", "enum", NULL };
  static const char *const verdict[] = { "properties", "result", "enum", NULL };
  json_error_t jerr;
  json_t *schema = json_load_file(REBOUND_SOURCE_DIR "/tests/fixtures/results-schema-1.json", 0, &jerr);

  CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
  check_schema_enum(at(schema, fault), rb_fault_words);
  check_schema_enum(at(schema, verdict), rb_verdict_words);
  json_decref(schema);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_tables_are_complete),
    RB_TEST(test_names),
    RB_TEST(test_match),
    RB_TEST(test_format),
    RB_TEST(test_keys_show_words),
    RB_TEST(test_schema_agrees),
    RB_TEST_END
  };

  return rb_test_main("types", cases);
}
