/*
 * probe - one SMTP client session against one MX host address, as a
 * non-blocking state machine: connect, the (multi-line) 220 banner, EHLO,
 * STARTTLS when offered, the TLS handshake with SNI = the MX host name,
 * QUIT. Every step has its own time limit and every reply a cap on the
 * bytes read, so a server that lies, hangs or floods costs a bounded time
 * and memory.
 *
 * What it learns goes into a struct probe_result: the banner, whether
 * STARTTLS was offered, protocol and cipher, the peer's chain (subject,
 * issuer, validity, SHA-256 of the SubjectPublicKeyInfo and of the whole
 * certificate), the PKIX verdict against the CA store, whether the
 * certificate names the MX host, and the DANE verdict from OpenSSL's own
 * DANE code fed with the DNSSEC-validated TLSA records: which record
 * matched, at which depth. DANE-EE(3) matches ignore names and dates,
 * DANE-TA(2) checks both (RFC 7672 section 3.1). The result's class says
 * what Postfix would make of the connection: no STARTTLS, a failed
 * handshake, or the TLS connection it would log as Anonymous, Untrusted,
 * Trusted or Verified (probe_class_postfix_word()); "unreachable" is for
 * a probe that never learnt whether STARTTLS is offered (connect, greeting
 * or EHLO failed, timed out or was not SMTP), which none of those fits.
 *
 * A target may restrict the handshake to one key type (probe_key_type):
 * the ClientHello then offers only that family's signature algorithms
 * (RSA: PKCS#1 and PSS; ECDSA), and in TLS 1.2 only cipher suites that
 * authenticate with it, so that a server holding certificates of several
 * key types must present the one of that type, or fail the handshake
 * when it has none. The default offers what OpenSSL offers.
 *
 * Driving: probe_start() opens the socket; then whenever probe_fd() is
 * ready for what probe_run() last asked (PROBE_WANT_READ or
 * PROBE_WANT_WRITE), call probe_run() again; past probe_deadline(), call
 * probe_expire(). PROBE_DONE means the result is final. probe_run_blocking()
 * does all of that with poll() for the command line.
 *
 * Ownership: a struct probe_env holds the OpenSSL context and CA store,
 * shared read-only by any number of probes on any threads; it must outlive
 * them. A probe copies its target and owns its result until probe_free().
 */
#ifndef TLSPOLICY_PROBE_H
#define TLSPOLICY_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/netaddr.h"
#include "postfix/nexthop.h"
#include "config/config.h"

enum probe_class {
	PROBE_PLAINTEXT,	/* no STARTTLS offered */
	PROBE_TLS_FAILED,	/* STARTTLS offered, the handshake failed */
	PROBE_ANONYMOUS,	/* TLS without a server certificate */
	PROBE_UNTRUSTED,	/* certificate not verifiable by PKIX, no DANE */
	PROBE_TRUSTED,		/* PKIX chain valid, name not matched */
	PROBE_VERIFIED,		/* PKIX chain valid and name matched */
	PROBE_DANE_VERIFIED,	/* a usable TLSA record matched the chain */
	PROBE_DANE_MISMATCH,	/* usable TLSA records exist, none matched */
	PROBE_UNREACHABLE,	/* STARTTLS unknown: connect, greeting or EHLO failed */
	PROBE_CLASS_COUNT
};

const char *probe_class_name(enum probe_class c);
/* The word Postfix logs for a TLS connection of this class ("Verified",
 * "Trusted", "Untrusted", "Anonymous"), or NULL when there was none. */
const char *probe_class_postfix_word(enum probe_class c);

/* The steps, for timeouts and errors. */
enum probe_stage {
	PROBE_STAGE_CONNECT, PROBE_STAGE_BANNER, PROBE_STAGE_EHLO, PROBE_STAGE_STARTTLS, PROBE_STAGE_HANDSHAKE, PROBE_STAGE_QUIT,
	PROBE_STAGE_DONE
};
const char *probe_stage_name(enum probe_stage s);

