/*
 * Unit tests: a probe's result as people, scripts and the log read it
 * (lib/probe/probereport.h), from results made up here, one per class.
 *
 * The text says what posttls-finger would (the dialogue, the chain, the
 * PKIX and DANE verdicts) and ends with the class and the word Postfix
 * logs for it. The JSON is one valid object whose every field has the
 * result's value, null where there is none, whatever the strings hold.
 * The log line is one line of key=value fields that read back as the
 * result's values.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/buf.h"
#include "util/jsonw.h"
#include "util/kv.h"
#include "util/netaddr.h"
#include "probe/probe.h"
#include "probe/probereport.h"
#include "table.h"

/* Digests of no key: 32 bytes shown as 64 hex digits. */
#define SPKI "1111111111111111111111111111111111111111111111111111111111111111"
#define CERT "2222222222222222222222222222222222222222222222222222222222222222"

static const unsigned char digest[32] = {
	0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34,
	0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34,
};
#define DIGEST_HEX "1234123412341234123412341234123412341234123412341234123412341234"

static const struct probe_tlsa tlsa_two[] = {
	{3, 1, 1, sizeof(digest), (unsigned char *)(uintptr_t)digest},
	{2, 0, 1, sizeof(digest), (unsigned char *)(uintptr_t)digest},
};
static const struct probe_tlsa tlsa_pkix[] = {
	{1, 1, 1, sizeof(digest), (unsigned char *)(uintptr_t)digest},
};

/* A made-up probe: what probe.c would have filled in. */
struct fixture {
	struct probe_target t;
	struct probe_result r;
};

enum shape {
	VERIFIED_DANE,		/* DANE-EE matched, PKIX verified too */
	MISMATCH,		/* usable TLSA, none matched */
	PKIX_ONLY_TLSA,		/* TLSA records, none usable for SMTP */
	PLAINTEXT,		/* no STARTTLS */
	HANDSHAKE_FAILED,
	UNREACHABLE,		/* connect refused, IPv6 */
	HOSTILE,		/* every string of the result made to break a format */
};

