/* Unit tests: one probe (SMTP, STARTTLS, TLS, DANE) against scripted servers. */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_smtp.h"
#include "probe/probe.h"
#include "table.h"

/* ---- the certificates, made once in main() ---------------------------- */

static struct fake_cert leaf;		/* self-signed, DNS:mx.test */
static struct fake_cert other;		/* another key, DNS:other.test */
static struct fake_cert expired;	/* self-signed, DNS:mx.test, expired */
static struct fake_cert ca;		/* a CA */
static struct fake_cert chained;	/* DNS:mx.test, issued by ca */
static struct fake_cert chained_expired; /* the same, expired */
static struct fake_cert stranger;	/* the CA file's when it trusts none of these */
static struct fake_cert rsa_leaf;	/* RSA 2048, self-signed, DNS:mx.test */
static struct fake_cert dual;		/* leaf, with rsa_leaf beside it (set in main) */

static char tmpdir[256];
static char untrusted_pem[300];		/* holds `stranger` only */
static char trusted_pem[300];		/* holds `leaf` and `ca` */
static unsigned closed_port;
static int closed_fd = -1;

#define assert_contains(hay, needle) do { \
	const char *hay_ = (hay), *needle_ = (needle); \
	if (!strstr(hay_, needle_)) { \
		print_error("%s = \"%s\"\n  does not contain \"%s\"\n", #hay, hay_, needle_); \
		fail(); \
	} \
} while (0)

#define assert_lacks(hay, needle) do { \
	const char *hay_ = (hay), *needle_ = (needle); \
	if (strstr(hay_, needle_)) { \
		print_error("%s = \"%s\"\n  contains \"%s\"\n", #hay, hay_, needle_); \
		fail(); \
	} \
} while (0)

/* One line of printable ASCII: no terminal escapes, no forged lines. */
#define assert_printable(text) do { \
	for (const char *p_ = (text); *p_; p_++) { \
		if ((unsigned char)*p_ < 0x20 || (unsigned char)*p_ >= 0x7f) { \
			print_error("%s has byte 0x%02x at %d: \"%s\"\n", #text, (unsigned char)*p_, \
			    (int)(p_ - (text)), (text)); \
			fail(); \
		} \
	} \
} while (0)

/* ---- the table -------------------------------------------------------- */

struct tlsa_spec {
	uint8_t usage, selector, mtype;
	const struct fake_cert *of;	/* NULL ends the list */
};

struct probe_case {
	const char *name;
	struct fake_step script[10];
	const char *host;		/* NULL: mx.test */
	const char *tlsa_base;		/* NULL: "" */
	bool v6;			/* the server on ::1 */
	bool refused;			/* no server: a closed port */
	bool trust;			/* the CA file holds leaf and ca */
	unsigned timeout_ms;		/* step timeout; 0: 5000 */
	struct tlsa_spec tlsa[3];
	/* what the probe must report */
	enum probe_class class;
	enum probe_stage stage;
	const char *error;		/* a fragment; NULL: no error */
	bool starttls;
	const char *banner;		/* NULL: "" */
	const struct fake_cert *shown[2]; /* the chain the server sent; NULL: none */
	bool anonymous;			/* TLS without a certificate */
	bool pkix_ok, name_ok;
	size_t tlsa_usable;
	int matches;			/* 1 + index of the TLSA record that matches; 0 none */
	int dane_depth;			/* when one matches */
	const char *dane_error;		/* a fragment, for dane-mismatch */
	unsigned min_ms, max_ms;	/* duration bounds; max 0: 4000 */
	const char *shows;		/* in the transcript */
	const char *absent;		/* not in the transcript */
	bool repeats;			/* transcript lines may repeat (a flood) */
	bool server_fails;		/* the server's script may fail ("! " in its log) */
};

static const char *
probe_case_name(const void *row)
{
	return ((const struct probe_case *)row)->name;
}

#define BANNER F_SEND("220 mx.test ESMTP fake\r\n")
#define EHLO_PLAIN F_EXPECT("EHLO probe.test", "250-mx.test\r\n250 8BITMIME\r\n")
#define EHLO_TLS F_EXPECT("EHLO probe.test", "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
#define GO_TLS F_EXPECT("STARTTLS", "220 2.0.0 go ahead\r\n")
#define QUIT F_EXPECT("QUIT", "221 2.0.0 bye\r\n")
#define TLS_SESSION(c) BANNER, EHLO_TLS, GO_TLS, F_TLS(c), QUIT
#define BANNER_TEXT "220 mx.test ESMTP fake"
#define FLOOD_BYTES (1u << 20)

