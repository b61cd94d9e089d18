/* Unit tests of the JSONL history reader and of the history's own rules: what is accepted,
 * and every kind of malformed input refused with the right line and a useful message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ballot/check.h"

/* Test texts use ' for " to stay readable. */
static char *unquote(const char *text)
{
	char *s = strdup(text);
	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

static ballot_history *parse_ok(const char *text)
{
	ballot_history *h = NULL;
	assert_int_equal(ballot_history_new(&h), 0);
	char *s = unquote(text);
	ballot_errmsg em;
	uint64_t line = 0;
	int rc = ballot_history_parse_jsonl(h, s, strlen(s), &line, &em);
	free(s);
	if (rc != 0)
		fail_msg("parse failed: %s", em.text);
	return h;
}

/* Parsing fails with BALLOT_EINVAL (unless code says otherwise) on `line`, and the
 * message holds `what`. */
static void parse_fails_code(const char *text, int code, uint64_t line, const char *what)
{
	ballot_history *h = NULL;
	assert_int_equal(ballot_history_new(&h), 0);
	char *s = unquote(text);
	ballot_errmsg em;
	uint64_t bad = 0;
	int rc = ballot_history_parse_jsonl(h, s, strlen(s), &bad, &em);
	free(s);
	if (rc != code)
		fail_msg("rc %d, expected %d (%s)", rc, code, rc ? em.text : "parsed");
	if (bad != line)
		fail_msg("bad line %llu, expected %llu: %s", (unsigned long long)bad,
			 (unsigned long long)line, em.text);
	char prefix[32];
	snprintf(prefix, sizeof prefix, "line %llu", (unsigned long long)line);
	if (strncmp(em.text, prefix, strlen(prefix)) != 0 || strstr(em.text, what) == NULL)
		fail_msg("message '%s' lacks '%s' or '%s'", em.text, prefix, what);
	ballot_history_free(h);
}

static void parse_fails(const char *text, uint64_t line, const char *what)
{
	parse_fails_code(text, BALLOT_EINVAL, line, what);
}

#define W1 "{'process':1,'type':'invoke','f':'write','key':'x','value':1}\n"
#define W1_OK "{'process':1,'type':'ok','f':'write','key':'x','value':1}\n"

/* ---- accepted ---------------------------------------------------------------------------- */

static void reads_the_example_of_the_format(void **state)
{
	(void)state;
	ballot_history *h = parse_ok(
		"{'process': 3, 'type': 'invoke', 'f': 'write', 'key': 'x', 'value': 5}\n"
		"{'process': 3, 'type': 'ok',     'f': 'write', 'key': 'x', 'value': 5}\n"
		"{'process': 1, 'type': 'invoke', 'f': 'read',  'key': 'x', 'value': null}\n"
		"{'process': 1, 'type': 'ok',     'f': 'read',  'key': 'x', 'value': 5}\n"
		"{'process': 2, 'type': 'invoke', 'f': 'cas',   'key': 'x', 'value': [5, 6]}\n"
		"{'process': 2, 'type': 'fail',   'f': 'cas',   'key': 'x', 'value': [5, 6]}\n"
		"{'process': 4, 'type': 'invoke', 'f': 'incr',  'key': 'c', 'value': 1}\n"
		"{'process': 4, 'type': 'info',   'f': 'incr',  'key': 'c', 'value': null}\n"
		"{'process': 5, 'type': 'invoke', 'f': 'append', 'key': 's', 'value': 'ab'}\n"
		"{'process': 5, 'type': 'ok',     'f': 'append', 'key': 's', 'value': 'ab'}\n");
	assert_int_equal(ballot_history_op_count(h), 5);
	ballot_op_view v;
	ballot_history_op(h, 1, &v);
	assert_int_equal(v.process, 1);
	assert_int_equal(v.call.f, BALLOT_OP_READ);
	assert_int_equal(v.outcome, BALLOT_EVENT_OK);
	assert_int_equal(v.result.kind, BALLOT_VALUE_INT);
	assert_int_equal(v.result.integer, 5);
	assert_int_equal(v.invoke_line, 3);
	assert_int_equal(v.complete_line, 4);
	ballot_history_op(h, 2, &v);
	assert_int_equal(v.call.f, BALLOT_OP_CAS);
	assert_int_equal(v.call.value.integer, 5);
	assert_int_equal(v.call.value2.integer, 6);
	assert_int_equal(v.outcome, BALLOT_EVENT_FAIL);
	ballot_history_op(h, 3, &v);
	assert_int_equal(v.outcome, BALLOT_EVENT_INFO);
	assert_true(v.completed);
	ballot_history_op(h, 4, &v);
	assert_int_equal(v.call.value.kind, BALLOT_VALUE_BYTES);
	assert_int_equal(v.call.value.len, 2);
	assert_memory_equal(v.call.value.bytes, "ab", 2);
	assert_int_equal(v.call.key_len, 1);
	assert_memory_equal(v.call.key, "s", 1);
	ballot_history_free(h);
}

static void blank_lines_count_and_crlf_is_accepted(void **state)
{
	(void)state;
	ballot_history *h = parse_ok("\n   \n" W1 "\r\n\t\n{'process':1,'type':'ok'}\r\n\n");
	ballot_op_view v;
	ballot_history_op(h, 0, &v);
	assert_int_equal(v.invoke_line, 3);
	assert_int_equal(v.complete_line, 6);
	ballot_history_free(h);

	h = parse_ok(W1 "{'process':1,'type':'ok'}"); /* no final newline */
	assert_int_equal(ballot_history_op_count(h), 1);
	ballot_history_free(h);

	h = parse_ok("");
	assert_int_equal(ballot_history_op_count(h), 0);
	ballot_history_free(h);
}

static void extra_fields_are_ignored_whatever_they_hold(void **state)
{
	(void)state;
	ballot_history *h = parse_ok(
		"{'time': 1.5e3, 'index': 0, 'process':1,'type':'invoke','f':'write','key':'x','value':1,"
		"'error': {'nested': [1, {'deep': [true, false, null]}], 's': '\\u00e9\\ud83d\\ude00'}}\n"
		"{'process':1,'type':'ok','node':'n1','value':1}\n");
	assert_int_equal(ballot_history_op_count(h), 1);
	ballot_history_free(h);
}

static void completion_may_leave_out_f_key_and_value(void **state)
{
	(void)state;
	ballot_history *h = parse_ok(W1 "{'process':1,'type':'ok'}\n"
				     "{'process':1,'type':'invoke','f':'cas','key':'x','value':[1,2]}\n"
				     "{'process':1,'type':'fail','value':'anything at all'}\n");
	ballot_op_view v;
	ballot_history_op(h, 1, &v);
	assert_int_equal(v.outcome, BALLOT_EVENT_FAIL);
	ballot_history_free(h);
}

static void integer_keys_are_their_decimal_text(void **state)
{
	(void)state;
	ballot_history *h = parse_ok("{'process':1,'type':'invoke','f':'write','key':12,'value':1}\n"
				     "{'process':1,'type':'ok','key':'12'}\n"
				     "{'process':2,'type':'invoke','f':'read','key':'12','value':null}\n"
				     "{'process':2,'type':'ok','key':12,'value':'1'}\n");
	ballot_check_result r;
	assert_int_equal(ballot_check(h, NULL, &r, NULL), 0);
	assert_int_equal(r.verdict, BALLOT_CHECK_LINEARIZABLE);
	assert_int_equal(r.keys, 1);
	ballot_check_result_free(&r);
	ballot_history_free(h);
}

static void strings_are_unescaped(void **state)
{
	(void)state;
	ballot_history *h = parse_ok(
		"{'process':1,'type':'invoke','f':'write','key':'k\\n\\t\\'\\\\\\/','value':'a\\u0000b\\u00e9'}\n");
	ballot_op_view v;
	ballot_history_op(h, 0, &v);
	assert_int_equal(v.call.key_len, 6);
	assert_memory_equal(v.call.key, "k\n\t\"\\/", 6);
	assert_int_equal(v.call.value.len, 5);
	assert_memory_equal(v.call.value.bytes, "a\0b\xc3\xa9", 5);
	ballot_history_free(h);
}

static void integers_at_the_edges_of_64_bits(void **state)
{
	(void)state;
	ballot_history *h = parse_ok(
		"{'process':-9223372036854775808,'type':'invoke','f':'write','key':'x','value':9223372036854775807}\n"
		"{'process':-9223372036854775808,'type':'ok'}\n");
	ballot_op_view v;
	ballot_history_op(h, 0, &v);
	assert_true(v.process == INT64_MIN);
	assert_true(v.call.value.integer == INT64_MAX);
	ballot_history_free(h);
}

static void fields_in_any_order_and_escaped_names(void **state)
{
	(void)state;
	ballot_history *h = parse_ok("{'value':1,'key':'x','f':'write','type':'invoke','\\u0070rocess':1}\n");
	assert_int_equal(ballot_history_op_count(h), 1);
	ballot_history_free(h);
}

/* ---- malformed JSON --------------------------------------------------------------------------- */

static void bad_json_names_line_and_column(void **state)
{
	(void)state;
	parse_fails(W1 "{'process':1,'type':'ok',}\n", 2, "column 26: expected a string as an object key");
	parse_fails(W1 "not json\n", 2, "column 1: expected '{'");
	parse_fails("[1, 2]\n", 1, "expected '{'");
	parse_fails("{'process':1} {}\n", 1, "text after the object");
	parse_fails("{'process':1\n", 1, "expected ',' or '}'");
	parse_fails("{'process' 1}\n", 1, "expected ':'");
	parse_fails("{'process':01}\n", 1, "leading zero");
	parse_fails("{'process':1.}\n", 1, "digit after the decimal point");
	parse_fails("{'process':1e}\n", 1, "digit in the exponent");
	parse_fails("{'process':-}\n", 1, "expected a digit");
	parse_fails("{'process':tru}\n", 1, "expected a JSON value");
	parse_fails("{'a':'\\x'}\n", 1, "unknown escape");
	parse_fails("{'a':'\\u12'}\n", 1, "four hex digits");
	parse_fails("{'a':'\\ud800'}\n", 1, "unpaired high surrogate");
	parse_fails("{'a':'\\udc00'}\n", 1, "unpaired low surrogate");
	parse_fails("{'a':'abc}\n", 1, "unterminated string");
	parse_fails("{'a':[1 2]}\n", 1, "expected ',' or ']'");
	parse_fails("{'a':'tab\there'}\n", 1, "control character");
}

static void invalid_utf8_is_refused(void **state)
{
	(void)state;
	parse_fails("{'a':'\xff'}\n", 1, "invalid UTF-8");
	parse_fails("{'a':'\xc0\xaf'}\n", 1, "invalid UTF-8");      /* overlong '/' */
	parse_fails("{'a':'\xed\xa0\x80'}\n", 1, "invalid UTF-8");  /* a surrogate */
	parse_fails("{'a':'\xf4\x90\x80\x80'}\n", 1, "invalid UTF-8"); /* past U+10FFFF */
	parse_fails("{'a':'\xe2\x82'}\n", 1, "invalid UTF-8");      /* cut short */
}

static void embedded_nul_outside_strings_is_refused(void **state)
{
	(void)state;
	ballot_history *h = NULL;
	assert_int_equal(ballot_history_new(&h), 0);
	const char text[] = "{\"process\":1\0}\n";
	uint64_t line = 0;
	ballot_errmsg em;
	assert_int_equal(ballot_history_parse_jsonl(h, text, sizeof text - 1, &line, &em), BALLOT_EINVAL);
	assert_int_equal(line, 1);
	ballot_history_free(h);
}

static void nesting_is_bounded(void **state)
{
	(void)state;
	char text[1024];
	size_t n = 0;
	n += (size_t)snprintf(text + n, sizeof text - n, "{\"a\":");
	for (int i = 0; i < BALLOT_CHECK_JSON_DEPTH_MAX + 5; i++)
		text[n++] = '[';
	text[n] = '\0';
	parse_fails(text, 1, "nested too deeply");

	/* Just within the bound is fine (the object itself is level 1). */
	n = 0;
	n += (size_t)snprintf(text + n, sizeof text - n, "%s", "{\"a\":");
	for (int i = 0; i < BALLOT_CHECK_JSON_DEPTH_MAX - 1; i++)
		text[n++] = '[';
	for (int i = 0; i < BALLOT_CHECK_JSON_DEPTH_MAX - 1; i++)
		text[n++] = ']';
	n += (size_t)snprintf(text + n, sizeof text - n, "%s",
			      ",\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\"}");
	ballot_history *h = parse_ok(text);
	ballot_history_free(h);
}

static void long_lines_are_refused(void **state)
{
	(void)state;
	size_t len = BALLOT_CHECK_LINE_MAX_BYTES + 100;
	char *text = malloc(len + 256);
	assert_non_null(text);
	strcpy(text, W1 "{\"a\":\"");
	size_t n = strlen(text);
	memset(text + n, 'x', len);
	strcpy(text + n + len, "\"}\n");
	for (size_t i = 0; i < n; i++)
		if (text[i] == '\'')
			text[i] = '"';
	ballot_history *h = NULL;
	assert_int_equal(ballot_history_new(&h), 0);
	uint64_t line = 0;
	ballot_errmsg em;
	assert_int_equal(ballot_history_parse_jsonl(h, text, strlen(text), &line, &em), BALLOT_ELIMIT);
	assert_int_equal(line, 2);
	assert_non_null(strstr(em.text, "longer than"));
	free(text);
	ballot_history_free(h);
}

/* ---- malformed events -------------------------------------------------------------------------- */

static void missing_or_ill_typed_fields(void **state)
{
	(void)state;
	parse_fails("{'type':'invoke','f':'write','key':'x','value':1}\n", 1, "\"process\" is missing");
	parse_fails("{'process':'p1','type':'invoke','f':'write','key':'x','value':1}\n", 1,
		    "\"process\" must be an integer, not a string");
	parse_fails("{'process':1.5,'type':'invoke','f':'write','key':'x','value':1}\n", 1,
		    "not a number with a fraction or exponent");
	parse_fails("{'process':99999999999999999999,'type':'invoke'}\n", 1,
		    "not an integer out of the 64-bit range");
	parse_fails("{'process':1,'f':'write','key':'x','value':1}\n", 1, "\"type\" is missing");
	parse_fails("{'process':1,'type':'begin'}\n", 1, "unknown \"type\" \"begin\"");
	parse_fails("{'process':1,'type':'invoke','key':'x','value':1}\n", 1, "\"f\" is missing");
	parse_fails("{'process':1,'type':'invoke','f':'delete','key':'x'}\n", 1, "unknown \"f\" \"delete\"");
	parse_fails("{'process':1,'type':'invoke','f':'write','value':1}\n", 1, "\"key\" is missing");
	parse_fails("{'process':1,'type':'invoke','f':'write','key':null,'value':1}\n", 1,
		    "\"key\" must be a string or an integer, not null");
	parse_fails("{'process':1,'type':'invoke','f':'write','key':'x'}\n", 1, "\"value\" is missing");
	parse_fails("{'process':1,'type':'invoke','f':'write','key':'x','value':[1]}\n", 1,
		    "\"value\" must be the value written");
	parse_fails("{'process':1,'type':'invoke','f':'write','key':'x','value':true}\n", 1, "not true or false");
	parse_fails("{'process':1,'type':'invoke','f':'cas','key':'x','value':5}\n", 1,
		    "\"value\" must be [expected, new]");
	parse_fails("{'process':1,'type':'invoke','f':'cas','key':'x','value':[1,2,3]}\n", 1,
		    "\"value\" must be [expected, new]");
	parse_fails("{'process':1,'type':'invoke','f':'cas','key':'x','value':[1,[2]]}\n", 1,
		    "\"value\" must be [expected, new]");
	parse_fails("{'process':1,'type':'invoke','f':'incr','key':'x','value':'1'}\n", 1,
		    "\"value\" must be the increment, an integer, not a string");
	parse_fails("{'process':1,'type':'invoke','f':'append','key':'x','value':null}\n", 1,
		    "\"value\" must be the suffix");
	parse_fails("{'process':1,'process':2,'type':'invoke','f':'read','key':'x'}\n", 1,
		    "\"process\" is given twice");
}

static void completion_values_that_are_needed(void **state)
{
	(void)state;
	parse_fails("{'process':1,'type':'invoke','f':'read','key':'x','value':null}\n"
		    "{'process':1,'type':'ok','f':'read','key':'x'}\n",
		    2, "an ok read needs a \"value\"");
	parse_fails("{'process':1,'type':'invoke','f':'read','key':'x','value':null}\n"
		    "{'process':1,'type':'ok','value':[1,2]}\n",
		    2, "an ok read's \"value\" must be null, an integer or a string, not an array");
	parse_fails("{'process':1,'type':'invoke','f':'incr','key':'x','value':1}\n"
		    "{'process':1,'type':'ok','value':'2'}\n",
		    2, "an ok incr's value is the new value and must be an integer, not a string");
	parse_fails("{'process':1,'type':'invoke','f':'incr','key':'x','value':1}\n"
		    "{'process':1,'type':'ok'}\n",
		    2, "an ok incr needs a \"value\"");
	/* Where the value is not used, anything goes. */
	ballot_history *h = parse_ok("{'process':1,'type':'invoke','f':'incr','key':'x','value':1}\n"
				     "{'process':1,'type':'info','value':{'error':'timeout'}}\n");
	ballot_history_free(h);
}

static void ok_without_an_open_invoke(void **state)
{
	(void)state;
	parse_fails(W1 W1_OK W1_OK, 3, "ok from process 1, which has no open invoke to complete");
	parse_fails("{'process':7,'type':'fail'}\n", 1, "fail from process 7, which has no open invoke");
	parse_fails("{'process':7,'type':'info'}\n", 1, "info from process 7, which has no open invoke");
}

static void second_invoke_while_one_is_open(void **state)
{
	(void)state;
	parse_fails("\n" W1 "{'process':2,'type':'invoke','f':'read','key':'x','value':null}\n" W1, 4,
		    "process 1 invokes again while its invoke on line 2 is still open");
}

static void events_after_an_info(void **state)
{
	(void)state;
	parse_fails(W1 "{'process':1,'type':'info'}\n" W1, 3,
		    "process 1 ended with info on line 2; a process whose operation has an unknown outcome issues nothing more");
	parse_fails(W1 "{'process':1,'type':'info'}\n{'process':1,'type':'ok'}\n", 3, "ended with info on line 2");
}

static void completion_must_match_its_invoke(void **state)
{
	(void)state;
	parse_fails(W1 "{'process':1,'type':'ok','f':'read'}\n", 2,
		    "completes a read, but process 1's open invoke on line 1 is a write");
	parse_fails(W1 "{'process':1,'type':'ok','key':'y'}\n", 2,
		    "completes an operation on another key than process 1's open invoke on line 1");
	parse_fails(W1 "{'process':1,'type':'ok','f':'jump'}\n", 2, "unknown \"f\"");
}

static void events_before_the_error_are_kept(void **state)
{
	(void)state;
	ballot_history *h = NULL;
	assert_int_equal(ballot_history_new(&h), 0);
	char *s = unquote(W1 W1_OK "{'process':1}\n");
	assert_int_equal(ballot_history_parse_jsonl(h, s, strlen(s), NULL, NULL), BALLOT_EINVAL);
	free(s);
	assert_int_equal(ballot_history_op_count(h), 1);
	ballot_history_free(h);
}

/* ---- the in-process API ------------------------------------------------------------------------ */

static void api_refuses_what_the_format_refuses(void **state)
{
	(void)state;
	ballot_history *h = NULL;
	assert_int_equal(ballot_history_new(&h), 0);
	ballot_errmsg em;
	ballot_call incr = {.f = BALLOT_OP_INCR, .key = "c", .key_len = 1, .value = ballot_value_bytes("1", 1)};
	assert_int_equal(ballot_history_invoke(h, 1, &incr, &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "event 1: incr's value is its increment"));
	ballot_call append = {.f = BALLOT_OP_APPEND, .key = "s", .key_len = 1, .value = ballot_value_null()};
	assert_int_equal(ballot_history_invoke(h, 1, &append, &em), BALLOT_EINVAL);
	ballot_call bad_f = {.f = (ballot_op_kind)42, .key = "s", .key_len = 1};
	assert_int_equal(ballot_history_invoke(h, 1, &bad_f, &em), BALLOT_EINVAL);
	ballot_call big = {.f = BALLOT_OP_WRITE, .key = "s", .key_len = 1,
			   .value = ballot_value_bytes("", (size_t)BALLOT_CHECK_VALUE_MAX_BYTES + 1)};
	assert_int_equal(ballot_history_invoke(h, 1, &big, &em), BALLOT_ELIMIT);
	assert_int_equal(ballot_history_op_count(h), 0);

	assert_int_equal(ballot_history_complete(h, 1, BALLOT_EVENT_OK, ballot_value_null(), &em), BALLOT_EINVAL);
	ballot_call incr_ok = {.f = BALLOT_OP_INCR, .key = "c", .key_len = 1, .value = ballot_value_int(1)};
	assert_int_equal(ballot_history_invoke(h, 1, &incr_ok, &em), 0);
	assert_int_equal(ballot_history_invoke(h, 1, &incr_ok, &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "event 2: process 1 invokes again while its invoke on event 1"));
	assert_int_equal(ballot_history_complete(h, 1, BALLOT_EVENT_INVOKE, ballot_value_null(), &em), BALLOT_EINVAL);
	assert_int_equal(ballot_history_complete(h, 1, BALLOT_EVENT_OK, ballot_value_null(), &em), BALLOT_EINVAL);
	assert_non_null(strstr(em.text, "must be an integer, not null"));
	assert_int_equal(ballot_history_complete(h, 1, BALLOT_EVENT_OK, ballot_value_int(1), &em), 0);
	assert_int_equal(ballot_history_op_count(h), 1);
	ballot_history_free(h);
	ballot_history_free(NULL);
}

static void event_json_reproduces_the_events(void **state)
{
	(void)state;
	ballot_history *h = parse_ok(
		"{'process':3,'type':'invoke','f':'cas','key':'x','value':[null,'a\\u00e9']}\n"
		"{'process':3,'type':'fail'}\n"
		"{'process':4,'type':'invoke','f':'incr','key':'c','value':-2}\n"
		"{'process':4,'type':'ok','value':-2}\n"
		"{'process':5,'type':'invoke','f':'read','key':'x','value':null}\n");
	char out[256];
	size_t n = ballot_history_event_json(h, 0, false, out, sizeof out);
	assert_string_equal(out, "{\"line\":1,\"process\":3,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"x\","
				 "\"value\":[null,\"a\xc3\xa9\"]}");
	assert_int_equal(n, strlen(out));
	ballot_history_event_json(h, 0, true, out, sizeof out);
	assert_string_equal(out, "{\"line\":2,\"process\":3,\"type\":\"fail\",\"f\":\"cas\",\"key\":\"x\","
				 "\"value\":[null,\"a\xc3\xa9\"]}");
	ballot_history_event_json(h, 1, true, out, sizeof out);
	assert_string_equal(out, "{\"line\":4,\"process\":4,\"type\":\"ok\",\"f\":\"incr\",\"key\":\"c\",\"value\":-2}");
	/* Never completed: no completion event. */
	assert_int_equal(ballot_history_event_json(h, 2, true, out, sizeof out), 0);
	assert_string_equal(out, "");
	/* Too small a buffer: cut, NUL-terminated, and the needed length returned. */
	char small[8];
	n = ballot_history_event_json(h, 2, false, small, sizeof small);
	assert_true(n > sizeof small);
	assert_int_equal(strlen(small), sizeof small - 1);
	ballot_op_view v;
	ballot_history_op(h, 2, &v);
	assert_false(v.completed);
	assert_int_equal(v.outcome, BALLOT_EVENT_INFO);
	assert_int_equal(v.complete_line, 0);
	ballot_history_free(h);
}

static void names_of_kinds_types_and_bounds(void **state)
{
	(void)state;
	assert_string_equal(ballot_op_kind_name(BALLOT_OP_APPEND), "append");
	assert_string_equal(ballot_op_kind_name((ballot_op_kind)99), "unknown");
	assert_string_equal(ballot_event_type_name(BALLOT_EVENT_INFO), "info");
	assert_string_equal(ballot_check_bound_name(BALLOT_CHECK_BOUND_TIME), "time");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_the_example_of_the_format),
		cmocka_unit_test(blank_lines_count_and_crlf_is_accepted),
		cmocka_unit_test(extra_fields_are_ignored_whatever_they_hold),
		cmocka_unit_test(completion_may_leave_out_f_key_and_value),
		cmocka_unit_test(integer_keys_are_their_decimal_text),
		cmocka_unit_test(strings_are_unescaped),
		cmocka_unit_test(integers_at_the_edges_of_64_bits),
		cmocka_unit_test(fields_in_any_order_and_escaped_names),
		cmocka_unit_test(bad_json_names_line_and_column),
		cmocka_unit_test(invalid_utf8_is_refused),
		cmocka_unit_test(embedded_nul_outside_strings_is_refused),
		cmocka_unit_test(nesting_is_bounded),
		cmocka_unit_test(long_lines_are_refused),
		cmocka_unit_test(missing_or_ill_typed_fields),
		cmocka_unit_test(completion_values_that_are_needed),
		cmocka_unit_test(ok_without_an_open_invoke),
		cmocka_unit_test(second_invoke_while_one_is_open),
		cmocka_unit_test(events_after_an_info),
		cmocka_unit_test(completion_must_match_its_invoke),
		cmocka_unit_test(events_before_the_error_are_kept),
		cmocka_unit_test(api_refuses_what_the_format_refuses),
		cmocka_unit_test(event_json_reproduces_the_events),
		cmocka_unit_test(names_of_kinds_types_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