static void
make(struct fixture *f, enum shape shape)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->t.host, sizeof(f->t.host), "mx.example.org");
	assert_int_equal(netaddr_parse(shape == UNREACHABLE ? "2001:db8::25" : "192.0.2.25", &f->t.address), 0);
	f->t.port = 25;
	buf_init(&f->r.transcript);
	f->r.dane_depth = -1;
	f->r.duration_ms = 231;
	if (shape == UNREACHABLE) {
		f->r.class = PROBE_UNREACHABLE;
		f->r.stage = PROBE_STAGE_CONNECT;
		snprintf(f->r.error, sizeof(f->r.error), "connect: Connection refused");
		f->r.duration_ms = 1;
		return;
	}
	snprintf(f->r.banner, sizeof(f->r.banner), "220 mx.example.org ESMTP");
	buf_puts(&f->r.transcript, "< 220 mx.example.org ESMTP\n> EHLO probe.example\n< 250 mx.example.org\n");
	if (shape == PLAINTEXT) {
		f->r.class = PROBE_PLAINTEXT;
		f->r.stage = PROBE_STAGE_DONE;
		buf_puts(&f->r.transcript, "> QUIT\n< 221 Bye\n");
		return;
	}
	f->r.starttls_offered = true;
	buf_puts(&f->r.transcript, "> STARTTLS\n< 220 Ready\n");
	if (shape == HANDSHAKE_FAILED) {
		f->r.class = PROBE_TLS_FAILED;
		f->r.stage = PROBE_STAGE_HANDSHAKE;
		snprintf(f->r.error, sizeof(f->r.error), "TLS handshake: wrong version number");
		return;
	}
	f->r.stage = PROBE_STAGE_DONE;
	snprintf(f->r.protocol, sizeof(f->r.protocol), "TLSv1.3");
	snprintf(f->r.cipher, sizeof(f->r.cipher), "TLS_AES_256_GCM_SHA384");
	f->r.ncerts = 2;
	snprintf(f->r.certs[0].subject, sizeof(f->r.certs[0].subject), "/CN=mx.example.org");
	snprintf(f->r.certs[0].issuer, sizeof(f->r.certs[0].issuer), "/CN=Example CA");
	snprintf(f->r.certs[0].not_before, sizeof(f->r.certs[0].not_before), "Nov 24 00:00:00 2026 GMT");
	snprintf(f->r.certs[0].not_after, sizeof(f->r.certs[0].not_after), "Feb 22 00:00:00 2027 GMT");
	snprintf(f->r.certs[0].spki_sha256, sizeof(f->r.certs[0].spki_sha256), SPKI);
	snprintf(f->r.certs[0].cert_sha256, sizeof(f->r.certs[0].cert_sha256), CERT);
	snprintf(f->r.certs[1].subject, sizeof(f->r.certs[1].subject), "/CN=Example CA");
	snprintf(f->r.certs[1].issuer, sizeof(f->r.certs[1].issuer), "/CN=Example CA");
	snprintf(f->r.certs[1].not_before, sizeof(f->r.certs[1].not_before), "Jan  1 00:00:00 2026 GMT");
	snprintf(f->r.certs[1].not_after, sizeof(f->r.certs[1].not_after), "Jan  1 00:00:00 2036 GMT");
	snprintf(f->r.certs[1].spki_sha256, sizeof(f->r.certs[1].spki_sha256), CERT);
	snprintf(f->r.certs[1].cert_sha256, sizeof(f->r.certs[1].cert_sha256), SPKI);
	f->r.pkix_ok = true;
	f->r.name_ok = true;
	buf_puts(&f->r.transcript, "> QUIT\n< 221 Bye\n");
	switch (shape) {
	case VERIFIED_DANE:
		f->t.ntlsa = 2;
		f->t.tlsa = tlsa_two;
		f->r.class = PROBE_DANE_VERIFIED;
		f->r.tlsa_usable = 2;
		f->r.dane_depth = 0;
		snprintf(f->r.dane_match, sizeof(f->r.dane_match), "3 1 1 " DIGEST_HEX);
		break;
	case MISMATCH:
		f->t.ntlsa = 2;
		f->t.tlsa = tlsa_two;
		f->r.class = PROBE_DANE_MISMATCH;
		f->r.tlsa_usable = 2;
		snprintf(f->r.dane_error, sizeof(f->r.dane_error), "no TLSA record matched the chain");
		break;
	case PKIX_ONLY_TLSA:
		f->t.ntlsa = 1;
		f->t.tlsa = tlsa_pkix;
		f->r.class = PROBE_VERIFIED;
		break;
	case HOSTILE:
		f->r.class = PROBE_UNTRUSTED;
		f->r.pkix_ok = false;
		f->r.name_ok = false;
		snprintf(f->r.pkix_error, sizeof(f->r.pkix_error), "a \"quoted\" \\ error\nevent=alert kind=forged\t\x01");
		snprintf(f->r.certs[0].subject, sizeof(f->r.certs[0].subject), "/CN=\"},\"class\":\"verified");
		snprintf(f->r.banner, sizeof(f->r.banner), "220 \\\" dest=evil.example");
		snprintf(f->r.cipher, sizeof(f->r.cipher), "x\" class=verified");
		snprintf(f->r.error, sizeof(f->r.error), "QUIT: \"odd\" reply=\\x0a");
		break;
	default:
		break;
	}
}

static void
unmake(struct fixture *f)
{
	buf_free(&f->r.transcript);
}

static char *
text_of(const struct fixture *f)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(probereport_text(&f->t, &f->r, &b), 0);
	return buf_detach(&b);
}

/* The whole report of a DANE-verified probe, line for line. */
static void
test_text_verified(void **state)
{
	struct fixture f;

	make(&f, VERIFIED_DANE);
	char *text = text_of(&f);
	unmake(&f);
	assert_string_equal(text,
	    "== mx.example.org[192.0.2.25]:25 TLSA 3 1 1 " DIGEST_HEX ", 2 0 1 " DIGEST_HEX "\n"
	    "< 220 mx.example.org ESMTP\n"
	    "> EHLO probe.example\n"
	    "< 250 mx.example.org\n"
	    "> STARTTLS\n"
	    "< 220 Ready\n"
	    "> QUIT\n"
	    "< 221 Bye\n"
	    "TLS: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384\n"
	    "certificate 0: subject /CN=mx.example.org\n"
	    "    issuer /CN=Example CA\n"
	    "    valid Nov 24 00:00:00 2026 GMT to Feb 22 00:00:00 2027 GMT\n"
	    "    pkey sha256 " SPKI "\n"
	    "    cert sha256 " CERT "\n"
	    "certificate 1: subject /CN=Example CA\n"
	    "    issuer /CN=Example CA\n"
	    "    valid Jan  1 00:00:00 2026 GMT to Jan  1 00:00:00 2036 GMT\n"
	    "    pkey sha256 " CERT "\n"
	    "    cert sha256 " SPKI "\n"
	    "PKIX: chain verified; name mx.example.org matches\n"
	    "DANE: matched 3 1 1 " DIGEST_HEX " at depth 0\n"
	    "class: dane-verified (Postfix would log: Verified TLS connection established)\n");
	free(text);
}