enum probe_key_type {
	PROBE_KEY_ANY,		/* OpenSSL's default offer */
	PROBE_KEY_RSA,		/* RSA (PKCS#1 v1.5 and PSS) only */
	PROBE_KEY_ECDSA,	/* ECDSA only */
};
/* "any", "RSA", "ECDSA". */
const char *probe_key_type_name(enum probe_key_type k);

struct probe_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	unsigned char *data;
};

struct probe_target {
	char host[NEXTHOP_NAME_MAX + 1];	/* SNI, name checks */
	char tlsa_base[NEXTHOP_NAME_MAX + 1];	/* DANE base domain; "" = host */
	struct netaddr address;
	unsigned port;
	size_t ntlsa;				/* validated TLSA records */
	const struct probe_tlsa *tlsa;		/* copied by probe_new() */
	enum probe_key_type key_type;		/* what the handshake may sign with */
};

/* Whether two targets are the same probe whoever asks: the TLSA records
 * are those of the host and port, so host, address, port and key type
 * say it all. */
bool probe_target_same(const struct probe_target *a, const struct probe_target *b);

#define PROBE_MAX_CERTS 10
/* Bytes read for one SMTP reply at most: EHLO replies are a few hundred. */
#define PROBE_MAX_REPLY 16384

struct probe_cert {
	char subject[256];
	char issuer[256];
	char not_before[32];
	char not_after[32];
	char spki_sha256[65];
	char cert_sha256[65];
	unsigned char *der;		/* the certificate, with keep_certs only */
	size_t der_len;
};

struct probe_result {
	enum probe_class class;
	enum probe_stage stage;		/* where it ended */
	char error[256];		/* what went wrong, "" when nothing */
	char banner[256];		/* the last line of the greeting (the transcript has all) */
	bool starttls_offered;
	char protocol[16];
	char cipher[64];
	size_t ncerts;
	struct probe_cert certs[PROBE_MAX_CERTS];
	bool pkix_ok;			/* the chain verifies against the CA store */
	char pkix_error[128];
	bool name_ok;			/* the leaf names the MX host */
	size_t tlsa_usable;		/* TLSA records OpenSSL accepted */
	int dane_depth;			/* depth of the matching certificate, -1 none */
	char dane_match[160];		/* "3 1 1 ab12..." of the record that matched */
	char dane_error[128];
	uint64_t duration_ms;
	struct buf transcript;		/* the dialogue, "< " and "> " lines */
};

struct probe_env;

struct probe_env_settings {
	const char *ca_file;		/* "" or NULL: the system's default store */
	const char *helo_name;		/* EHLO argument */
	unsigned step_timeout_ms;
	size_t max_reply;		/* bytes per SMTP reply */
	bool keep_certs;		/* keep each certificate's DER in the result */
};

struct probe_env *probe_env_new(const struct probe_env_settings *s, char *err, size_t errlen);
/* The environment the settings describe (probe_ca_file, probe_helo_name,
 * probe_timeout), for the daemon and the commands alike; keep_certs as
 * above. NULL with err. */
struct probe_env *probe_env_from_config(const struct config *cfg, bool keep_certs, char *err, size_t errlen);
void probe_env_free(struct probe_env *env);

enum { PROBE_WANT_READ = 1, PROBE_WANT_WRITE = 2, PROBE_DONE = 3 };

struct probe;

struct probe *probe_new(const struct probe_env *env, const struct probe_target *t);
int probe_start(struct probe *p, uint64_t now_ms);
int probe_run(struct probe *p, uint64_t now_ms);
void probe_expire(struct probe *p, uint64_t now_ms);
int probe_fd(const struct probe *p);
uint64_t probe_deadline(const struct probe *p);
const struct probe_result *probe_result(const struct probe *p);
const struct probe_target *probe_target(const struct probe *p);
void probe_free(struct probe *p);

/* Drives a probe to the end with poll(); returns its result. */
const struct probe_result *probe_run_blocking(struct probe *p);

/* A result kept past its probe (the callback of prober.h lends one only
 * for the call): *dst gets copies of the certificates and the transcript.
 * 0, or -1 when out of memory (*dst is then empty, safe to release). */
int probe_result_copy(struct probe_result *dst, const struct probe_result *src);
/* Frees what probe_result_copy() made. */
void probe_result_release(struct probe_result *r);


#endif