static const struct probe_case cases[] = {
	/* the SMTP dialogue */
	{"multi-line banner, EHLO without STARTTLS: plaintext",
	    {F_SEND("220-mx.test ESMTP fake\r\n220-no UCE\r\n220 ready\r\n"), EHLO_PLAIN, QUIT},
	    .class = PROBE_PLAINTEXT, .stage = PROBE_STAGE_DONE, .banner = "220 ready",	/* the last line: tlspolicy(1) */
	    .shows = "< 220-mx.test ESMTP fake\n< 220-no UCE\n< 220 ready\n> EHLO probe.test\n< 250-mx.test\n"
	    "< 250 8BITMIME\n> QUIT\n"},
	{"banner arriving in pieces: each line once",
	    {F_SEND("220-first"), F_SILENT(50), F_SEND(" line\r\n220-sec"), F_SILENT(50), F_SEND("ond\r\n220 third\r\n"),
	    EHLO_PLAIN, QUIT},
	    .class = PROBE_PLAINTEXT, .stage = PROBE_STAGE_DONE, .banner = "220 third",
	    .shows = "< 220-first line\n< 220-second\n< 220 third\n> EHLO"},
	{"EHLO refused (550): plaintext with the reply as error",
	    {BANNER, F_EXPECT("EHLO", "550 5.7.1 go away\r\n"), QUIT},
	    .class = PROBE_PLAINTEXT, .stage = PROBE_STAGE_DONE, .error = "EHLO refused: 550 5.7.1 go away",
	    .banner = BANNER_TEXT},
	{"STARTTLS in a 5xx EHLO reply is no offer",
	    {BANNER, F_EXPECT("EHLO", "550-STARTTLS\r\n550 no\r\n"), QUIT},
	    .class = PROBE_PLAINTEXT, .stage = PROBE_STAGE_DONE, .error = "EHLO refused: 550 no", .banner = BANNER_TEXT},
	{"STARTTLS look-alike keywords are no offer",
	    {BANNER, F_EXPECT("EHLO", "250-mx.test\r\n250-XSTARTTLS\r\n250-STARTTLSX\r\n250 X STARTTLS\r\n"), QUIT},
	    .class = PROBE_PLAINTEXT, .stage = PROBE_STAGE_DONE, .banner = BANNER_TEXT},
	{"STARTTLS in the banner is no offer",
	    {F_SEND("220 STARTTLS\r\n"), EHLO_PLAIN, QUIT},
	    .class = PROBE_PLAINTEXT, .stage = PROBE_STAGE_DONE, .banner = "220 STARTTLS"},
	{"banner 554: unreachable",
	    {F_SEND("554 5.3.2 no service here\r\n")},
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_BANNER,
	    .error = "the server refused the session: 554 5.3.2 no service here", .banner = "554 5.3.2 no service here"},
	{"garbage instead of a banner: not an SMTP reply",
	    {F_SEND("HTTP/1.1 400 Bad Request\r\n\r\n")},
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_BANNER, .error = "banner: not an SMTP reply: HTTP/1.1 400 Bad Request"},
	/* What the server says reaches logs and `tlspolicy probe` reports:
	 * kept to one printable line, as the transcript is. */
	{"garbage with escapes and a forged line: the error stays one printable line",
	    {F_SEND("\x1b[2J\x1b[31mEVIL\x07\r\nclass: dane-verified\r\n")},
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_BANNER, .error = "banner: not an SMTP reply: ?[2J?[31mEVIL?"},
	{"banner 554 with escapes: error and banner printable",
	    {F_SEND("554 \x1b[2Jgo away\x7f\r\n")},
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_BANNER,
	    .error = "the server refused the session: 554 ?[2Jgo away?", .banner = "554 ?[2Jgo away?"},
	{"garbage instead of the EHLO reply: not an SMTP reply",
	    {BANNER, F_EXPECT("EHLO", "hello there\r\n")},
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_EHLO, .error = "EHLO: not an SMTP reply: hello there",
	    .banner = BANNER_TEXT},
	{"endless 250- continuation: reply longer than the cap",
	    {BANNER, F_EXPECT("EHLO", NULL), F_FLOOD("250-mx.test says hello, and hello again\r\n", FLOOD_BYTES)},
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_EHLO, .error = "EHLO: reply longer than 16384 bytes",
	    .banner = BANNER_TEXT, .repeats = true},
	{"a long banner and a long EHLO reply, each under the cap: plaintext",
	    {F_FLOOD("220-a long greeting, and a long greeting\r\n", 4000), F_SEND("220 ok\r\n"), F_EXPECT("EHLO", NULL),
	    F_FLOOD("250-a long EHLO reply, and a long EHLO reply\r\n", 12000), F_SEND("250 8BITMIME\r\n"), QUIT},
	    .class = PROBE_PLAINTEXT, .stage = PROBE_STAGE_DONE, .banner = "220 ok", .repeats = true},
	{"an EHLO reply a little over the cap: reply longer than the cap",
	    {BANNER, F_EXPECT("EHLO", NULL), F_FLOOD("250-a long EHLO reply, and a long EHLO reply\r\n", 20000),
	    F_SEND("250 8BITMIME\r\n")},
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_EHLO, .error = "EHLO: reply longer than 16384 bytes",
	    .banner = BANNER_TEXT, .repeats = true},
	{"a banner line without end: reply longer than the cap",
	    {F_SEND("220 "), F_FLOOD("x", FLOOD_BYTES)},
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_BANNER, .error = "banner: reply longer than 16384 bytes"},
	{"closed right after accept: unreachable",
	    {F_CLOSE},
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_BANNER, .error = "banner: connection closed"},
	{"silent server: unreachable after the step timeout",
	    {F_SILENT(5000)}, .timeout_ms = 300,
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_BANNER,
	    .error = "timed out after 300 ms waiting for the banner", .min_ms = 295, .max_ms = 1500},
	{"no EHLO reply: unreachable after the step timeout",
	    {BANNER, F_EXPECT("EHLO", NULL), F_SILENT(5000)}, .timeout_ms = 300,
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_EHLO, .banner = BANNER_TEXT,
	    .error = "timed out after 300 ms waiting for the EHLO reply", .min_ms = 295, .max_ms = 1500},
	{"connection refused: unreachable",
	    {F_CLOSE}, .refused = true,
	    .class = PROBE_UNREACHABLE, .stage = PROBE_STAGE_CONNECT, .error = "connect: Connection refused"},
	{"IPv6 ::1: plaintext",
	    {BANNER, EHLO_PLAIN, QUIT}, .v6 = true,
	    .class = PROBE_PLAINTEXT, .stage = PROBE_STAGE_DONE, .banner = BANNER_TEXT},

	/* STARTTLS going wrong */
	{"STARTTLS answered 454: tls-failed",
	    {BANNER, EHLO_TLS, F_EXPECT("STARTTLS", "454 4.7.0 TLS not available\r\n")},
	    .class = PROBE_TLS_FAILED, .stage = PROBE_STAGE_STARTTLS, .error = "STARTTLS refused: 454 4.7.0 TLS not available",
	    .starttls = true, .banner = BANNER_TEXT},
	{"STARTTLS answered by a hang-up: tls-failed",
	    {BANNER, EHLO_TLS, F_EXPECT("STARTTLS", NULL)},
	    .class = PROBE_TLS_FAILED, .stage = PROBE_STAGE_STARTTLS, .error = "STARTTLS: connection closed",
	    .starttls = true, .banner = BANNER_TEXT},
	{"STARTTLS 220, then plain text: TLS handshake error",
	    {BANNER, EHLO_TLS, GO_TLS, F_SILENT(100), F_SEND("220 this is not TLS\r\n"), F_SILENT(1000)},
	    .class = PROBE_TLS_FAILED, .stage = PROBE_STAGE_HANDSHAKE, .error = "TLS handshake: error:",
	    .starttls = true, .banner = BANNER_TEXT},
	{"STARTTLS 220, then a hang-up: TLS handshake error",
	    {BANNER, EHLO_TLS, GO_TLS, F_SILENT(100)},
	    .class = PROBE_TLS_FAILED, .stage = PROBE_STAGE_HANDSHAKE, .error = "TLS handshake: ",
	    .starttls = true, .banner = BANNER_TEXT},
	{"STARTTLS 220, then silence: handshake timeout",
	    {BANNER, EHLO_TLS, GO_TLS, F_SILENT(5000)}, .timeout_ms = 300,
	    .class = PROBE_TLS_FAILED, .stage = PROBE_STAGE_HANDSHAKE,
	    .error = "timed out after 300 ms waiting for the TLS handshake", .starttls = true, .banner = BANNER_TEXT,
	    .min_ms = 295, .max_ms = 1500},
	{"bytes injected after the 220 to STARTTLS never reach TLS",
	    {BANNER, EHLO_TLS, F_EXPECT("STARTTLS", "220 2.0.0 go ahead\r\n250-INJECTED\r\n250 ALSO INJECTED\r\n"),
	    F_TLS(&leaf), QUIT},
	    .class = PROBE_UNTRUSTED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true, .absent = "INJECTED"},
	{"starttls in lower case is an offer",
	    {BANNER, F_EXPECT("EHLO", "250-mx.test\r\n250 starttls\r\n"), GO_TLS, F_TLS(&leaf), QUIT},
	    .class = PROBE_UNTRUSTED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true},

	/* TLS: PKIX */
	{"self-signed, no TLSA: untrusted",
	    {TLS_SESSION(&leaf)},
	    .class = PROBE_UNTRUSTED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true,
	    .shows = "> EHLO probe.test\n< 250-mx.test\n< 250-PIPELINING\n< 250 STARTTLS\n> STARTTLS\n"
	    "< 220 2.0.0 go ahead\n> QUIT\n"},
	{"issued by a CA in the CA file, name matches: verified",
	    {TLS_SESSION(&chained)}, .trust = true,
	    .class = PROBE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&chained, &ca}, .pkix_ok = true, .name_ok = true},
	{"issued by a CA in the CA file, another name: trusted",
	    {TLS_SESSION(&chained)}, .trust = true, .host = "wrong.test",
	    .class = PROBE_TRUSTED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&chained, &ca}, .pkix_ok = true},
	{"self-signed and in the CA file: verified",
	    {TLS_SESSION(&leaf)}, .trust = true,
	    .class = PROBE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .pkix_ok = true, .name_ok = true},

	{"anonymous TLS (no certificate): anonymous",
	    {BANNER, EHLO_TLS, GO_TLS, F_TLS(NULL), QUIT},
	    .class = PROBE_ANONYMOUS, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT, .anonymous = true},
	{"anonymous TLS only, with a 3 1 1: tls-failed (DANE wants a certificate)",
	    {BANNER, EHLO_TLS, GO_TLS, F_TLS(NULL)}, .tlsa = {{3, 1, 1, &leaf}},
	    .class = PROBE_TLS_FAILED, .stage = PROBE_STAGE_HANDSHAKE, .error = "TLS handshake: error:", .starttls = true,
	    .banner = BANNER_TEXT, .tlsa_usable = 1, .server_fails = true},

	/* TLS: DANE */
	{"3 1 1 matching: dane-verified at depth 0",
	    {TLS_SESSION(&leaf)}, .tlsa = {{3, 1, 1, &leaf}},
	    .class = PROBE_DANE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true, .tlsa_usable = 1, .matches = 1, .dane_depth = 0},
	{"3 1 1 not matching: dane-mismatch",
	    {TLS_SESSION(&leaf)}, .tlsa = {{3, 1, 1, &other}},
	    .class = PROBE_DANE_MISMATCH, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true, .tlsa_usable = 1},
	{"only 1 1 1 (PKIX-EE, not for SMTP): unusable, untrusted",
	    {TLS_SESSION(&leaf)}, .tlsa = {{1, 1, 1, &leaf}},
	    .class = PROBE_UNTRUSTED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true},
	{"only 0 0 1 (PKIX-TA) of the CA in the CA file: unusable, verified by PKIX",
	    {TLS_SESSION(&chained)}, .trust = true, .tlsa = {{0, 0, 1, &ca}},
	    .class = PROBE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&chained, &ca}, .pkix_ok = true, .name_ok = true},
	{"3 0 1 (certificate SHA-256): dane-verified",
	    {TLS_SESSION(&leaf)}, .tlsa = {{3, 0, 1, &leaf}},
	    .class = PROBE_DANE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true, .tlsa_usable = 1, .matches = 1, .dane_depth = 0},
	{"3 1 2 (SPKI SHA-512): dane-verified",
	    {TLS_SESSION(&leaf)}, .tlsa = {{3, 1, 2, &leaf}},
	    .class = PROBE_DANE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true, .tlsa_usable = 1, .matches = 1, .dane_depth = 0},
	{"3 0 0 (the whole certificate): dane-verified",
	    {TLS_SESSION(&leaf)}, .tlsa = {{3, 0, 0, &leaf}},
	    .class = PROBE_DANE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true, .tlsa_usable = 1, .matches = 1, .dane_depth = 0},
	{"a 3 1 1 that does not match and one that does: dane-verified",
	    {TLS_SESSION(&leaf)}, .tlsa = {{3, 1, 1, &other}, {3, 1, 1, &leaf}},
	    .class = PROBE_DANE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true, .tlsa_usable = 2, .matches = 2, .dane_depth = 0},
	{"a 1 1 1 that matches and a 3 1 1 that does not: dane-mismatch",
	    {TLS_SESSION(&leaf)}, .tlsa = {{1, 1, 1, &leaf}, {3, 1, 1, &other}},
	    .class = PROBE_DANE_MISMATCH, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&leaf}, .name_ok = true, .tlsa_usable = 1},
	{"3 1 1, expired certificate: dane-verified (DANE-EE ignores dates)",
	    {TLS_SESSION(&expired)}, .tlsa = {{3, 1, 1, &expired}},
	    .class = PROBE_DANE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&expired}, .name_ok = true, .tlsa_usable = 1, .matches = 1, .dane_depth = 0},
	{"3 1 1, certificate for another name: dane-verified (DANE-EE ignores names)",
	    {TLS_SESSION(&other)}, .tlsa = {{3, 1, 1, &other}},
	    .class = PROBE_DANE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&other}, .tlsa_usable = 1, .matches = 1, .dane_depth = 0},
	{"2 1 1 of the issuing CA: dane-verified at depth 1",
	    {TLS_SESSION(&chained)}, .tlsa = {{2, 1, 1, &ca}},
	    .class = PROBE_DANE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&chained, &ca}, .name_ok = true, .tlsa_usable = 1, .matches = 1, .dane_depth = 1},
	{"2 1 1 of the CA, the host not in the certificate: dane-mismatch (DANE-TA checks names)",
	    {TLS_SESSION(&chained)}, .host = "wrong.test", .tlsa = {{2, 1, 1, &ca}},
	    .class = PROBE_DANE_MISMATCH, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&chained, &ca}, .tlsa_usable = 1, .dane_error = "mismatch"},
	{"2 1 1 of the CA, expired certificate: dane-mismatch (DANE-TA checks dates)",
	    {TLS_SESSION(&chained_expired)}, .tlsa = {{2, 1, 1, &ca}},
	    .class = PROBE_DANE_MISMATCH, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&chained_expired, &ca}, .name_ok = true, .tlsa_usable = 1, .dane_error = "expired"},
	{"2 1 1 of the CA, MX an alias of the TLSA base: the base name counts",
	    {TLS_SESSION(&chained)}, .host = "alias.test", .tlsa_base = "mx.test", .tlsa = {{2, 1, 1, &ca}},
	    .class = PROBE_DANE_VERIFIED, .stage = PROBE_STAGE_DONE, .starttls = true, .banner = BANNER_TEXT,
	    .shown = {&chained, &ca}, .tlsa_usable = 1, .matches = 1, .dane_depth = 1},
};