struct text_case {
	const char *name;
	enum shape shape;
	const char *has[4];	/* lines (or parts) the report must have */
	const char *lacks[3];	/* and must not */
};

static const struct text_case text_cases[] = {
	{"text: DANE mismatch", MISMATCH,
	    {"DANE: no matching TLSA record (no TLSA record matched the chain)\n",
		"\nclass: dane-mismatch (Postfix would log: Untrusted TLS connection established)\n"},
	    {"DANE: matched"}},
	{"text: TLSA records none of which SMTP can use", PKIX_ONLY_TLSA,
	    {" TLSA 1 1 1 " DIGEST_HEX "\n", "DANE: no TLSA record usable for SMTP\n",
		"\nclass: verified (Postfix would log: Verified TLS connection established)\n"},
	    {"DANE: matched", "DANE: no matching"}},
	{"text: plaintext, no TLS at all", PLAINTEXT,
	    {"== mx.example.org[192.0.2.25]:25\n", "\nclass: plaintext\n"},
	    {"TLS:", "certificate", "Postfix would log"}},
	{"text: the handshake failed, where and why", HANDSHAKE_FAILED,
	    {"error at handshake: TLS handshake: wrong version number\n", "\nclass: tls-failed\n"},
	    {"TLS:", "PKIX:", "DANE:"}},
	{"text: unreachable over IPv6", UNREACHABLE,
	    {"== mx.example.org[2001:db8::25]:25\n", "error at connect: connect: Connection refused\n",
		"\nclass: unreachable\n"},
	    {"<", "PKIX:"}},
	{"text: PKIX failed, why, and the name", HOSTILE,
	    {"PKIX: chain not verified: a \"quoted\" \\ error", "name mx.example.org does not match\n",
		"\nclass: untrusted (Postfix would log: Untrusted TLS connection established)\n"}},
};

static const char *
text_case_name(const void *row)
{
	return ((const struct text_case *)row)->name;
}

static void
test_text(void **state)
{
	const struct text_case *c = *state;
	struct fixture f;

	make(&f, c->shape);
	char *text = text_of(&f);
	unmake(&f);
	for (size_t i = 0; i < 4 && c->has[i]; i++)
		if (!strstr(text, c->has[i]))
			fail_msg("no \"%s\" in:\n%s", c->has[i], text);
	for (size_t i = 0; i < 3 && c->lacks[i]; i++)
		if (strstr(text, c->lacks[i]))
			fail_msg("\"%s\" in:\n%s", c->lacks[i], text);
	/* The class line ends the report. */
	const char *last = strrchr(text, '\n');
	assert_non_null(last);
	assert_int_equal(last[1], '\0');
	free(text);
}

static json_t *
json_of(const struct fixture *f)
{
	struct buf b;
	json_error_t err;

	struct jsonw w;

	buf_init(&b);
	jsonw_init(&w, &b);
	assert_int_equal(probereport_json(&f->t, &f->r, &w), 0);
	assert_int_equal(jsonw_done(&w), 0);
	json_t *j = json_loadb(buf_ptr(&b), buf_size(&b), 0, &err);
	if (!j)
		fail_msg("not JSON (%s at %d): %.*s", err.text, err.position, (int)buf_size(&b), buf_ptr(&b));
	buf_free(&b);
	assert_true(json_is_object(j));
	return j;
}

static const char *
field_str(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!v)
		fail_msg("no field %s", key);
	if (json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		fail_msg("%s is not a string", key);
	return json_string_value(v);
}

static void
assert_field(json_t *j, const char *key, const char *want)
{
	const char *got = field_str(j, key);

	if (!want && got)
		fail_msg("%s: \"%s\", want null", key, got);
	if (want && (!got || strcmp(got, want) != 0))
		fail_msg("%s: %s%s%s, want \"%s\"", key, got ? "\"" : "", got ? got : "null", got ? "\"" : "", want);
}

static long long
field_int(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", key);
	return json_integer_value(v);
}

static bool
field_bool(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_boolean(v))
		fail_msg("%s is not true or false", key);
	return json_is_true(v);
}

