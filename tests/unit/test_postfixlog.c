/* Unit tests: the Postfix log parser, one row per line of tests/logwatch
 * (recorded in the lab, or hand-written: see tests/logwatch/README.md),
 * each checking the kind and every field; hostile lines; and that every
 * line of those files has its row here. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postfix/postfixlog.h"
#include "table.h"

struct line_case {
	const char *name;
	const char *line;
	size_t len;			/* 0: strlen(line); for lines with NUL bytes */
	enum postfixlog_kind kind;
	const char *program;
	unsigned long pid;
	const char *queue_id, *trust, *host, *addr;
	unsigned port;
	const char *rcpt_domain, *dsn, *status, *tls, *text;
};

/* Long names and texts, built by the compiler. */
#define A10 "aaaaaaaaaa"
#define A100 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10
#define A1000 A100 A100 A100 A100 A100 A100 A100 A100 A100 A100
#define A2000 A1000 A1000
#define A63 A10 A10 A10 A10 A10 A10 "aaa"
#define H253 A63 "." A63 "." A63 "." A10 A10 A10 A10 A10 A10 "a"
#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X255 X100 X100 X10 X10 X10 X10 X10 "xxxxx"
#define X300 X100 X100 X100

#define P "Nov 24 18:50:09 sender "
#define TLS "postfix/smtp[666]: Verified TLS connection established to "
#define DL "postfix/smtp[666]: 0A1B2C3D4E: to=<user@good.test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.1, " \
	"delays=0/0/0/0, "
#define NONE_ROW(name, line) {name, line, 0, POSTFIXLOG_NONE, "", 0, "", "", "", "", 0, "", "", "", "", ""}
#define NONE_ROWN(name, line) {name, line, sizeof(line) - 1, POSTFIXLOG_NONE, "", 0, "", "", "", "", 0, "", "", "", "", ""}