/* ---- running a row ---------------------------------------------------- */

/* What one run left, copied so that the probe and the server are gone
 * before any assertion can fail. */
static struct outcome {
	struct probe_result r;		/* transcript and DER not kept */
	char transcript[8200];
	char server[16384];
	bool skipped;
	char why[160];
} out;

static struct probe_env *
make_env(bool trust, unsigned timeout_ms, bool keep_certs)
{
	struct probe_env_settings s = {
		.ca_file = trust ? trusted_pem : untrusted_pem,
		.helo_name = "probe.test",
		.step_timeout_ms = timeout_ms ? timeout_ms : 5000,
		.max_reply = PROBE_MAX_REPLY,
		.keep_certs = keep_certs,
	};
	char err[256];
	struct probe_env *env = probe_env_new(&s, err, sizeof(err));

	if (!env)
		fprintf(stderr, "probe_env_new: %s\n", err);
	return env;
}

static void
keep(const struct probe_result *r)
{
	out.r = *r;
	snprintf(out.transcript, sizeof(out.transcript), "%.*s", (int)buf_size(&r->transcript), buf_ptr(&r->transcript));
	memset(&out.r.transcript, 0, sizeof(out.r.transcript));
	for (size_t i = 0; i < out.r.ncerts; i++)
		out.r.certs[i].der = NULL;
}