static void
test_json_verified(void **state)
{
	struct fixture f;

	make(&f, VERIFIED_DANE);
	json_t *j = json_of(&f);
	unmake(&f);
	assert_field(j, "host", "mx.example.org");
	assert_field(j, "address", "192.0.2.25");
	assert_int_equal(field_int(j, "port"), 25);
	assert_field(j, "class", "dane-verified");
	assert_field(j, "postfix", "Verified");
	assert_field(j, "stage", "done");
	assert_field(j, "error", NULL);
	assert_field(j, "banner", "220 mx.example.org ESMTP");
	assert_true(field_bool(j, "starttls"));
	assert_field(j, "protocol", "TLSv1.3");
	assert_field(j, "cipher", "TLS_AES_256_GCM_SHA384");
	json_t *chain = json_object_get(j, "chain");
	assert_true(json_is_array(chain));
	assert_int_equal(json_array_size(chain), 2);
	json_t *leaf = json_array_get(chain, 0);
	assert_field(leaf, "subject", "/CN=mx.example.org");
	assert_field(leaf, "issuer", "/CN=Example CA");
	assert_field(leaf, "not_before", "Nov 24 00:00:00 2026 GMT");
	assert_field(leaf, "not_after", "Feb 22 00:00:00 2027 GMT");
	assert_field(leaf, "spki_sha256", SPKI);
	assert_field(leaf, "cert_sha256", CERT);
	assert_field(json_array_get(chain, 1), "subject", "/CN=Example CA");
	assert_true(field_bool(j, "pkix"));
	assert_field(j, "pkix_error", NULL);
	assert_true(field_bool(j, "name_match"));
	assert_field(j, "tlsa", "3 1 1 " DIGEST_HEX ", 2 0 1 " DIGEST_HEX);
	assert_int_equal(field_int(j, "tlsa_usable"), 2);
	assert_field(j, "dane_match", "3 1 1 " DIGEST_HEX);
	assert_int_equal(field_int(j, "dane_depth"), 0);
	assert_int_equal(field_int(j, "duration_ms"), 231);
	json_decref(j);
}

/* What a result lacks is null (or empty, or false), never "" or garbage. */
static void
test_json_unreachable(void **state)
{
	struct fixture f;

	make(&f, UNREACHABLE);
	json_t *j = json_of(&f);
	unmake(&f);
	assert_field(j, "address", "2001:db8::25");
	assert_field(j, "class", "unreachable");
	assert_field(j, "postfix", NULL);
	assert_field(j, "stage", "connect");
	assert_field(j, "error", "connect: Connection refused");
	assert_field(j, "banner", "");
	assert_false(field_bool(j, "starttls"));
	assert_field(j, "protocol", NULL);
	assert_field(j, "cipher", NULL);
	assert_int_equal(json_array_size(json_object_get(j, "chain")), 0);
	assert_false(field_bool(j, "pkix"));
	assert_field(j, "tlsa", NULL);
	assert_int_equal(field_int(j, "tlsa_usable"), 0);
	assert_field(j, "dane_match", NULL);
	assert_int_equal(field_int(j, "dane_depth"), -1);
	json_decref(j);
}

/* Quotes, backslashes, line breaks and control bytes in every string: one
 * valid object, each string read back as it was. */
static void
test_json_hostile(void **state)
{
	struct fixture f;

	make(&f, HOSTILE);
	json_t *j = json_of(&f);
	assert_field(j, "class", "untrusted");
	assert_field(j, "pkix_error", f.r.pkix_error);
	assert_field(json_array_get(json_object_get(j, "chain"), 0), "subject", f.r.certs[0].subject);
	assert_field(j, "banner", f.r.banner);
	assert_field(j, "cipher", f.r.cipher);
	assert_field(j, "error", f.r.error);
	assert_int_equal(json_object_size(j), 20);
	unmake(&f);
	json_decref(j);
}

struct field {
	const char *key;
	const char *value;
};

struct fields {
	struct field f[32];
	char store[32][256];
	size_t n;
};

static void
on_field(void *arg, const char *key, const char *value)
{
	struct fields *fs = arg;

	if (fs->n < 32) {
		snprintf(fs->store[fs->n], sizeof(fs->store[fs->n]), "%s", value);
		fs->f[fs->n].key = strdup(key);
		fs->f[fs->n].value = fs->store[fs->n];
		fs->n++;
	}
}

static const char *
kv_get(const struct fields *fs, const char *key)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->f[i].key, key) == 0)
			return fs->f[i].value;
	return NULL;
}

static void
kv_free(struct fields *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free((char *)(uintptr_t)fs->f[i].key);
}