static const struct line_case line_cases[] = {
	/* Recorded in the lab and hand-written: the .log files of tests/logwatch. */
	{"deliveries.log:15 tls-established Verified mx1.good.test",
	    "Nov 24 18:50:09 sender postfix/smtp[23977]: Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 23977, "", "Verified", "mx1.good.test", "127.0.1.1", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"deliveries.log:19 cert-failed mx.wrongtlsa.test",
	    "Nov 24 18:50:09 sender postfix/smtp[23988]: server certificate verification failed for mx.wrongtlsa.test[127.0.1.2]:25: num=65:no matching DANE TLSA records",
	    0, POSTFIXLOG_CERT_FAILED, "postfix/smtp", 23988, "", "", "mx.wrongtlsa.test", "127.0.1.2", 25, "", "", "", "",
	    "num=65:no matching DANE TLSA records"},
	{"deliveries.log:20 tls-established Untrusted mx.wrongtlsa.test",
	    "Nov 24 18:50:09 sender postfix/smtp[23988]: Untrusted TLS connection established to mx.wrongtlsa.test[127.0.1.2]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 23988, "", "Untrusted", "mx.wrongtlsa.test", "127.0.1.2", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"deliveries.log:21 delivery wrongtlsa.test deferred 4.7.5",
	    "Nov 24 18:50:09 sender postfix/smtp[23988]: 01E49A742FF: to=<user@wrongtlsa.test>, relay=mx.wrongtlsa.test[127.0.1.2]:25, delay=0.11, delays=0.01/0.03/0.06/0, dsn=4.7.5, status=deferred (Server certificate not verified)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 23988, "01E49A742FF", "", "mx.wrongtlsa.test", "127.0.1.2", 25, "wrongtlsa.test", "4.7.5", "deferred", "",
	    "Server certificate not verified"},
	{"deliveries.log:22 tls-established Trusted mx.wrongname.test",
	    "Nov 24 18:50:09 sender postfix/smtp[24001]: Trusted TLS connection established to mx.wrongname.test[127.0.1.11]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 24001, "", "Trusted", "mx.wrongname.test", "127.0.1.11", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"deliveries.log:23 tls-established Untrusted mx.selfsigned.test",
	    "Nov 24 18:50:09 sender postfix/smtp[23999]: Untrusted TLS connection established to mx.selfsigned.test[127.0.1.10]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 23999, "", "Untrusted", "mx.selfsigned.test", "127.0.1.10", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"deliveries.log:24 delivery good.test sent 2.0.0",
	    "Nov 24 18:50:09 sender postfix/smtp[23977]: F348FA74272: to=<user@good.test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.22, delays=0.02/0.03/0.06/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2B075A7430D)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 23977, "F348FA74272", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 2B075A7430D"},
	{"deliveries.log:26 tls-established Trusted mx.notlsa.test",
	    "Nov 24 18:50:09 sender postfix/smtp[23991]: Trusted TLS connection established to mx.notlsa.test[127.0.1.3]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 23991, "", "Trusted", "mx.notlsa.test", "127.0.1.3", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"deliveries.log:27 delivery selfsigned.test sent 2.0.0",
	    "Nov 24 18:50:09 sender postfix/smtp[23999]: 0FBE2A74303: to=<user@selfsigned.test>, relay=mx.selfsigned.test[127.0.1.10]:25, delay=0.16, delays=0.03/0.02/0.1/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2FCAFA7430E)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 23999, "0FBE2A74303", "", "mx.selfsigned.test", "127.0.1.10", 25, "selfsigned.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 2FCAFA7430E"},
	{"deliveries.log:28 delivery wrongname.test sent 2.0.0",
	    "Nov 24 18:50:09 sender postfix/smtp[24001]: 186AAA74306: to=<user@wrongname.test>, relay=mx.wrongname.test[127.0.1.11]:25, delay=0.12, delays=0/0.01/0.08/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 32C9BA7430F)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 24001, "186AAA74306", "", "mx.wrongname.test", "127.0.1.11", 25, "wrongname.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 32C9BA7430F"},
	{"deliveries.log:31 delivery notlsa.test sent 2.0.0",
	    "Nov 24 18:50:09 sender postfix/smtp[23991]: 070D4A74301: to=<user@notlsa.test>, relay=mx.notlsa.test[127.0.1.3]:25, delay=0.19, delays=0.01/0.04/0.14/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 34562A74303)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 23991, "070D4A74301", "", "mx.notlsa.test", "127.0.1.3", 25, "notlsa.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 34562A74303"},
	{"policy-errors.log:13 dnssec-off postfix/smtp",
	    "Nov 24 18:50:09 sender postfix/smtp[24134]: warning: DNSSEC validation may be unavailable",
	    0, POSTFIXLOG_DNSSEC_OFF, "postfix/smtp", 24134, "", "", "", "", 0, "", "", "", "",
	    "DNSSEC validation may be unavailable"},
	{"policy-errors.log:15 non-dnssec mx.insecure.test",
	    "Nov 24 18:50:09 sender postfix/smtp[24134]: warning: TLS policy lookup for insecure.test/mx.insecure.test: non DNSSEC destination",
	    0, POSTFIXLOG_NON_DNSSEC, "postfix/smtp", 24134, "", "", "mx.insecure.test", "", 0, "", "", "", "",
	    "TLS policy lookup for insecure.test/mx.insecure.test: non DNSSEC destination"},
	{"policy-errors.log:16 delivery insecure.test deferred 4.7.5",
	    "Nov 24 18:50:09 sender postfix/smtp[24134]: C7637A7430D: to=<user@insecure.test>, relay=none, delay=0.08, delays=0.03/0.04/0.01/0, dsn=4.7.5, status=deferred (non DNSSEC destination)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 24134, "C7637A7430D", "", "none", "", 0, "insecure.test", "4.7.5", "deferred", "",
	    "non DNSSEC destination"},
	{"policy-errors.log:19 tlsa-error mx.bogustlsa.test",
	    "Nov 24 18:50:09 sender postfix/smtp[24134]: warning: TLS policy lookup for bogustlsa.test/mx.bogustlsa.test: TLSA lookup error for mx.bogustlsa.test:25",
	    0, POSTFIXLOG_TLSA_ERROR, "postfix/smtp", 24134, "", "", "mx.bogustlsa.test", "", 25, "", "", "", "",
	    "TLS policy lookup for bogustlsa.test/mx.bogustlsa.test: TLSA lookup error for mx.bogustlsa.test:25"},
	{"policy-errors.log:21 delivery bogustlsa.test deferred 4.7.5",
	    "Nov 24 18:50:09 sender postfix/smtp[24134]: D156FA7430E: to=<user@bogustlsa.test>, relay=none, delay=0.05, delays=0.01/0.03/0.01/0, dsn=4.7.5, status=deferred (TLSA lookup error for mx.bogustlsa.test:25)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 24134, "D156FA7430E", "", "none", "", 0, "bogustlsa.test", "4.7.5", "deferred", "",
	    "TLSA lookup error for mx.bogustlsa.test:25"},
	{"policy-errors.log:22 delivery unsignedmx.test deferred 4.7.5",
	    "Nov 24 18:50:09 sender postfix/smtp[24143]: CAA0DA74104: to=<user@unsignedmx.test>, relay=none, delay=0.08, delays=0.01/0.06/0.01/0, dsn=4.7.5, status=deferred (no TLSA records found)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 24143, "CAA0DA74104", "", "none", "", 0, "unsignedmx.test", "4.7.5", "deferred", "",
	    "no TLSA records found"},
	{"policy-errors.log:23 tls-established Untrusted mx.wrongtlsa.test",
	    "Nov 24 18:50:09 sender postfix/smtp[24134]: Untrusted TLS connection established to mx.wrongtlsa.test[127.0.1.2]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 24134, "", "Untrusted", "mx.wrongtlsa.test", "127.0.1.2", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"policy-errors.log:24 delivery wrongtlsa.test sent 2.0.0",
	    "Nov 24 18:50:09 sender postfix/smtp[24134]: 01E49A742FF: to=<user@wrongtlsa.test>, relay=mx.wrongtlsa.test[127.0.1.2]:25, delay=0.91, delays=0.86/0.04/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as DE1CBA74313)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 24134, "01E49A742FF", "", "mx.wrongtlsa.test", "127.0.1.2", 25, "wrongtlsa.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as DE1CBA74313"},
	{"dnssec-off.log:14 delivery bogustlsa.test deferred 4.7.5",
	    "Nov 24 18:50:11 sender postfix/smtp[24358]: D156FA7430E: to=<user@bogustlsa.test>, relay=none, delay=1.3, delays=1.2/0.03/0/0, dsn=4.7.5, status=deferred (client TLS configuration problem)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 24358, "D156FA7430E", "", "none", "", 0, "bogustlsa.test", "4.7.5", "deferred", "",
	    "client TLS configuration problem"},
	{"dnssec-off.log:15 dnssec-off postfix/smtp",
	    "Nov 24 18:50:11 sender postfix/smtp[24363]: warning: DNSSEC validation may be unavailable",
	    0, POSTFIXLOG_DNSSEC_OFF, "postfix/smtp", 24363, "", "", "", "", 0, "", "", "", "",
	    "DNSSEC validation may be unavailable"},
	{"dnssec-off.log:17 tls-established Trusted mx.insecure.test",
	    "Nov 24 18:50:11 sender postfix/smtp[24358]: Trusted TLS connection established to mx.insecure.test[127.0.1.4]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 24358, "", "Trusted", "mx.insecure.test", "127.0.1.4", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"dnssec-off.log:18 tls-established Trusted mx.insecure.test",
	    "Nov 24 18:50:11 sender postfix/smtp[24363]: Trusted TLS connection established to mx.insecure.test[127.0.1.4]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 24363, "", "Trusted", "mx.insecure.test", "127.0.1.4", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"dnssec-off.log:19 delivery unsignedmx.test sent 2.0.0",
	    "Nov 24 18:50:11 sender postfix/smtp[24358]: CAA0DA74104: to=<user@unsignedmx.test>, relay=mx.insecure.test[127.0.1.4]:25, delay=1.4, delays=1.3/0.04/0.03/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 28AFBA74311)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 24358, "CAA0DA74104", "", "mx.insecure.test", "127.0.1.4", 25, "unsignedmx.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 28AFBA74311"},
	{"dnssec-off.log:20 tls-established Verified mx1.good.test",
	    "Nov 24 18:50:11 sender postfix/smtp[24366]: Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 24366, "", "Verified", "mx1.good.test", "127.0.1.1", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"dnssec-off.log:22 delivery good.test sent 2.0.0",
	    "Nov 24 18:50:11 sender postfix/smtp[24366]: 1597BA74318: to=<user@good.test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.11, delays=0.03/0.05/0.02/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2B3DDA74311)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 24366, "1597BA74318", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 2B3DDA74311"},
	{"dnssec-off.log:24 delivery insecure.test sent 2.0.0",
	    "Nov 24 18:50:11 sender postfix/smtp[24363]: C7637A7430D: to=<user@insecure.test>, relay=mx.insecure.test[127.0.1.4]:25, delay=1.4, delays=1.3/0.05/0.03/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2B9C7A74104)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 24363, "C7637A7430D", "", "mx.insecure.test", "127.0.1.4", 25, "insecure.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 2B9C7A74104"},
	{"auth-failing.log:6 tls-established Verified mx1.good.test",
	    "Nov 24 18:55:31 sender postfix/smtp[29329]: Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 29329, "", "Verified", "mx1.good.test", "127.0.1.1", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"auth-failing.log:7 delivery good.test sent 2.0.0",
	    "Nov 24 18:55:31 sender postfix/smtp[29329]: 2448EA743FE: to=<user@good.test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.09, delays=0.02/0.02/0.04/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 360DBA74403)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 29329, "2448EA743FE", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 360DBA74403"},
	{"auth-failing.log:17 cert-failed mx1.good.test",
	    "Nov 24 18:55:31 sender postfix/smtp[29444]: server certificate verification failed for mx1.good.test[127.0.1.1]:25: num=62:hostname mismatch",
	    0, POSTFIXLOG_CERT_FAILED, "postfix/smtp", 29444, "", "", "mx1.good.test", "127.0.1.1", 25, "", "", "", "",
	    "num=62:hostname mismatch"},
	{"auth-failing.log:18 tls-established Untrusted mx1.good.test",
	    "Nov 24 18:55:31 sender postfix/smtp[29444]: Untrusted TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 29444, "", "Untrusted", "mx1.good.test", "127.0.1.1", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"auth-failing.log:19 delivery good.test deferred 4.7.5",
	    "Nov 24 18:55:31 sender postfix/smtp[29444]: 86210A74405: to=<user@good.test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.04, delays=0.01/0.02/0/0, dsn=4.7.5, status=deferred (Server certificate not verified)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 29444, "86210A74405", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "4.7.5", "deferred", "",
	    "Server certificate not verified"},
	{"auth-failing.log:20 cert-failed mx.selfsigned.test",
	    "Nov 24 18:55:31 sender postfix/smtp[29444]: certificate verification failed for mx.selfsigned.test[127.0.1.10]:25: self-signed certificate",
	    0, POSTFIXLOG_CERT_FAILED, "postfix/smtp", 29444, "", "", "mx.selfsigned.test", "127.0.1.10", 25, "", "", "", "",
	    "self-signed certificate"},
	{"auth-failing.log:21 tls-established Untrusted mx.selfsigned.test",
	    "Nov 24 18:55:31 sender postfix/smtp[29444]: Untrusted TLS connection established to mx.selfsigned.test[127.0.1.10]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 29444, "", "Untrusted", "mx.selfsigned.test", "127.0.1.10", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"auth-failing.log:22 delivery selfsigned.test deferred 4.7.5",
	    "Nov 24 18:55:31 sender postfix/smtp[29444]: 87EE2A74406: to=<user@selfsigned.test>, relay=mx.selfsigned.test[127.0.1.10]:25, delay=0.05, delays=0/0.03/0.02/0, dsn=4.7.5, status=deferred (Server certificate not verified)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 29444, "87EE2A74406", "", "mx.selfsigned.test", "127.0.1.10", 25, "selfsigned.test", "4.7.5", "deferred", "",
	    "Server certificate not verified"},
	{"anonymous.log:9 tls-established Verified mx1.good.test",
	    "Nov 24 18:55:32 sender postfix/smtp[29639]: Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 29639, "", "Verified", "mx1.good.test", "127.0.1.1", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"anonymous.log:10 delivery good.test sent 2.0.0",
	    "Nov 24 18:55:32 sender postfix/smtp[29639]: 86210A74405: to=<user@good.test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.65, delays=0.62/0.02/0.01/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2E4E4A74408)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 29639, "86210A74405", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 2E4E4A74408"},
	{"anonymous.log:12 tls-established Untrusted mx.selfsigned.test",
	    "Nov 24 18:55:32 sender postfix/smtp[29639]: Untrusted TLS connection established to mx.selfsigned.test[127.0.1.10]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 29639, "", "Untrusted", "mx.selfsigned.test", "127.0.1.10", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"anonymous.log:13 delivery selfsigned.test sent 2.0.0",
	    "Nov 24 18:55:32 sender postfix/smtp[29639]: 87EE2A74406: to=<user@selfsigned.test>, relay=mx.selfsigned.test[127.0.1.10]:25, delay=0.65, delays=0.61/0.03/0.01/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 3094EA74405)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 29639, "87EE2A74406", "", "mx.selfsigned.test", "127.0.1.10", 25, "selfsigned.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 3094EA74405"},
	{"anonymous.log:15 tls-established Anonymous 127.0.1.16",
	    "Nov 24 18:55:32 sender postfix/smtp[29645]: Anonymous TLS connection established to 127.0.1.16[127.0.1.16]:25: TLSv1.2 with cipher ADH-AES256-GCM-SHA384 (256/256 bits)",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 29645, "", "Anonymous", "127.0.1.16", "127.0.1.16", 25, "", "", "", "",
	    "TLSv1.2 with cipher ADH-AES256-GCM-SHA384 (256/256 bits)"},
	{"anonymous.log:16 delivery anon.example sent 2.0.0",
	    "Nov 24 18:55:32 sender postfix/smtp[29645]: 274B6A74410: to=<user@anon.example>, relay=127.0.1.16[127.0.1.16]:25, delay=0.09, delays=0.01/0.03/0.04/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 3A6F2A74411)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 29645, "274B6A74410", "", "127.0.1.16", "127.0.1.16", 25, "anon.example", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 3A6F2A74411"},
	{"handwritten.log:4 tls-established Verified mx1.good.test",
	    "2026-11-24T18:50:09.123456+01:00 mail postfix/smtp[4242]: Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 4242, "", "Verified", "mx1.good.test", "127.0.1.1", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"},
	{"handwritten.log:5 delivery good.test sent 2.0.0",
	    "2026-11-24T18:50:09.234567+01:00 mail postfix/smtp[4242]: 4Xy1Zb2cDfz9sW: to=<User@Good.Test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.2, delays=0.01/0.01/0.1/0.08, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Xy1Zc0aBCz9sX)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 4242, "4Xy1Zb2cDfz9sW", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 4Xy1Zc0aBCz9sX"},
	{"handwritten.log:7 cert-failed mx.wrongtlsa.test",
	    "Nov  4 09:01:02 mail postfix/smtp[4243]: server certificate verification failed for mx.wrongtlsa.test[127.0.1.2]:25: num=65:no matching DANE TLSA records",
	    0, POSTFIXLOG_CERT_FAILED, "postfix/smtp", 4243, "", "", "mx.wrongtlsa.test", "127.0.1.2", 25, "", "", "", "",
	    "num=65:no matching DANE TLSA records"},
	{"handwritten.log:9 tls-established Untrusted mx.wrongtlsa.test",
	    "Nov 24 18:50:09 mail postfix/smtp[4244]: Untrusted TLS connection established to mx.wrongtlsa.test[127.0.1.2]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 4244, "", "Untrusted", "mx.wrongtlsa.test", "127.0.1.2", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"},
	{"handwritten.log:10 delivery wrongtlsa.test deferred 4.7.5",
	    "2026-11-24T18:50:09+0100 mail postfix/smtp[4244]: 01E49A742FF: to=<user@wrongtlsa.test>, relay=mx.wrongtlsa.test[127.0.1.2]:25, delay=0.11, delays=0.01/0.03/0.06/0, dsn=4.7.5, status=deferred (Server certificate not verified)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 4244, "01E49A742FF", "", "mx.wrongtlsa.test", "127.0.1.2", 25, "wrongtlsa.test", "4.7.5", "deferred", "",
	    "Server certificate not verified"},
	{"handwritten.log:11 dnssec-off postfix-out/smtp",
	    "Nov 24 18:50:11.123456 mail postfix-out/smtp[4245]: warning: DNSSEC validation may be unavailable",
	    0, POSTFIXLOG_DNSSEC_OFF, "postfix-out/smtp", 4245, "", "", "", "", 0, "", "", "", "",
	    "DNSSEC validation may be unavailable"},
	{"handwritten.log:14 delivery good.test sent 2.0.0",
	    "Nov 24 18:50:12 mail postfix/smtp[4246]: 1597BA74318: to=<user@good.test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.11, delays=0.03/0.05/0.02/0, tls=dane-only, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2B3DDA74311)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 4246, "1597BA74318", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "dane-only",
	    "250 2.0.0 Ok: queued as 2B3DDA74311"},
	{"handwritten.log:15 delivery notlsa.test sent 2.0.0",
	    "Nov 24 18:50:12 mail postfix/smtp[4247]: 070D4A74301: to=<user@notlsa.test>, orig_to=<alias@sender.lab.test>, relay=mx.notlsa.test[127.0.1.3]:25, conn_use=2, delay=0.19, delays=0.01/0.04/0.14/0, tls=may, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 34562A74303)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 4247, "070D4A74301", "", "mx.notlsa.test", "127.0.1.3", 25, "notlsa.test", "2.0.0", "sent", "may",
	    "250 2.0.0 Ok: queued as 34562A74303"},
	{"handwritten.log:16 delivery pkix.test sent 2.0.0",
	    "Nov 24 18:50:12 mail postfix/smtp[4248]: 4c8vgk2lXhzNcrX: to=<user@pkix.test>, relay=mx.pkix.test[127.0.1.5]:25,conn_use=2, delay=0.31, delays=0.06/0.05/0.07/0.12, tls=encrypt/(requiretls), dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4c8vgk3xlZzJrNm)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 4248, "4c8vgk2lXhzNcrX", "", "mx.pkix.test", "127.0.1.5", 25, "pkix.test", "2.0.0", "sent", "encrypt/(requiretls)",
	    "250 2.0.0 Ok: queued as 4c8vgk3xlZzJrNm"},
	{"handwritten.log:18 cert-failed mx.pkix.test",
	    "Nov 24 18:50:13 mail postfix/smtp[4249]: CA certificate verification failed for mx.pkix.test[127.0.1.5]:25: num=10:certificate has expired",
	    0, POSTFIXLOG_CERT_FAILED, "postfix/smtp", 4249, "", "", "mx.pkix.test", "127.0.1.5", 25, "", "", "", "",
	    "num=10:certificate has expired"},
	{"handwritten.log:19 delivery pkix.test deferred 4.7.5",
	    "Nov 24 18:50:13 mail postfix/smtp[4249]: 2448EA743FE: to=<user@pkix.test>, relay=mx.pkix.test[127.0.1.5]:25, delay=0.1, delays=0.01/0.01/0.08/0, dsn=4.7.5, status=deferred (Server certificate not trusted)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 4249, "2448EA743FE", "", "mx.pkix.test", "127.0.1.5", 25, "pkix.test", "4.7.5", "deferred", "",
	    "Server certificate not trusted"},
	{"handwritten.log:20 tls-established Verified mx.v6.test",
	    "Nov 24 18:50:14 mail postfix/smtp[4250]: Verified TLS connection established to mx.v6.test[2001:db8::25]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)",
	    0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp", 4250, "", "Verified", "mx.v6.test", "2001:db8::25", 25, "", "", "", "",
	    "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)"},
	{"handwritten.log:21 delivery v6.test bounced 5.1.1",
	    "Nov 24 18:50:14 mail postfix/smtp[4250]: 86210A74405: to=<\"odd, >user\"@V6.test>, relay=mx.v6.test[2001:db8::25]:25, delay=0.3, delays=0.1/0/0.1/0.1, dsn=5.1.1, status=bounced (host mx.v6.test[2001:db8::25] said: 550 5.1.1 No such user (in reply to RCPT TO command))",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 4250, "86210A74405", "", "mx.v6.test", "2001:db8::25", 25, "v6.test", "5.1.1", "bounced", "",
	    "host mx.v6.test[2001:db8::25] said: 550 5.1.1 No such user (in reply to RCPT TO command)"},
	{"handwritten.log:22 delivery example.org sent 2.0.0",
	    "Nov 24 18:50:15 mail postfix/lmtp[4251]: 87EE2A74406: to=<user@example.org>, relay=mail.example.org[private/dovecot-lmtp], delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (250 2.0.0 <user@example.org> Saved)",
	    0, POSTFIXLOG_DELIVERY, "postfix/lmtp", 4251, "87EE2A74406", "", "mail.example.org", "private/dovecot-lmtp", 0, "example.org", "2.0.0", "sent", "",
	    "250 2.0.0 <user@example.org> Saved"},
	{"handwritten.log:23 delivery sender.lab.test sent 2.0.0",
	    "Nov 24 18:50:15 mail postfix/local[4252]: 274B6A74410: to=<root@sender.lab.test>, relay=local, delay=0.01, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
	    0, POSTFIXLOG_DELIVERY, "postfix/local", 4252, "274B6A74410", "", "local", "", 0, "sender.lab.test", "2.0.0", "sent", "",
	    "delivered to mailbox"},
	{"handwritten.log:24 non-dnssec mx.insecure.test",
	    "Nov 24 18:50:16 mail postfix/smtp[4253]: warning: TLS policy lookup for insecure.test/mx.insecure.test: non DNSSEC destination",
	    0, POSTFIXLOG_NON_DNSSEC, "postfix/smtp", 4253, "", "", "mx.insecure.test", "", 0, "", "", "", "",
	    "TLS policy lookup for insecure.test/mx.insecure.test: non DNSSEC destination"},
	{"handwritten.log:25 tlsa-error mx.bogustlsa.test",
	    "Nov 24 18:50:16 mail postfix/smtp[4253]: warning: TLS policy lookup for bogustlsa.test/mx.bogustlsa.test: TLSA lookup error for mx.bogustlsa.test:25",
	    0, POSTFIXLOG_TLSA_ERROR, "postfix/smtp", 4253, "", "", "mx.bogustlsa.test", "", 25, "", "", "", "",
	    "TLS policy lookup for bogustlsa.test/mx.bogustlsa.test: TLSA lookup error for mx.bogustlsa.test:25"},
	{"handwritten.log:27 delivery to an address literal",
	    "Nov 24 18:50:18 mail postfix/smtp[4255]: 3A6F2A74411: to=<postmaster@[192.0.2.25]>, relay=192.0.2.25[192.0.2.25]:25, delay=0.2, delays=0.01/0/0.1/0.09, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4cbdb56t4MzPjfw)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 4255, "3A6F2A74411", "", "192.0.2.25", "192.0.2.25", 25, "[192.0.2.25]", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 4cbdb56t4MzPjfw"},
	{"handwritten.log:28 delivery, the domain's trailing dot dropped",
	    "Nov 24 18:50:18 mail postfix/smtp[4256]: 2E4E4A74408: to=<user@Good.Test.>, relay=mx1.good.test[127.0.1.1]:25, delay=0.2, delays=0.01/0/0.1/0.09, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4cbdb56t4MzPjfx)",
	    0, POSTFIXLOG_DELIVERY, "postfix/smtp", 4256, "2E4E4A74408", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "",
	    "250 2.0.0 Ok: queued as 4cbdb56t4MzPjfx"},

	/* Recorded lines that are not TLS news. */
	NONE_ROW("deliveries.log:5 qmgr",
	    "Nov 24 18:50:09 sender postfix/qmgr[23963]: F348FA74272: from=<sender@sender.lab.test>, size=311, nrcpt=1 (queue active)"),
	NONE_ROW("deliveries.log:25 qmgr removed", "Nov 24 18:50:09 sender postfix/qmgr[23963]: F348FA74272: removed"),
	NONE_ROW("policy-errors.log:14 the DNSSEC probe's reason",
	    "Nov 24 18:50:09 sender postfix/smtp[24134]: warning: reason: dnssec_probe 'ns:test.' received a response that is not DNSSEC validated"),
	NONE_ROW("policy-errors.log:17 DANE TLSA lookup problem",
	    "Nov 24 18:50:09 sender postfix/smtp[24134]: warning: DANE TLSA lookup problem: Host or domain name not found. Name service error for name=_25._tcp.mx.bogustlsa.test type=TLSA: Host not found, try again"),
	NONE_ROW("policy-errors.log:20 no TLSA records found",
	    "Nov 24 18:50:09 sender postfix/smtp[24143]: warning: TLS policy lookup for unsignedmx.test/mx.insecure.test: no TLSA records found"),
	NONE_ROW("dnssec-off.log:12 policy table lookup error",
	    "Nov 24 18:50:11 sender postfix/smtp[24358]: warning: smtp_tls_policy_maps, next-hop destination \"bogustlsa.test\": policy table lookup error"),
	NONE_ROW("handwritten.log:12 journalctl's boot marker", "-- Boot 3a1f0c9e5d2b4a8f9c7e6d5b4a3f2e1d --"),
	NONE_ROW("handwritten.log:26 smtpd's TLS line is incoming",
	    "Nov 24 18:50:17 mx postfix/smtpd[4254]: Trusted TLS connection established from mail.example.org[192.0.2.25]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"),

	/* Hostile and edge lines: tests/logwatch/hostile.log. */
	NONE_ROW("hostile: 2000-byte host in a TLS line", P TLS A2000 "[127.0.1.1]:25: TLSv1.3 with cipher X"),
	NONE_ROW("hostile: 2000-byte relay host",
	    P "postfix/smtp[666]: 0A1B2C3D4E: to=<user@good.test>, relay=" A2000
	    "[127.0.1.1]:25, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"),
	NONE_ROW("hostile: 2000-byte recipient domain",
	    P "postfix/smtp[666]: 0A1B2C3D4E: to=<user@" A2000
	    ">, relay=mx1.good.test[127.0.1.1]:25, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"),
	NONE_ROW("hostile: 2000-byte host in a TLSA lookup error",
	    P "postfix/smtp[666]: warning: TLS policy lookup for x.test/x.test: TLSA lookup error for " A2000 ":25"),
	NONE_ROW("hostile: 2000-byte host in a non DNSSEC warning",
	    P "postfix/smtp[666]: warning: TLS policy lookup for x.test/" A2000 ": non DNSSEC destination"),
	{"edge: a 253-byte host name fits", P TLS H253 "[127.0.1.1]:25: TLSv1.3", 0, POSTFIXLOG_TLS_ESTABLISHED,
	    "postfix/smtp", 666, "", "Verified", H253, "127.0.1.1", 25, "", "", "", "", "TLSv1.3"},
	NONE_ROW("hostile: a 254-byte host name does not", P TLS H253 "a[127.0.1.1]:25: TLSv1.3"),
	NONE_ROWN("hostile: NUL in a host name", P TLS "mx1.go\0od.test[127.0.1.1]:25: TLSv1.3"),
	NONE_ROWN("hostile: NUL in the program name",
	    P "postfix/sm\0tp[666]: Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3"),
	{"hostile: NUL and an escape sequence in the reason", P DL "dsn=2.0.0, status=sent (250 ok\0\x1b[31m injected)",
	    sizeof(P DL "dsn=2.0.0, status=sent (250 ok\0\x1b[31m injected)") - 1, POSTFIXLOG_DELIVERY, "postfix/smtp", 666,
	    "0A1B2C3D4E", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "", "250 ok??[31m injected"},
	NONE_ROW("hostile: bracket never closed", P TLS "mx1.good.test[127.0.1.1:25: TLSv1.3"),
	NONE_ROW("hostile: bracket never opened", P TLS "mx1.good.test127.0.1.1]:25: TLSv1.3"),
	NONE_ROW("hostile: brackets doubled",
	    P "postfix/smtp[666]: 0A1B2C3D4E: to=<user@good.test>, relay=mx1.good.test[[127.0.1.1]]:25, delay=0.1, "
	    "delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"),
	NONE_ROW("hostile: port 65536", P TLS "mx1.good.test[127.0.1.1]:65536: TLSv1.3"),
	NONE_ROW("hostile: port 0", P TLS "mx1.good.test[127.0.1.1]:0: TLSv1.3"),
	NONE_ROW("hostile: port of 20 digits", P TLS "mx1.good.test[127.0.1.1]:99999999999999999999: TLSv1.3"),
	NONE_ROW("hostile: TLSA lookup error, port out of range",
	    P "postfix/smtp[666]: warning: TLS policy lookup for bogustlsa.test/mx.bogustlsa.test: "
	    "TLSA lookup error for mx.bogustlsa.test:70000"),
	NONE_ROW("hostile: to=< without >",
	    P "postfix/smtp[666]: 0A1B2C3D4E: to=<user@good.test, relay=mx1.good.test[127.0.1.1]:25, delay=0.1, "
	    "delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"),
	NONE_ROW("hostile: to=< closed only in the reason",
	    P "postfix/smtp[666]: 0A1B2C3D4E: to=<user@good.test, relay=mx1.good.test[127.0.1.1]:25, dsn=2.0.0, "
	    "status=sent (250 <ok>)"),
	NONE_ROW("hostile: a tag after another program's",
	    P "kernel: postfix/smtp[666]: Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3"),
	{"hostile: reason longer than its field", P DL "dsn=2.0.0, status=sent (" X300 ")", 0, POSTFIXLOG_DELIVERY,
	    "postfix/smtp", 666, "0A1B2C3D4E", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "", X255},
	{"hostile: tls= longer than its field",
	    P "postfix/smtp[666]: 0A1B2C3D4E: to=<user@good.test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.1, "
	    "delays=0/0/0/0, tls=" A2000 ", dsn=2.0.0, status=sent (250 ok)", 0, POSTFIXLOG_DELIVERY,
	    "postfix/smtp", 666, "0A1B2C3D4E", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", A63, "250 ok"},
	{"hostile: program name longer than its field",
	    P "postfix-with-a-very-long-instance-name/smtp[666]: Verified TLS connection established to "
	    "mx1.good.test[127.0.1.1]:25: TLSv1.3", 0, POSTFIXLOG_TLS_ESTABLISHED, "postfix-with-a-very-long-instan", 666,
	    "", "Verified", "mx1.good.test", "127.0.1.1", 25, "", "", "", "", "TLSv1.3"},
	NONE_ROW("hostile: pid of 11 digits",
	    P "postfix/smtp[12345678901]: Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3"),
	NONE_ROW("hostile: empty line", ""),
	NONE_ROW("hostile: a tag and nothing else", P "postfix/smtp[666]:"),
	NONE_ROW("hostile: dsn with a letter", P DL "dsn=4.7.5x, status=deferred (Server certificate not verified)"),
	NONE_ROW("hostile: UTF-8 recipient domain",
	    P "postfix/smtp[666]: 0A1B2C3D4E: to=<user@ex\xc3\xa4mple.test>, relay=mx1.good.test[127.0.1.1]:25, "
	    "delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"),
	NONE_ROW("hostile: 40-character queue id",
	    P "postfix/smtp[666]: 0123456789ABCDEF0123456789ABCDEF01234567: to=<user@good.test>, "
	    "relay=mx1.good.test[127.0.1.1]:25, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"),
	{"edge: status without a reason", P DL "dsn=2.0.0, status=sent", 0, POSTFIXLOG_DELIVERY, "postfix/smtp", 666,
	    "0A1B2C3D4E", "", "mx1.good.test", "127.0.1.1", 25, "good.test", "2.0.0", "sent", "", ""},
	{"hostile: control byte after the DNSSEC warning",
	    P "postfix/smtp[666]: warning: DNSSEC validation may be unavailable\a", 0, POSTFIXLOG_DNSSEC_OFF, "postfix/smtp",
	    666, "", "", "", "", 0, "", "", "", "", "DNSSEC validation may be unavailable?"},
	NONE_ROW("hostile: space inside the relay",
	    P "postfix/smtp[666]: 0A1B2C3D4E: to=<user@good.test>, relay=mx1.good.test [127.0.1.1]:25, delay=0.1, "
	    "delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"),
	{"edge: CRLF line end", P TLS "mx1.good.test[127.0.1.1]:25: TLSv1.3\r", 0, POSTFIXLOG_TLS_ESTABLISHED, "postfix/smtp",
	    666, "", "Verified", "mx1.good.test", "127.0.1.1", 25, "", "", "", "", "TLSv1.3"},
	NONE_ROW("hostile: only spaces", "     "),
	NONE_ROW("hostile: an empty address literal",
	    P "postfix/smtp[666]: 0A1B2C3D4E: to=<user@[]>, relay=mx1.good.test[127.0.1.1]:25, delay=0.1, "
	    "delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"),
	NONE_ROW("hostile: status word longer than its field", P DL "dsn=4.7.5, status=deferreddddddddddddddd (x)"),
};

static const char *
line_case_name(const void *row)
{
	return ((const struct line_case *)row)->name;
}

static size_t
case_len(const struct line_case *c)
{
	return c->len ? c->len : strlen(c->line);
}

/* Every field is NUL-terminated inside its array and printable. */
static void
assert_field_ok(const char *field, size_t size, const char *what)
{
	const char *nul = memchr(field, '\0', size);

	if (!nul)
		fail_msg("%s: not NUL-terminated within its %zu bytes", what, size);
	for (const char *p = field; p < nul; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			fail_msg("%s: unprintable byte 0x%02x", what, (unsigned char)*p);
}

static void
assert_fields_ok(const struct postfixlog_line *l)
{
	assert_field_ok(l->program, sizeof(l->program), "program");
	assert_field_ok(l->queue_id, sizeof(l->queue_id), "queue_id");
	assert_field_ok(l->trust, sizeof(l->trust), "trust");
	assert_field_ok(l->host, sizeof(l->host), "host");
	assert_field_ok(l->addr, sizeof(l->addr), "addr");
	assert_field_ok(l->rcpt_domain, sizeof(l->rcpt_domain), "rcpt_domain");
	assert_field_ok(l->dsn, sizeof(l->dsn), "dsn");
	assert_field_ok(l->status, sizeof(l->status), "status");
	assert_field_ok(l->tls, sizeof(l->tls), "tls");
	assert_field_ok(l->text, sizeof(l->text), "text");
}

static void
test_line(void **state)
{
	const struct line_case *c = *state;
	size_t len = case_len(c);
	/* A copy of exactly len bytes: a read past the end shows under
	 * valgrind or ASan. */
	char *copy = malloc(len ? len : 1);
	struct postfixlog_line l;

	assert_non_null(copy);
	memcpy(copy, c->line, len);
	enum postfixlog_kind k = postfixlog_parse(copy, len, &l);
	free(copy);
	if (k != c->kind)
		fail_msg("kind %s, want %s", postfixlog_kind_name(k), postfixlog_kind_name(c->kind));
	assert_int_equal(l.kind, k);
	assert_fields_ok(&l);
	assert_string_equal(l.program, c->program);
	assert_int_equal(l.pid, c->pid);
	assert_string_equal(l.queue_id, c->queue_id);
	assert_string_equal(l.trust, c->trust);
	assert_string_equal(l.host, c->host);
	assert_string_equal(l.addr, c->addr);
	assert_int_equal(l.port, c->port);
	assert_string_equal(l.rcpt_domain, c->rcpt_domain);
	assert_string_equal(l.dsn, c->dsn);
	assert_string_equal(l.status, c->status);
	assert_string_equal(l.tls, c->tls);
	assert_string_equal(l.text, c->text);
}

/* Every prefix of every row's line parses without reading past it, and
 * what it fills is sound. */
static void
test_prefixes(void **state)
{
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		size_t len = case_len(&line_cases[i]);
		for (size_t n = 0; n <= len; n++) {
			char *copy = malloc(n ? n : 1);
			struct postfixlog_line l;
			assert_non_null(copy);
			memcpy(copy, line_cases[i].line, n);
			postfixlog_parse(copy, n, &l);
			free(copy);
			assert_fields_ok(&l);
		}
	}
}

static void
test_kind_names(void **state)
{
	static const char *const names[] = {"none", "tls-established", "cert-failed", "tlsa-error", "non-dnssec",
	    "dnssec-off", "delivery"};

	for (int k = POSTFIXLOG_NONE; k <= POSTFIXLOG_DELIVERY; k++)
		assert_string_equal(postfixlog_kind_name((enum postfixlog_kind)k), names[k]);
	assert_string_equal(postfixlog_kind_name((enum postfixlog_kind)99), "unknown");
}

static char dir_path[4096];

static const char *
logwatch_dir(void)
{
	return table_data_dir(dir_path, sizeof(dir_path), "logwatch");
}

static const struct line_case *
row_for(const char *line, size_t len)
{
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++)
		if (case_len(&line_cases[i]) == len && memcmp(line_cases[i].line, line, len) == 0)
			return &line_cases[i];
	return NULL;
}

/* The files and the table say the same: every line Postfix's log would
 * make news of, and every hand-written line, has its row above. */
static void
test_files_have_rows(void **state)
{
	static const struct {
		const char *file;
		int every_line;		/* hand-written: even the lines that are no news */
		int lines;		/* how many the file holds */
	} files[] = {
		{"deliveries.log", 0, 32}, {"policy-errors.log", 0, 25}, {"dnssec-off.log", 0, 25},
		{"auth-failing.log", 0, 22}, {"anonymous.log", 0, 17}, {"handwritten.log", 1, 28},
		{"hostile.log", 1, 36},
	};

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", logwatch_dir(), files[f].file);
		FILE *fp = fopen(path, "r");
		if (!fp)
			fail_msg("cannot open %s (set top_srcdir)", path);
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		int no = 0;
		while ((n = getline(&line, &cap, fp)) >= 0) {
			no++;
			if (n > 0 && line[n - 1] == '\n')
				n--;
			if (n > 0 && line[0] == '#')
				continue;
			struct postfixlog_line l;
			if (row_for(line, (size_t)n))
				continue;
			if (files[f].every_line || postfixlog_parse(line, (size_t)n, &l) != POSTFIXLOG_NONE)
				fail_msg("%s:%d has no row in test_postfixlog.c", files[f].file, no);
		}
		free(line);
		fclose(fp);
		if (no != files[f].lines)
			fail_msg("%s: %d lines, want %d", files[f].file, no, files[f].lines);
	}
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_files_have_rows),
	};
	struct table t = {0};

	TABLE_ADD(&t, line_cases, line_case, test_line);
	TABLE_TESTS(&t, more);
	return table_run(&t, "postfixlog");
}