static void
run_row(const struct probe_case *c)
{
	struct fake_smtp *f = NULL;
	struct probe_target t;
	struct probe_tlsa tlsa[3];
	unsigned char data[3][2048];

	memset(&out, 0, sizeof(out));
	memset(&t, 0, sizeof(t));
	snprintf(t.host, sizeof(t.host), "%s", c->host ? c->host : "mx.test");
	snprintf(t.tlsa_base, sizeof(t.tlsa_base), "%s", c->tlsa_base ? c->tlsa_base : "");
	netaddr_parse(c->v6 ? "::1" : "127.0.0.1", &t.address);
	for (; t.ntlsa < 3 && c->tlsa[t.ntlsa].of; t.ntlsa++) {
		const struct tlsa_spec *s = &c->tlsa[t.ntlsa];
		tlsa[t.ntlsa] = (struct probe_tlsa){s->usage, s->selector, s->mtype,
		    fake_cert_tlsa(s->of, s->selector, s->mtype, data[t.ntlsa], sizeof(data[0])), data[t.ntlsa]};
	}
	t.tlsa = tlsa;
	if (c->refused) {
		t.port = closed_port;
	} else if (!(f = fake_smtp_start(c->v6 ? "::1" : "127.0.0.1", c->script))) {
		out.skipped = true;
		snprintf(out.why, sizeof(out.why), "cannot listen on %s: %s", c->v6 ? "::1" : "127.0.0.1", strerror(errno));
		return;
	} else {
		t.port = fake_smtp_port(f);
	}
	struct probe_env *env = make_env(c->trust, c->timeout_ms, false);
	struct probe *p = env ? probe_new(env, &t) : NULL;
	if (p)
		keep(probe_run_blocking(p));
	probe_free(p);
	probe_env_free(env);
	if (f) {
		fake_smtp_stop(f);
		snprintf(out.server, sizeof(out.server), "%s", fake_smtp_log(f));
		fake_smtp_free(f);
	}
	if (!p) {
		out.skipped = true;
		snprintf(out.why, sizeof(out.why), "cannot set up the probe");
	}
}