/* The log line of a probe, and its fields read back. */
static char *
kv_of(const struct fixture *f, const char *dest, struct fields *fs)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(probereport_kv(dest, &f->t, &f->r, &b), 0);
	char *line = buf_detach(&b);
	for (const char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			fail_msg("byte 0x%02x in the log line: %s", (unsigned char)*p, line);
	memset(fs, 0, sizeof(*fs));
	if (kv_parse(line, strlen(line), on_field, fs) < 0)
		fail_msg("not key=value fields: %s", line);
	return line;
}

static void
test_kv_verified(void **state)
{
	struct fixture f;
	struct fields fs;

	make(&f, VERIFIED_DANE);
	char *line = kv_of(&f, "example.org", &fs);
	unmake(&f);
	assert_string_equal(line,
	    "event=probe dest=example.org host=mx.example.org addr=192.0.2.25 port=25 class=dane-verified "
	    "protocol=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 dane=\"3 1 1 " DIGEST_HEX "\" "
	    "leaf_spki_sha256=" SPKI " duration_ms=231");
	kv_free(&fs);
	free(line);
}

struct kv_case {
	const char *name;
	enum shape shape;
	const char *key;
	const char *want;	/* NULL: the field is absent */
};

static const struct kv_case kv_cases[] = {
	{"log: a mismatch says so", MISMATCH, "dane", "no-match"},
	{"log: the leaf's key digest, to compare with TLSA", MISMATCH, "leaf_spki_sha256", SPKI},
	{"log: no dane field without usable TLSA", PKIX_ONLY_TLSA, "dane", NULL},
	{"log: plaintext, no protocol", PLAINTEXT, "protocol", NULL},
	{"log: plaintext, no error", PLAINTEXT, "error", NULL},
	{"log: the failed stage", HANDSHAKE_FAILED, "stage", "handshake"},
	{"log: the error", HANDSHAKE_FAILED, "error", "TLS handshake: wrong version number"},
	{"log: an IPv6 address", UNREACHABLE, "addr", "2001:db8::25"},
	{"log: unreachable, no leaf", UNREACHABLE, "leaf_spki_sha256", NULL},
	{"log: a hostile cipher read back as it was", HOSTILE, "cipher", "x\" class=verified"},
	{"log: a hostile cipher forges no class", HOSTILE, "class", "untrusted"},
	{"log: a hostile error read back as it was", HOSTILE, "error", "QUIT: \"odd\" reply=\\x0a"},
};

static const char *
kv_case_name(const void *row)
{
	return ((const struct kv_case *)row)->name;
}

static void
test_kv(void **state)
{
	const struct kv_case *c = *state;
	struct fixture f;
	struct fields fs;

	make(&f, c->shape);
	char *line = kv_of(&f, "example.org", &fs);
	unmake(&f);
	const char *got = kv_get(&fs, c->key);
	if (!c->want && got)
		fail_msg("%s=%s in %s", c->key, got, line);
	if (c->want && (!got || strcmp(got, c->want) != 0))
		fail_msg("%s: %s in %s", c->key, got ? got : "absent", line);
	/* Each field once: a value never makes a second one. */
	for (size_t i = 0; i < fs.n; i++)
		for (size_t k = i + 1; k < fs.n; k++)
			if (strcmp(fs.f[i].key, fs.f[k].key) == 0)
				fail_msg("%s twice in %s", fs.f[i].key, line);
	assert_string_equal(kv_get(&fs, "event"), "probe");
	assert_string_equal(kv_get(&fs, "dest"), "example.org");
	kv_free(&fs);
	free(line);
}

static void
test_tlsa_list(void **state)
{
	struct fixture f;
	struct buf b;

	make(&f, VERIFIED_DANE);
	buf_init(&b);
	assert_int_equal(probereport_tlsa_list(&f.t, &b), 0);
	assert_string_equal(buf_ptr(&b), "3 1 1 " DIGEST_HEX ", 2 0 1 " DIGEST_HEX);
	buf_reset(&b);
	f.t.ntlsa = 0;
	assert_int_equal(probereport_tlsa_list(&f.t, &b), 0);
	assert_int_equal(buf_size(&b), 0);
	buf_free(&b);
	unmake(&f);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_text_verified),
		cmocka_unit_test(test_json_verified),
		cmocka_unit_test(test_json_unreachable),
		cmocka_unit_test(test_json_hostile),
		cmocka_unit_test(test_kv_verified),
		cmocka_unit_test(test_tlsa_list),
	};
	struct table t = {0};

	TABLE_ADD(&t, text_cases, text_case, test_text);
	TABLE_ADD(&t, kv_cases, kv_case, test_kv);
	TABLE_TESTS(&t, more);
	return table_run(&t, "probereport");
}