/* Every line "< " or "> "; none twice unless the server repeated itself. */
static void
check_transcript(const char *text, bool repeats)
{
	const char *lines[512];
	size_t n = 0, lens[512];

	for (const char *p = text; *p && n < 512;) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		lines[n] = p;
		lens[n++] = (size_t)(nl - p);
		if (strncmp(p, "< ", 2) != 0 && strncmp(p, "> ", 2) != 0) {
			print_error("transcript line \"%.*s\" starts with neither \"< \" nor \"> \"\n", (int)(nl - p), p);
			fail();
		}
		p = nl + 1;
	}
	for (size_t i = 0; !repeats && i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (lens[i] == lens[j] && memcmp(lines[i], lines[j], lens[i]) == 0) {
				print_error("transcript line \"%.*s\" appears twice:\n%s", (int)lens[i], lines[i], text);
				fail();
			}
}

static bool
script_has(const struct fake_step *s, enum fake_op op, const char *text)
{
	for (; s->op != FAKE_CLOSE; s++)
		if (s->op == op && (!text || (s->text && strcmp(s->text, text) == 0)))
			return true;
	return false;
}

static void
test_case(void **state)
{
	const struct probe_case *c = *state;
	const struct probe_result *r = &out.r;

	run_row(c);
	if (out.skipped) {
		/* Not skip(): cmocka 1.1 prints "not ok # SKIP", which automake's
		 * TAP driver counts as a failure. */
		print_message("# SKIP %s: %s\n", c->name, out.why);
		return;
	}
	if (r->class != c->class) {
		print_error("class %s, expected %s; error \"%s\", dane_error \"%s\"\ntranscript:\n%sserver:\n%s",
		    probe_class_name(r->class), probe_class_name(c->class), r->error, r->dane_error, out.transcript,
		    out.server);
		fail();
	}
	assert_string_equal(probe_stage_name(r->stage), probe_stage_name(c->stage));
	if (c->error)
		assert_contains(r->error, c->error);
	else
		assert_string_equal(r->error, "");
	assert_int_equal(r->starttls_offered, c->starttls);
	assert_string_equal(r->banner, c->banner ? c->banner : "");
	assert_printable(r->error);
	assert_printable(r->banner);
	unsigned max_ms = c->max_ms ? c->max_ms : 4000;
	if (r->duration_ms < c->min_ms || r->duration_ms > max_ms) {
		print_error("duration %llu ms, expected %u to %u\n", (unsigned long long)r->duration_ms, c->min_ms, max_ms);
		fail();
	}

	/* The transcript, and what the server saw of the dialogue. */
	check_transcript(out.transcript, c->repeats);
	if (c->shows)
		assert_contains(out.transcript, c->shows);
	if (c->absent)
		assert_lacks(out.transcript, c->absent);
	if (r->stage > PROBE_STAGE_BANNER) {
		assert_contains(out.transcript, "> EHLO probe.test\n");
		assert_contains(out.server, "< EHLO probe.test\n");
	}
	if (r->stage == PROBE_STAGE_DONE && script_has(c->script, FAKE_EXPECT, "QUIT"))
		assert_contains(out.server, "< QUIT\n");
	if (!c->server_fails)
		assert_lacks(out.server, "! ");

	/* TLS */
	if (c->anonymous) {
		assert_contains(out.server, "tls sni=mx.test\n");
		assert_string_equal(r->protocol, "TLSv1.2");
		assert_true(r->cipher[0] != '\0');
		assert_int_equal(r->ncerts, 0);
		assert_false(r->pkix_ok);
		assert_false(r->name_ok);
		assert_int_equal(r->dane_depth, -1);
		return;
	}
	if (!c->shown[0]) {
		assert_string_equal(r->protocol, "");
		assert_int_equal(r->ncerts, 0);
		assert_int_equal(r->tlsa_usable, c->tlsa_usable);	/* counted before the handshake */
		assert_int_equal(r->dane_depth, -1);
		return;
	}
	char sni[300];
	snprintf(sni, sizeof(sni), "tls sni=%s\n", c->host ? c->host : "mx.test");
	assert_contains(out.server, sni);
	assert_true(r->protocol[0] != '\0');
	assert_true(r->cipher[0] != '\0');
	assert_int_equal(r->ncerts, c->shown[1] ? 2 : 1);
	for (size_t i = 0; i < r->ncerts; i++) {
		char spki[65], cert[65];
		fake_cert_sha256_hex(c->shown[i], 1, spki);
		fake_cert_sha256_hex(c->shown[i], 0, cert);
		assert_string_equal(r->certs[i].spki_sha256, spki);
		assert_string_equal(r->certs[i].cert_sha256, cert);
		assert_true(r->certs[i].subject[0] != '\0');
		assert_true(r->certs[i].not_after[0] != '\0');
	}
	assert_int_equal(r->pkix_ok, c->pkix_ok);
	assert_int_equal(r->pkix_error[0] == '\0', c->pkix_ok);
	assert_int_equal(r->name_ok, c->name_ok);
	assert_int_equal(r->tlsa_usable, c->tlsa_usable);
	if (c->matches) {
		const struct tlsa_spec *s = &c->tlsa[c->matches - 1];
		unsigned char d[2048];
		size_t len = fake_cert_tlsa(s->of, s->selector, s->mtype, d, sizeof(d));
		char want[160];
		int n = snprintf(want, sizeof(want), "%u %u %u ", s->usage, s->selector, s->mtype);
		for (size_t i = 0; i < len && i < 32; i++)
			n += snprintf(want + n, sizeof(want) - (size_t)n, "%02x", d[i]);
		snprintf(want + n, sizeof(want) - (size_t)n, "%s", len > 32 ? "..." : "");
		assert_string_equal(r->dane_match, want);
		assert_int_equal(r->dane_depth, c->dane_depth);
		assert_string_equal(r->dane_error, "");
	} else {
		assert_string_equal(r->dane_match, "");
		assert_int_equal(r->dane_depth, -1);
		if (c->tlsa_usable)
			assert_true(r->dane_error[0] != '\0');
		if (c->dane_error)
			assert_contains(r->dane_error, c->dane_error);
	}
}

/* ---- by hand: probe_start, probe_run, probe_expire on a fake clock ---- */

/* Runs the probe at the fake time `now` until it is done or the server
 * has been quiet for 200 ms; returns what the probe waits for. */
static int
drive(struct probe *p, int want, uint64_t now)
{
	while (want != PROBE_DONE) {
		struct pollfd pfd = {probe_fd(p), want == PROBE_WANT_READ ? POLLIN : POLLOUT, 0};
		if (poll(&pfd, 1, 200) == 0)
			break;
		want = probe_run(p, now);
	}
	return want;
}

struct hand_case {
	const char *name;
	struct fake_step script[6];
	enum probe_class class;
	enum probe_stage stage;
	const char *error;
	bool starttls;
};

static const char *
hand_case_name(const void *row)
{
	return ((const struct hand_case *)row)->name;
}

static const struct hand_case hand_cases[] = {
	{"by hand: expired waiting for the banner",
	    {F_SILENT(3000)},
	    PROBE_UNREACHABLE, PROBE_STAGE_BANNER, "timed out after 5000 ms waiting for the banner", false},
	{"by hand: expired waiting for the EHLO reply",
	    {BANNER, F_EXPECT("EHLO", NULL), F_SILENT(3000)},
	    PROBE_UNREACHABLE, PROBE_STAGE_EHLO, "timed out after 5000 ms waiting for the EHLO reply", false},
	{"by hand: expired waiting for the STARTTLS reply",
	    {BANNER, EHLO_TLS, F_EXPECT("STARTTLS", NULL), F_SILENT(3000)},
	    PROBE_TLS_FAILED, PROBE_STAGE_STARTTLS, "timed out after 5000 ms waiting for the STARTTLS reply", true},
	{"by hand: expired in the TLS handshake",
	    {BANNER, EHLO_TLS, GO_TLS, F_SILENT(3000)},
	    PROBE_TLS_FAILED, PROBE_STAGE_HANDSHAKE, "timed out after 5000 ms waiting for the TLS handshake", true},
};

static void
test_by_hand(void **state)
{
	const struct hand_case *c = *state;
	struct fake_smtp *f = fake_smtp_start("127.0.0.1", c->script);
	struct probe_env *env = make_env(false, 5000, false);
	struct probe_target t = {.host = "mx.test"};

	assert_non_null(f);
	assert_non_null(env);
	netaddr_parse("127.0.0.1", &t.address);
	t.port = fake_smtp_port(f);
	struct probe *p = probe_new(env, &t);
	assert_non_null(p);

	int want = probe_start(p, 1000);
	assert_int_equal(want, PROBE_WANT_WRITE);
	assert_true(probe_fd(p) >= 0);
	assert_int_equal(probe_deadline(p), 6000);
	/* Every step starts at 2000 on this clock: its deadline is 7000. */
	want = drive(p, want, 2000);
	assert_int_equal(want, PROBE_WANT_READ);
	assert_int_equal(probe_deadline(p), 7000);
	probe_expire(p, 7000);
	const struct probe_result *r = probe_result(p);
	assert_string_equal(probe_class_name(r->class), probe_class_name(c->class));
	assert_string_equal(probe_stage_name(r->stage), probe_stage_name(c->stage));
	assert_string_equal(r->error, c->error);
	assert_int_equal(r->starttls_offered, c->starttls);
	assert_int_equal(r->duration_ms, 6000);
	assert_int_equal(probe_fd(p), -1);
	/* Done is done: running or expiring again changes nothing. */
	assert_int_equal(probe_run(p, 9000), PROBE_DONE);
	probe_expire(p, 9000);
	assert_int_equal(r->duration_ms, 6000);
	assert_string_equal(r->error, c->error);
	probe_free(p);
	probe_env_free(env);
	fake_smtp_free(f);
}

/* Expired before the connection completed: "connecting". */
static void
test_expire_connecting(void **state)
{
	static const struct fake_step script[] = {BANNER, F_CLOSE};
	struct fake_smtp *f = fake_smtp_start("127.0.0.1", script);
	struct probe_env *env = make_env(false, 5000, false);
	struct probe_target t = {.host = "mx.test"};

	assert_non_null(f);
	assert_non_null(env);
	netaddr_parse("127.0.0.1", &t.address);
	t.port = fake_smtp_port(f);
	struct probe *p = probe_new(env, &t);
	assert_int_equal(probe_start(p, 1000), PROBE_WANT_WRITE);
	probe_expire(p, 6000);
	const struct probe_result *r = probe_result(p);
	assert_string_equal(probe_class_name(r->class), "unreachable");
	assert_string_equal(probe_stage_name(r->stage), "connect");
	assert_string_equal(r->error, "timed out after 5000 ms waiting for connecting");
	assert_int_equal(r->duration_ms, 5000);
	assert_string_equal(r->banner, "");
	assert_int_equal(probe_fd(p), -1);
	probe_free(p);
	probe_env_free(env);
	fake_smtp_free(f);
}

/* ---- handshakes restricted to one key type ------------------------------ */

struct key_case {
	const char *name;
	const struct fake_cert *server;	/* what the server holds */
	bool tls12;			/* the server stops at TLS 1.2 */
	enum probe_key_type offer;
	const struct fake_cert *want;	/* the leaf presented; NULL: the handshake fails */
};

static const char *
key_case_name(const void *row)
{
	return ((const struct key_case *)row)->name;
}

static const struct key_case key_cases[] = {
	{"key type: RSA and ECDSA, TLS 1.3, RSA offered", &dual, false, PROBE_KEY_RSA, &rsa_leaf},
	{"key type: RSA and ECDSA, TLS 1.3, ECDSA offered", &dual, false, PROBE_KEY_ECDSA, &leaf},
	{"key type: RSA and ECDSA, TLS 1.2, RSA offered", &dual, true, PROBE_KEY_RSA, &rsa_leaf},
	{"key type: RSA and ECDSA, TLS 1.2, ECDSA offered", &dual, true, PROBE_KEY_ECDSA, &leaf},
	{"key type: ECDSA alone, TLS 1.3, RSA offered: no handshake", &leaf, false, PROBE_KEY_RSA, NULL},
	{"key type: ECDSA alone, TLS 1.2, RSA offered: no handshake", &leaf, true, PROBE_KEY_RSA, NULL},
	{"key type: RSA alone, TLS 1.3, ECDSA offered: no handshake", &rsa_leaf, false, PROBE_KEY_ECDSA, NULL},
	{"key type: RSA alone, TLS 1.3, any offered", &rsa_leaf, false, PROBE_KEY_ANY, &rsa_leaf},
	{"key type: RSA alone, TLS 1.2, RSA offered", &rsa_leaf, true, PROBE_KEY_RSA, &rsa_leaf},
};

/* The server picks the certificate of the key type offered, in TLS 1.3
 * (by signature algorithm) and TLS 1.2 (by cipher suite) alike; with a
 * TLSA record for the other key, the probe then reports a mismatch. */
static void
test_key_type(void **state)
{
	const struct key_case *c = *state;
	const struct fake_step script[] = {BANNER, EHLO_TLS, GO_TLS,
	    c->tls12 ? (struct fake_step)F_TLS12(c->server) : (struct fake_step)F_TLS(c->server), QUIT, F_CLOSE};
	struct fake_smtp *f = fake_smtp_start("127.0.0.1", script);
	struct probe_env *env = make_env(false, 5000, false);
	struct probe_target t = {.host = "mx.test", .ntlsa = 1, .key_type = c->offer};
	unsigned char data[64];
	struct probe_tlsa rec = {3, 1, 1, fake_cert_tlsa(&leaf, 1, 1, data, sizeof(data)), data};
	char want[65];

	assert_non_null(f);
	assert_non_null(env);
	netaddr_parse("127.0.0.1", &t.address);
	t.port = fake_smtp_port(f);
	t.tlsa = &rec;
	struct probe *p = probe_new(env, &t);
	assert_non_null(p);
	const struct probe_result *r = probe_run_blocking(p);
	memset(&out, 0, sizeof(out));
	keep(r);
	probe_free(p);
	probe_env_free(env);
	fake_smtp_free(f);
	if (!c->want) {
		assert_string_equal(probe_class_name(out.r.class), "tls-failed");
		assert_int_equal(out.r.ncerts, 0);
		return;
	}
	assert_true(out.r.ncerts >= 1);
	fake_cert_sha256_hex(c->want, 1, want);
	assert_string_equal(out.r.certs[0].spki_sha256, want);
	assert_string_equal(probe_class_name(out.r.class), c->want == &leaf ? "dane-verified" : "dane-mismatch");
	assert_string_equal(out.r.protocol, c->tls12 ? "TLSv1.2" : "TLSv1.3");
}

static void
test_key_type_names(void **state)
{
	(void)state;
	assert_string_equal(probe_key_type_name(PROBE_KEY_ANY), "any");
	assert_string_equal(probe_key_type_name(PROBE_KEY_RSA), "RSA");
	assert_string_equal(probe_key_type_name(PROBE_KEY_ECDSA), "ECDSA");
	assert_string_equal(probe_key_type_name((enum probe_key_type)7), "unknown");
}

/* ---- the rest ---------------------------------------------------------- */

struct word_case {
	enum probe_class class;
	const char *name, *word;
};

static const char *
word_case_name(const void *row)
{
	static char names[PROBE_CLASS_COUNT + 1][64];
	const struct word_case *c = row;
	unsigned i = (unsigned)c->class < PROBE_CLASS_COUNT ? (unsigned)c->class : PROBE_CLASS_COUNT;

	snprintf(names[i], sizeof(names[i]), "postfix word of %s", c->name);
	return names[i];
}

static const struct word_case word_cases[] = {
	{PROBE_PLAINTEXT, "plaintext", NULL},
	{PROBE_TLS_FAILED, "tls-failed", NULL},
	{PROBE_ANONYMOUS, "anonymous", "Anonymous"},
	{PROBE_UNTRUSTED, "untrusted", "Untrusted"},
	{PROBE_TRUSTED, "trusted", "Trusted"},
	{PROBE_VERIFIED, "verified", "Verified"},
	{PROBE_DANE_VERIFIED, "dane-verified", "Verified"},
	{PROBE_DANE_MISMATCH, "dane-mismatch", "Untrusted"},
	{PROBE_UNREACHABLE, "unreachable", NULL},
	{PROBE_CLASS_COUNT, "unknown", NULL},
};

static void
test_postfix_word(void **state)
{
	const struct word_case *c = *state;
	const char *word = probe_class_postfix_word(c->class);

	assert_string_equal(probe_class_name(c->class), c->name);
	if (c->word)
		assert_string_equal(word, c->word);
	else
		assert_null(word);
}

static void
test_stage_names(void **state)
{
	static const char *const names[] = {"connect", "banner", "ehlo", "starttls", "handshake", "quit", "done"};

	for (int s = PROBE_STAGE_CONNECT; s <= PROBE_STAGE_DONE; s++)
		assert_string_equal(probe_stage_name((enum probe_stage)s), names[s]);
	assert_string_equal(probe_stage_name((enum probe_stage)(PROBE_STAGE_DONE + 1)), "unknown");
}

/* probe_new() copies the TLSA records: the caller's may go at once. */
static void
test_tlsa_copied(void **state)
{
	static const struct fake_step script[] = {TLS_SESSION(&leaf), F_CLOSE};
	struct fake_smtp *f = fake_smtp_start("127.0.0.1", script);
	struct probe_env *env = make_env(false, 5000, false);
	struct probe_target t = {.host = "mx.test", .ntlsa = 1};
	struct probe_tlsa *rec = calloc(1, sizeof(*rec));
	unsigned char *data = malloc(64);

	assert_non_null(f);
	assert_non_null(env);
	netaddr_parse("127.0.0.1", &t.address);
	t.port = fake_smtp_port(f);
	*rec = (struct probe_tlsa){3, 1, 1, fake_cert_tlsa(&leaf, 1, 1, data, 64), data};
	t.tlsa = rec;
	struct probe *p = probe_new(env, &t);
	memset(data, 0, 64);
	free(data);
	free(rec);
	const struct probe_result *r = probe_run_blocking(p);
	assert_string_equal(probe_class_name(r->class), "dane-verified");
	assert_true(probe_target(p)->tlsa != NULL && probe_target(p)->tlsa != rec);
	probe_free(p);
	probe_env_free(env);
	fake_smtp_free(f);
}

/* keep_certs: the result holds each certificate's DER. */
static void
test_keep_certs(void **state)
{
	static const struct fake_step script[] = {TLS_SESSION(&chained), F_CLOSE};
	struct fake_smtp *f = fake_smtp_start("127.0.0.1", script);
	struct probe_env *env = make_env(false, 5000, true);
	struct probe_target t = {.host = "mx.test"};
	const struct fake_cert *sent[2] = {&chained, &ca};

	assert_non_null(f);
	assert_non_null(env);
	netaddr_parse("127.0.0.1", &t.address);
	t.port = fake_smtp_port(f);
	struct probe *p = probe_new(env, &t);
	const struct probe_result *r = probe_run_blocking(p);
	assert_int_equal(r->ncerts, 2);
	for (size_t i = 0; i < 2; i++) {
		unsigned char der[2048];
		size_t len = fake_cert_tlsa(sent[i], 0, 0, der, sizeof(der));
		assert_int_equal(r->certs[i].der_len, len);
		assert_memory_equal(r->certs[i].der, der, len);
	}
	/* A copy outlives the probe, certificates and transcript included. */
	struct probe_result copy;
	assert_int_equal(probe_result_copy(&copy, r), 0);
	size_t transcript_len = buf_size(&r->transcript);
	assert_true(transcript_len > 0);
	probe_free(p);
	assert_int_equal(copy.ncerts, 2);
	assert_int_equal(buf_size(&copy.transcript), transcript_len);
	for (size_t i = 0; i < 2; i++) {
		unsigned char der[2048];
		size_t len = fake_cert_tlsa(sent[i], 0, 0, der, sizeof(der));
		assert_int_equal(copy.certs[i].der_len, len);
		assert_memory_equal(copy.certs[i].der, der, len);
	}
	probe_result_release(&copy);
	probe_env_free(env);
	fake_smtp_free(f);
}

static void
test_env_bad_ca_file(void **state)
{
	struct probe_env_settings s = {.ca_file = "/nonexistent/ca.pem", .helo_name = "probe.test",
	    .step_timeout_ms = 1000, .max_reply = PROBE_MAX_REPLY};
	char err[256] = "";

	assert_null(probe_env_new(&s, err, sizeof(err)));
	assert_contains(err, "/nonexistent/ca.pem");
}

/* ---- main ------------------------------------------------------------- */

static int
make_certs(void)
{
	const struct fake_cert_spec specs[] = {
		{"mx.test", "DNS:mx.test", NULL, false, 0, 0},
		{"other.test", "DNS:other.test", NULL, false, 0, 0},
		{"mx.test", "DNS:mx.test", NULL, false, -30, -1},
		{"Fake Test CA", NULL, NULL, true, -1, 3650},
		{"mx.test", "DNS:mx.test", &ca, false, 0, 0},
		{"mx.test", "DNS:mx.test", &ca, false, -30, -1},
		{"Stranger CA", NULL, NULL, true, -1, 3650},
		{"mx.test", "DNS:mx.test", NULL, false, 0, 0, .rsa = true},
	};
	struct fake_cert *certs[] = {&leaf, &other, &expired, &ca, &chained, &chained_expired, &stranger, &rsa_leaf};

	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		if (fake_cert_make(certs[i], &specs[i]) < 0)
			return -1;
	/* The same key and certificate as leaf, not owned twice. */
	dual = leaf;
	dual.also = &rsa_leaf;
	if (!table_tmpdir(tmpdir, sizeof(tmpdir), "test_probe"))
		return -1;
	snprintf(untrusted_pem, sizeof(untrusted_pem), "%s/untrusted.pem", tmpdir);
	snprintf(trusted_pem, sizeof(trusted_pem), "%s/trusted.pem", tmpdir);
	if (fake_cert_write_pem(&stranger, untrusted_pem) < 0 || fake_cert_write_pem(&leaf, trusted_pem) < 0 ||
	    fake_cert_write_pem(&ca, trusted_pem) < 0)
		return -1;
	closed_port = fake_closed_port(&closed_fd);
	return closed_port ? 0 : -1;
}

static void
free_certs(void)
{
	struct fake_cert *certs[] = {&leaf, &other, &expired, &ca, &chained, &chained_expired, &stranger, &rsa_leaf};

	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		fake_cert_free(certs[i]);
	unlink(untrusted_pem);
	unlink(trusted_pem);
	rmdir(tmpdir);
	if (closed_fd >= 0)
		close(closed_fd);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_stage_names),
		cmocka_unit_test(test_expire_connecting),
		cmocka_unit_test(test_tlsa_copied),
		cmocka_unit_test(test_keep_certs),
		cmocka_unit_test(test_env_bad_ca_file),
		cmocka_unit_test(test_key_type_names),
	};
	struct table t = {0};

	if (make_certs() < 0) {
		fprintf(stderr, "cannot make the test certificates\n");
		return 1;
	}
	TABLE_ADD(&t, cases, probe_case, test_case);
	TABLE_ADD(&t, hand_cases, hand_case, test_by_hand);
	TABLE_ADD(&t, word_cases, word_case, test_postfix_word);
	TABLE_ADD(&t, key_cases, key_case, test_key_type);
	TABLE_TESTS(&t, more);
	int rc = table_run(&t, "probe");
	free_certs();
	return rc;
}
