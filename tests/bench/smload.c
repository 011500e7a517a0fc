/*
 * smload - closed-loop load generator for Postfix socketmap servers.
 *
 * Postfix's socketmap client (dict_sockmap) holds one connection per
 * process and asks one question at a time on it:
 *
 *	request	<len>:<mapname> <key>,
 *	reply	<len>:OK <value>,  <len>:NOTFOUND ,  <len>:TEMP <reason>,
 *		<len>:TIMEOUT <reason>,  <len>:PERM <reason>,
 *
 * smload opens -c such connections and keeps every one of them busy: the
 * next request goes out as soon as the whole previous reply is in.  That is
 * how a pool of busy smtp(8) processes loads tlspolicyd, and it makes the
 * throughput figure the server's, not the generator's pacing.
 *
 * Each thread (-t) runs one epoll loop over its share of the connections.
 * Latency is measured per request, from just before its first byte is
 * written to the moment its reply is complete, into a log-linear histogram
 * (no per-sample storage, <= 0.4 % error on the reported value).  Replies
 * completed during the warm-up (-w) are not counted; requests still in
 * flight when the measured window ends are dropped.
 *
 * Every reply is checked: the netstring framing (digits without leading
 * zeros, ':', exactly <len> bytes, ','), its size against Postfix's limit,
 * the status word, and that nothing arrives that was not asked for.  A
 * broken reply is counted, and the connection is closed and opened again,
 * as Postfix would.  With -e the keys come with the reply each one must
 * get, and a well-formed reply that differs is counted as a mismatch (the
 * connection goes on: Postfix would have taken the answer).
 *
 * With --once every key is asked exactly once, over all connections, and
 * the run ends with the last reply: what a cold server does with that many
 * destinations it has never seen (each one's first lookup), not how fast
 * it answers the same ones again.
 *
 * C11 + POSIX + Linux epoll, no other library.  See tests/bench/README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROG		"smload"
#define MAX_QUERY	10000	/* Postfix sends no longer request payload */
#define MAX_REPLY	100000	/* ... and accepts no longer reply payload */
#define RBUF_INITIAL	512	/* per-connection reply buffer, grows */
#define RBUF_SLACK	64	/* read past a reply's end to catch extras */
#define CHECK_NS	100000000ull	/* timeout/reconnect scan, 100 ms */
#define BACKOFF_NS	50000000ull	/* after a failed connect, 50 ms */

enum {
	EXIT_FINE = 0,
	EXIT_ERRORS = 1,	/* protocol or connection errors, or no reply */
	EXIT_SETUP = 2,		/* could not start: resolve, connect, memory */
	EXIT_USAGE = 64,
};

/* ------------------------------------------------------------------ */
/* Options								*/
/* ------------------------------------------------------------------ */

static struct {
	const char *target;
	const char *map;
	const char *keyfile;
	int expect;		/* -e: keyfile lines are "key<TAB>reply" */
	const char *pattern;
	unsigned long keyspace;
	long conns;
	long threads;
	long stallers;
	double duration;
	double warmup;
	double timeout;
	size_t max_reply;
	long show;
	int json;
	int once;		/* --once: each key asked once, then stop */
} opt = {
	.map = "tlspolicy",
	.keyspace = 1000,
	.conns = 1,
	.threads = 1,
	.duration = 10,
	.warmup = 0,
	.timeout = 5,
	.max_reply = MAX_REPLY,
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"Usage: " PROG " [options] inet:ADDR:PORT | unix:PATH\n"
"\n"
"Closed-loop load generator for Postfix socketmap servers (tlspolicyd).\n"
"Each connection sends one request \"<len>:<map> <key>,\", waits for the\n"
"whole reply netstring, checks it, and sends the next, as Postfix does.\n"
"\n"
"Load:\n"
"  -c, --connections N  connections kept busy (default 1)\n"
"  -t, --threads N      threads, each one epoll loop; connections are spread\n"
"                       over them round-robin (default 1)\n"
"  -d, --duration SEC   length of the measured window (default 10)\n"
"  -w, --warmup SEC     run this long first, without counting (default 0)\n"
"  -S, --stallers N     also open N connections that send only the first\n"
"                       half of a request and then stall for the whole run;\n"
"                       they are opened first and are not in the figures\n"
"      --timeout SEC    a request not answered within SEC is an error; the\n"
"                       connection is closed and opened again (default 5)\n"
"      --once           ask every key exactly once, over all connections,\n"
"                       and stop at the last reply (-d is then a deadline;\n"
"                       no -w): req/s = keys / time to the last reply; a\n"
"                       key left unanswered is an error\n"
"\n"
"Requests:\n"
"  -m, --map NAME       map name before each key (default \"tlspolicy\")\n"
"  -p, --pattern PAT    keys from PAT, '#' replaced by a counter modulo N\n"
"                       (default \"d#.test\")\n"
"  -n, --keyspace N     the modulus for -p: keys 0 .. N-1 (default 1000)\n"
"  -k, --keys FILE      keys from FILE instead, one per line, used in turn\n"
"                       (blank lines and lines starting with '#' skipped)\n"
"  -e, --expect FILE    as -k, but each line is \"KEY<TAB>REPLY\": the reply\n"
"                       payload that key must get, e.g. \"OK dane-only\" or\n"
"                       \"NOTFOUND\" (trailing spaces of the reply ignored; a\n"
"                       REPLY ending in '*' is a prefix); any other\n"
"                       well-formed reply counts as a mismatch error\n"
"      Each thread walks the keys with its own counter, starting at\n"
"      thread * keys / threads; requests longer than %d bytes are refused.\n"
"\n"
"Checks and output:\n"
"      --max-reply N    largest reply payload accepted (default %d, the\n"
"                       Postfix default socketmap_max_reply_size)\n"
"      --show N         print the first N requests and replies to stderr\n"
"      --json           print one JSON line instead of the text report\n"
"  -h, --help           this text\n"
"\n"
"Report: requests/s over the measured window; latency p50 p90 p99 p99.9 max\n"
"(and mean) in microseconds from a log-linear histogram; replies by status\n"
"(OK NOTFOUND TEMP TIMEOUT PERM); errors:\n"
"  framing    reply is not a netstring, has bytes after it, or arrives when\n"
"             no request is outstanding\n"
"  oversized  reply length above --max-reply\n"
"  status     well-framed reply whose first word is no socketmap status\n"
"  closed     server closed the connection (idle or in the middle of a reply)\n"
"  reset      connection reset by the server (ECONNRESET, EPIPE)\n"
"  refused    a connect failed (refused, unreachable, timed out)\n"
"  timeout    no complete reply within --timeout\n"
"  io         any other read/write error\n"
"  mismatch   with -e: a well-formed reply other than the key's expected one\n"
"After each error but a mismatch the connection is closed and reopened.\n"
"\n"
"Exit status: 0 all replies well-formed and no connection error; 1 some\n"
"error above happened, or no reply at all was counted; 2 could not start\n"
"(resolve, first connect); 64 usage.\n",
	    MAX_QUERY, MAX_REPLY);
}

static _Noreturn void fatal(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static _Noreturn void
fatal(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static double
arg_seconds(const char *s, const char *name, double min)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min) || v > 1e7)
		fatal(EXIT_USAGE, "%s: bad number of seconds \"%s\"", name, s);
	return v;
}

static unsigned long
arg_count(const char *s, const char *name, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		fatal(EXIT_USAGE, "%s: want a number from %lu to %lu, not \"%s\"",
		    name, min, max, s);
	return v;
}

/* ------------------------------------------------------------------ */
/* Time and the latency histogram					*/
/* ------------------------------------------------------------------ */

static inline uint64_t
clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Nanosecond values.  Below 2 * OCT_SLOTS every value has its own slot;
 * from there on each octave [2^e, 2^(e+1)) is cut into OCT_SLOTS equal
 * slots, so a slot is at most 1/128 of the values in it wide, and its
 * midpoint is within 0.4 % of any of them.
 */
#define OCT_BITS	7
#define OCT_SLOTS	(1u << OCT_BITS)
#define LAT_SLOTS	(2 * OCT_SLOTS + (64 - OCT_BITS - 1) * OCT_SLOTS)

struct latency {
	uint64_t slot[LAT_SLOTS];
	uint64_t n;
	uint64_t min, max;
	double sum;
};

static inline size_t
lat_slot(uint64_t v)
{
	unsigned top, shift;

	if (v < 2 * OCT_SLOTS)
		return (size_t)v;
	top = 63u - (unsigned)__builtin_clzll(v);	/* >= OCT_BITS + 1 */
	shift = top - OCT_BITS;				/* >= 1 */
	return 2 * OCT_SLOTS + (size_t)(shift - 1) * OCT_SLOTS +
	    (size_t)((v >> shift) - OCT_SLOTS);
}

/* The midpoint of a slot's range of values. */
static double
lat_slot_value(size_t i)
{
	unsigned shift;
	uint64_t lo;

	if (i < 2 * OCT_SLOTS)
		return (double)i;
	shift = (unsigned)((i - 2 * OCT_SLOTS) / OCT_SLOTS) + 1;
	lo = (uint64_t)(OCT_SLOTS + (i - 2 * OCT_SLOTS) % OCT_SLOTS) << shift;
	return (double)lo + (double)((1ull << shift) - 1) / 2;
}

static inline void
lat_add(struct latency *l, uint64_t v)
{
	l->slot[lat_slot(v)]++;
	if (l->n == 0 || v < l->min)
		l->min = v;
	if (v > l->max)
		l->max = v;
	l->n++;
	l->sum += (double)v;
}

static void
lat_merge(struct latency *into, const struct latency *from)
{
	if (from->n == 0)
		return;
	for (size_t i = 0; i < LAT_SLOTS; i++)
		into->slot[i] += from->slot[i];
	if (into->n == 0 || from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	into->n += from->n;
	into->sum += from->sum;
}

/* The value below or at which a fraction q of the samples lie, in ns. */
static double
lat_quantile(const struct latency *l, double q)
{
	uint64_t rank, seen = 0;
	double v;

	if (l->n == 0)
		return 0;
	rank = (uint64_t)(q * (double)l->n);
	if ((double)rank < q * (double)l->n)
		rank++;
	if (rank == 0)
		rank = 1;
	for (size_t i = 0; i < LAT_SLOTS; i++) {
		seen += l->slot[i];
		if (seen >= rank) {
			v = lat_slot_value(i);
			if (v < (double)l->min)
				v = (double)l->min;
			if (v > (double)l->max)
				v = (double)l->max;
			return v;
		}
	}
	return (double)l->max;
}

/* ------------------------------------------------------------------ */
/* Keys and requests							*/
/* ------------------------------------------------------------------ */

/*
 * With -k every request is encoded once, up front.  With -p a request is
 * "<len>:<map> <pre><number><post>," and is built per request into the
 * connection's own buffer: a 10^7 key space would not fit pre-encoded.
 */
static struct {
	size_t n;		/* -k: number of keys; -p: keyspace */
	char **req;		/* -k: encoded requests */
	size_t *req_len;
	char **expect;		/* -e: the reply payload each key must get */
	size_t *expect_len;
	bool *expect_prefix;	/* ... or must start with */
	const char *pre;	/* -p: text before '#' */
	size_t pre_len;
	const char *post;	/* -p: text after '#', or NULL for no '#' */
	size_t post_len;
	size_t map_len;
	size_t build_max;	/* -p: room a built request needs */
} keys;

static size_t
dec_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Writes v in decimal at p, returns the end. */
static char *
put_dec(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static void
keys_add(const char *key, size_t klen, unsigned long lineno)
{
	static size_t cap;
	const char *want = NULL;
	size_t want_len = 0;
	char *r, *p;

	if (opt.expect) {
		const char *tab = memchr(key, '\t', klen);
		const char *e = key + klen;

		if (!tab)
			fatal(EXIT_USAGE, "%s:%lu: want \"KEY<TAB>REPLY\"",
			    opt.keyfile, lineno);
		want = tab + 1;
		while (want < e && (*want == ' ' || *want == '\t'))
			want++;
		want_len = (size_t)(e - want);
		klen = (size_t)(tab - key);
		while (klen && (key[klen - 1] == ' ' || key[klen - 1] == '\t'))
			klen--;
		if (klen == 0 || want_len == 0)
			fatal(EXIT_USAGE, "%s:%lu: want \"KEY<TAB>REPLY\"",
			    opt.keyfile, lineno);
	}

	size_t payload = keys.map_len + 1 + klen;

	if (payload > MAX_QUERY)
		fatal(EXIT_USAGE, "%s:%lu: request would be %zu bytes, Postfix "
		    "sends at most %d", opt.keyfile, lineno, payload, MAX_QUERY);
	if (keys.n == cap) {
		cap = cap ? 2 * cap : 256;
		keys.req = realloc(keys.req, cap * sizeof(*keys.req));
		keys.req_len = realloc(keys.req_len, cap * sizeof(*keys.req_len));
		keys.expect = realloc(keys.expect, cap * sizeof(*keys.expect));
		keys.expect_len = realloc(keys.expect_len,
		    cap * sizeof(*keys.expect_len));
		keys.expect_prefix = realloc(keys.expect_prefix,
		    cap * sizeof(*keys.expect_prefix));
		if (!keys.req || !keys.req_len || !keys.expect ||
		    !keys.expect_len || !keys.expect_prefix)
			fatal(EXIT_SETUP, "out of memory");
	}
	keys.expect[keys.n] = NULL;
	keys.expect_len[keys.n] = 0;
	keys.expect_prefix[keys.n] = false;
	if (want) {
		keys.expect_prefix[keys.n] = want[want_len - 1] == '*';
		if (keys.expect_prefix[keys.n])
			want_len--;
		keys.expect[keys.n] = strndup(want, want_len);
		keys.expect_len[keys.n] = want_len;
		if (!keys.expect[keys.n])
			fatal(EXIT_SETUP, "out of memory");
	}
	r = malloc(payload + 24);
	if (!r)
		fatal(EXIT_SETUP, "out of memory");
	p = put_dec(r, payload);
	*p++ = ':';
	memcpy(p, opt.map, keys.map_len);
	p += keys.map_len;
	*p++ = ' ';
	memcpy(p, key, klen);
	p += klen;
	*p++ = ',';
	keys.req[keys.n] = r;
	keys.req_len[keys.n] = (size_t)(p - r);
	keys.n++;
}

static void
keys_setup(void)
{
	keys.map_len = strlen(opt.map);
	if (keys.map_len == 0 || strpbrk(opt.map, " \t\r\n,:"))
		fatal(EXIT_USAGE, "-m: a map name is one word");

	if (opt.keyfile) {
		FILE *fp = fopen(opt.keyfile, "r");
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;
		unsigned long lineno = 0;

		if (!fp)
			fatal(EXIT_USAGE, "%s: %s", opt.keyfile, strerror(errno));
		while ((len = getline(&line, &cap, fp)) >= 0) {
			char *s = line, *e = line + len;

			lineno++;
			while (e > s && (e[-1] == '\n' || e[-1] == '\r' ||
			    e[-1] == ' ' || e[-1] == '\t'))
				e--;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			if (s == e || *s == '#')
				continue;
			keys_add(s, (size_t)(e - s), lineno);
		}
		free(line);
		fclose(fp);
		if (keys.n == 0)
			fatal(EXIT_USAGE, "%s: no keys", opt.keyfile);
		return;
	}

	const char *pat = opt.pattern ? opt.pattern : "d#.test";
	const char *hash = strchr(pat, '#');

	if (*pat == '\0')
		fatal(EXIT_USAGE, "-p: empty pattern");
	keys.pre = pat;
	keys.pre_len = hash ? (size_t)(hash - pat) : strlen(pat);
	keys.post = hash ? hash + 1 : NULL;
	keys.post_len = hash ? strlen(hash + 1) : 0;
	keys.n = hash ? opt.keyspace : 1;

	size_t payload = keys.map_len + 1 + keys.pre_len +
	    (hash ? dec_len(keys.n - 1) : 0) + keys.post_len;
	if (payload > MAX_QUERY)
		fatal(EXIT_USAGE, "-p: requests would be up to %zu bytes, "
		    "Postfix sends at most %d", payload, MAX_QUERY);
	keys.build_max = payload + 8;
}

/* Builds the request for key number k into buf, returns its length. */
static size_t
build_request(char *buf, uint64_t k)
{
	size_t payload = keys.map_len + 1 + keys.pre_len + keys.post_len +
	    (keys.post ? dec_len(k) : 0);
	char *p = put_dec(buf, payload);

	*p++ = ':';
	memcpy(p, opt.map, keys.map_len);
	p += keys.map_len;
	*p++ = ' ';
	memcpy(p, keys.pre, keys.pre_len);
	p += keys.pre_len;
	if (keys.post) {
		p = put_dec(p, k);
		memcpy(p, keys.post, keys.post_len);
		p += keys.post_len;
	}
	*p++ = ',';
	return (size_t)(p - buf);
}

/* ------------------------------------------------------------------ */
/* Reply parsing							*/
/* ------------------------------------------------------------------ */

enum scan { SCAN_MORE, SCAN_DONE, SCAN_BAD, SCAN_BIG };

/*
 * Looks at the netstring at the start of b[0..n).  On SCAN_DONE, *pay and
 * *plen give the payload and *total its whole length; on SCAN_MORE *total
 * is the length it will have once known, else 0; on SCAN_BAD *why says
 * what is wrong.  A length above max is SCAN_BIG as soon as its digits
 * show it, before the payload is read.
 */
static enum scan
scan_reply(const char *b, size_t n, size_t max, const char **pay,
    size_t *plen, size_t *total, const char **why)
{
	size_t i = 0, len = 0;

	*total = 0;
	for (;; i++) {
		if (i == n)
			return SCAN_MORE;
		if (b[i] == ':')
			break;
		if (b[i] < '0' || b[i] > '9') {
			*why = i ? "length not followed by ':'"
			    : "reply does not start with a length";
			return SCAN_BAD;
		}
		if (i == 1 && b[0] == '0') {
			*why = "length has a leading zero";
			return SCAN_BAD;
		}
		len = len * 10 + (size_t)(b[i] - '0');
		if (len > max)
			return SCAN_BIG;
	}
	if (i == 0) {
		*why = "empty length before ':'";
		return SCAN_BAD;
	}
	*total = i + 1 + len + 1;
	if (n < *total)
		return SCAN_MORE;
	if (b[i + 1 + len] != ',') {
		*why = "payload not followed by ','";
		return SCAN_BAD;
	}
	*pay = b + i + 1;
	*plen = len;
	return SCAN_DONE;
}

enum status { ST_OK, ST_NOTFOUND, ST_TEMP, ST_TIMEOUT, ST_PERM, ST_N };
static const char *const status_word[ST_N] = {
	"OK", "NOTFOUND", "TEMP", "TIMEOUT", "PERM",
};

/* The status word is everything before the first space, as in Postfix. */
static enum status
reply_status(const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);
	size_t w = sp ? (size_t)(sp - p) : n;

	for (int s = 0; s < ST_N; s++)
		if (strlen(status_word[s]) == w && memcmp(p, status_word[s], w) == 0)
			return (enum status)s;
	return ST_N;
}

enum error {
	ER_FRAMING, ER_OVERSIZED, ER_STATUS, ER_CLOSED, ER_RESET,
	ER_REFUSED, ER_TIMEOUT, ER_IO, ER_MISMATCH, ER_N
};
static const char *const error_name[ER_N] = {
	"framing", "oversized", "status", "closed", "reset",
	"refused", "timeout", "io", "mismatch",
};

/* Printable copy of up to max bytes of b, for error messages. */
static void
printable(char *out, size_t outsz, const char *b, size_t n, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < n && i < max && o + 5 < outsz; i++) {
		unsigned char ch = (unsigned char)b[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '"')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", ch);
	}
	if (n > max && o + 4 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ------------------------------------------------------------------ */
/* Target and connecting						*/
/* ------------------------------------------------------------------ */

static struct sockaddr_storage target_addr;
static socklen_t target_len;
static int target_family;

static void
target_parse(const char *t)
{
	if (strncmp(t, "unix:", 5) == 0 || (strncmp(t, "inet:", 5) != 0 &&
	    strchr(t, '/'))) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&target_addr;
		const char *path = strncmp(t, "unix:", 5) == 0 ? t + 5 : t;

		if (*path == '\0' || strlen(path) >= sizeof(sun->sun_path))
			fatal(EXIT_USAGE, "bad unix socket path \"%s\"", path);
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		target_len = sizeof(*sun);
		target_family = AF_UNIX;
		return;
	}
	if (strncmp(t, "inet:", 5) == 0)
		t += 5;

	char host[256];
	const char *port, *end;

	if (*t == '[') {
		end = strchr(t, ']');
		if (!end || end[1] != ':' || (size_t)(end - t) > sizeof(host))
			fatal(EXIT_USAGE, "bad target \"%s\": want [ADDR]:PORT", t);
		memcpy(host, t + 1, (size_t)(end - t - 1));
		host[end - t - 1] = '\0';
		port = end + 2;
	} else {
		end = strrchr(t, ':');
		if (!end || end == t || (size_t)(end - t) >= sizeof(host))
			fatal(EXIT_USAGE, "bad target \"%s\": want inet:ADDR:PORT "
			    "or unix:PATH", t);
		memcpy(host, t, (size_t)(end - t));
		host[end - t] = '\0';
		port = end + 1;
	}

	struct addrinfo hints, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc)
		fatal(EXIT_SETUP, "%s: %s", t, gai_strerror(rc));
	memcpy(&target_addr, ai->ai_addr, ai->ai_addrlen);
	target_len = ai->ai_addrlen;
	target_family = ai->ai_family;
	freeaddrinfo(ai);
}

/*
 * Starts a non-blocking connect.  Returns the socket (connected, or with
 * *pending set while the handshake runs), or -1 with errno set.
 */
static int
connect_start(int *pending)
{
	int fd, one = 1;

	*pending = 0;
	fd = socket(target_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (target_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&target_addr, target_len) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		*pending = 1;
		return fd;
	}
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* The result of a connect that was pending: 0, or an errno value. */
static int
connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

/* Connects and waits for it, up to --timeout.  -1 with errno on failure. */
static int
connect_wait(void)
{
	int pending, fd = connect_start(&pending);

	if (fd < 0 || !pending)
		return fd;

	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int rc, err;

	do
		rc = poll(&pfd, 1, (int)(opt.timeout * 1000));
	while (rc < 0 && errno == EINTR);
	err = rc == 0 ? ETIMEDOUT : rc < 0 ? errno : connect_result(fd);
	if (err) {
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------------ */
/* Connections and threads						*/
/* ------------------------------------------------------------------ */

enum cstate {
	CS_CONNECTING,	/* non-blocking connect under way */
	CS_WRITING,	/* request partly written, waiting for EPOLLOUT */
	CS_WAITING,	/* request written, reading the reply */
	CS_BACKOFF,	/* no socket; connect again at t_start */
	CS_DONE,	/* --once: no key left for it; closed */
};

struct conn {
	int fd;
	int id;
	enum cstate state;
	uint32_t events;	/* what epoll watches for now */
	const char *req;	/* request in flight */
	size_t req_len, woff;
	size_t key;		/* its key's number */
	uint64_t counted;	/* replies counted in the measured window */
	uint64_t t_start;	/* request written / connect begun / retry at */
	char *rbuf;
	size_t rlen, rcap;
	char *wbuf;		/* -p: the built request */
};

struct worker {
	alignas(64) pthread_t tid;
	int index;
	int epfd;
	struct conn **conns;
	size_t nconns;
	uint64_t next_key;
	struct latency lat;
	uint64_t status[ST_N];
	uint64_t errors[ER_N];
	uint64_t first_err_at;	/* 0: none yet */
	char first_err[320];
	size_t active;		/* --once: connections not yet CS_DONE */
	uint64_t t_last;	/* --once: its last reply */
};

static uint64_t t_begin;	/* the clock starts (warm-up begins) */
static uint64_t t_measure;	/* replies from here on are counted */
static uint64_t t_stop;		/* ... up to here */
static uint64_t timeout_ns;
/* --once: the next key to ask, shared by every thread. */
static _Atomic uint64_t once_next;

static pthread_mutex_t show_lock = PTHREAD_MUTEX_INITIALIZER;
static long shown;

static void start_request(struct worker *, struct conn *);
static void conn_open(struct worker *, struct conn *, uint64_t);

static void
watch(struct worker *w, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return;
	if (epoll_ctl(w->epfd, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    c->fd, &ev) < 0)
		fatal(EXIT_SETUP, "epoll_ctl: %s", strerror(errno));
	c->events = events;
}

/*
 * Counts an error on c, remembers the first one's details, closes the
 * connection and opens a new one (the request in flight is abandoned).
 */
static void
conn_fail(struct worker *w, struct conn *c, enum error e, const char *why,
    const char *got, size_t got_len)
{
	uint64_t now = clock_ns();

	w->errors[e]++;
	if (!w->first_err_at) {
		char esc[200] = "";

		if (got_len)
			printable(esc, sizeof(esc), got, got_len, 48);
		w->first_err_at = now;
		snprintf(w->first_err, sizeof(w->first_err),
		    "connection %d, %.3f s into the run: %s: %s%s%s%s",
		    c->id, (double)(now - t_begin) / 1e9, error_name[e], why,
		    got_len ? " (received \"" : "", esc, got_len ? "\")" : "");
	}
	if (c->fd >= 0)
		close(c->fd);		/* also leaves the epoll set */
	c->fd = -1;
	c->events = 0;
	c->rlen = 0;
	conn_open(w, c, now);
}

/* Opens c's socket again; on failure retries after BACKOFF_NS. */
static void
conn_open(struct worker *w, struct conn *c, uint64_t now)
{
	int pending;

	c->fd = connect_start(&pending);
	c->t_start = now;
	if (c->fd < 0) {
		int e = errno;

		c->state = CS_BACKOFF;
		c->t_start = now + BACKOFF_NS;
		w->errors[ER_REFUSED]++;
		if (!w->first_err_at) {
			w->first_err_at = now;
			snprintf(w->first_err, sizeof(w->first_err),
			    "connection %d, %.3f s into the run: refused: "
			    "connect: %s", c->id, (double)(now - t_begin) / 1e9,
			    strerror(e));
		}
		return;
	}
	if (pending) {
		c->state = CS_CONNECTING;
		watch(w, c, EPOLLOUT);
		return;
	}
	watch(w, c, EPOLLIN);
	start_request(w, c);
}

/* Writes what is left of c's request.  Returns -1 if c failed. */
static int
write_request(struct worker *w, struct conn *c)
{
	while (c->woff < c->req_len) {
		ssize_t n = send(c->fd, c->req + c->woff, c->req_len - c->woff,
		    MSG_NOSIGNAL);

		if (n > 0) {
			c->woff += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->state = CS_WRITING;
			watch(w, c, EPOLLIN | EPOLLOUT);
			return 0;
		} else {
			int e = n < 0 ? errno : EIO;

			conn_fail(w, c, e == ECONNRESET || e == EPIPE ?
			    ER_RESET : ER_IO, strerror(e), NULL, 0);
			return -1;
		}
	}
	c->state = CS_WAITING;
	watch(w, c, EPOLLIN);
	return 0;
}

static void
start_request(struct worker *w, struct conn *c)
{
	uint64_t k;

	if (opt.once) {
		k = atomic_fetch_add(&once_next, 1);
		if (k >= keys.n) {
			/* Every key is taken: this connection is through. */
			close(c->fd);
			c->fd = -1;
			c->events = 0;
			c->state = CS_DONE;
			w->active--;
			return;
		}
	} else {
		k = w->next_key++ % keys.n;
	}

	c->key = (size_t)k;
	if (c->wbuf) {
		c->req = c->wbuf;
		c->req_len = build_request(c->wbuf, k);
	} else {
		c->req = keys.req[k];
		c->req_len = keys.req_len[k];
	}
	c->woff = 0;
	c->rlen = 0;
	c->t_start = clock_ns();
	write_request(w, c);
}

static void
show_pair(const struct conn *c, const char *reply, size_t len, uint64_t ns)
{
	char a[200], b[200];

	pthread_mutex_lock(&show_lock);
	if (shown < opt.show) {
		shown++;
		printable(a, sizeof(a), c->req, c->req_len, 120);
		printable(b, sizeof(b), reply, len, 120);
		fprintf(stderr, "[%d] \"%s\" -> \"%s\" %.1f us\n", c->id, a, b,
		    (double)ns / 1e3);
	}
	pthread_mutex_unlock(&show_lock);
}

/* -e: whether the reply payload is the one key k must get. */
static bool
reply_expected(size_t k, const char *pay, size_t plen)
{
	while (plen && pay[plen - 1] == ' ')
		plen--;
	if (keys.expect_prefix[k])
		return plen >= keys.expect_len[k] &&
		    memcmp(pay, keys.expect[k], keys.expect_len[k]) == 0;
	return plen == keys.expect_len[k] &&
	    memcmp(pay, keys.expect[k], plen) == 0;
}

/* A well-formed reply, but not the expected one: counted, and the
 * connection goes on, as Postfix would take the answer. */
static void
count_mismatch(struct worker *w, struct conn *c, const char *pay, size_t plen,
    uint64_t now)
{
	w->errors[ER_MISMATCH]++;
	if (!w->first_err_at) {
		char got[64], want[64], key[64];
		const char *r = memchr(c->req, ':', c->req_len);
		size_t skip = r ? (size_t)(r - c->req) + 1 + keys.map_len + 1 : 0;

		printable(got, sizeof(got), pay, plen, 60);
		printable(want, sizeof(want), keys.expect[c->key],
		    keys.expect_len[c->key], 60);
		printable(key, sizeof(key), c->req + skip,
		    c->req_len - skip - 1, 60);
		w->first_err_at = now;
		snprintf(w->first_err, sizeof(w->first_err),
		    "connection %d, %.3f s into the run: mismatch: key \"%s\" "
		    "got \"%s\", expected \"%s\"%s", c->id,
		    (double)(now - t_begin) / 1e9, key, got, want,
		    keys.expect_prefix[c->key] ? "..." : "");
	}
}

/* Reads on c; when its reply is complete, counts it and sends the next. */
static void
read_reply(struct worker *w, struct conn *c)
{
	ssize_t n;

	if (c->rlen == c->rcap) {		/* cannot happen: see below */
		conn_fail(w, c, ER_FRAMING, "reply buffer full", c->rbuf, c->rlen);
		return;
	}
	n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
	if (n < 0) {
		int e = errno;

		if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
			return;
		conn_fail(w, c, e == ECONNRESET || e == EPIPE ? ER_RESET : ER_IO,
		    strerror(e), c->rbuf, c->rlen);
		return;
	}
	if (n == 0) {
		conn_fail(w, c, ER_CLOSED, c->rlen ?
		    "server closed the connection in the middle of a reply" :
		    c->state == CS_WAITING ?
		    "server closed the connection instead of replying" :
		    "server closed the connection", c->rbuf, c->rlen);
		return;
	}
	c->rlen += (size_t)n;
	if (c->state != CS_WAITING) {
		conn_fail(w, c, ER_FRAMING, "data arrived before the request "
		    "was completely sent", c->rbuf, c->rlen);
		return;
	}

	const char *pay = NULL, *why = "";
	size_t plen = 0, total;

	switch (scan_reply(c->rbuf, c->rlen, opt.max_reply, &pay, &plen,
	    &total, &why)) {
	case SCAN_MORE:
		/*
		 * Make room for the whole reply plus some, so that bytes sent
		 * after it show up in the same read and are caught.
		 */
		if (total + RBUF_SLACK > c->rcap) {
			size_t cap = total + RBUF_SLACK;
			char *nb = realloc(c->rbuf, cap);

			if (!nb)
				fatal(EXIT_SETUP, "out of memory");
			c->rbuf = nb;
			c->rcap = cap;
		}
		return;
	case SCAN_BIG:
		conn_fail(w, c, ER_OVERSIZED, "reply length above --max-reply",
		    c->rbuf, c->rlen);
		return;
	case SCAN_BAD:
		conn_fail(w, c, ER_FRAMING, why, c->rbuf, c->rlen);
		return;
	case SCAN_DONE:
		break;
	}
	if (total != c->rlen) {
		conn_fail(w, c, ER_FRAMING, "bytes after the reply netstring",
		    c->rbuf, c->rlen);
		return;
	}

	uint64_t now = clock_ns();
	enum status st = reply_status(pay, plen);

	if (opt.show)
		show_pair(c, c->rbuf, c->rlen, now - c->t_start);
	if (st == ST_N) {
		conn_fail(w, c, ER_STATUS, "reply is no OK, NOTFOUND, TEMP, "
		    "TIMEOUT or PERM", c->rbuf, c->rlen);
		return;
	}
	if (opt.expect && !reply_expected(c->key, pay, plen))
		count_mismatch(w, c, pay, plen, now);
	if (now >= t_measure && now < t_stop) {
		lat_add(&w->lat, now - c->t_start);
		w->status[st]++;
		c->counted++;
		w->t_last = now;
	}
	if (c->rcap > 4 * RBUF_INITIAL) {	/* after a big reply */
		char *nb = realloc(c->rbuf, RBUF_INITIAL);

		if (nb) {
			c->rbuf = nb;
			c->rcap = RBUF_INITIAL;
		}
	}
	start_request(w, c);
}

static void
on_event(struct worker *w, struct conn *c, uint32_t ev)
{
	switch (c->state) {
	case CS_CONNECTING: {
		int err = connect_result(c->fd);

		if (err) {
			close(c->fd);
			c->fd = -1;
			c->events = 0;
			c->state = CS_BACKOFF;
			c->t_start = clock_ns() + BACKOFF_NS;
			w->errors[ER_REFUSED]++;
			if (!w->first_err_at) {
				w->first_err_at = clock_ns();
				snprintf(w->first_err, sizeof(w->first_err),
				    "connection %d: refused: connect: %s", c->id,
				    strerror(err));
			}
			return;
		}
		watch(w, c, EPOLLIN);
		start_request(w, c);
		return;
	}
	case CS_WRITING:
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			read_reply(w, c);	/* data, EOF or error: all fail */
			return;
		}
		write_request(w, c);
		return;
	case CS_WAITING:
		read_reply(w, c);
		return;
	case CS_BACKOFF:
	case CS_DONE:
		return;
	}
}

/* Every CHECK_NS: time out slow requests, retry failed connects. */
static void
scan_conns(struct worker *w, uint64_t now)
{
	for (size_t i = 0; i < w->nconns; i++) {
		struct conn *c = w->conns[i];

		switch (c->state) {
		case CS_BACKOFF:
			if (now >= c->t_start)
				conn_open(w, c, now);
			break;
		case CS_CONNECTING:
			if (now - c->t_start > timeout_ns) {
				close(c->fd);
				c->fd = -1;
				c->events = 0;
				conn_fail(w, c, ER_REFUSED,
				    "connect not finished within --timeout", NULL, 0);
			}
			break;
		case CS_WRITING:
		case CS_WAITING:
			if (now - c->t_start > timeout_ns)
				conn_fail(w, c, ER_TIMEOUT,
				    "no complete reply within --timeout",
				    c->rbuf, c->rlen);
			break;
		case CS_DONE:
			break;
		}
	}
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	uint64_t now = clock_ns(), next_scan = now + CHECK_NS;

	w->active = w->nconns;
	for (size_t i = 0; i < w->nconns; i++) {
		watch(w, w->conns[i], EPOLLIN);
		start_request(w, w->conns[i]);
	}
	for (;;) {
		now = clock_ns();
		if (now >= t_stop || (opt.once && w->active == 0))
			break;

		uint64_t wait_ns = t_stop - now;
		if (next_scan <= now)
			wait_ns = 0;
		else if (next_scan - now < wait_ns)
			wait_ns = next_scan - now;
		int n = epoll_wait(w->epfd, evs, 256,
		    (int)((wait_ns + 999999) / 1000000));

		if (n < 0 && errno != EINTR)
			fatal(EXIT_SETUP, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			on_event(w, evs[i].data.ptr, evs[i].events);
		now = clock_ns();
		if (now >= next_scan) {
			scan_conns(w, now);
			next_scan = now + CHECK_NS;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Stallers								*/
/* ------------------------------------------------------------------ */

struct staller_report {
	long open, closed, reset, answered;
};

static int *stallers;

static void
stallers_open(void)
{
	const char *req;
	size_t len;
	char buf[MAX_QUERY + 32];

	if (opt.stallers == 0)
		return;
	if (keys.req) {
		req = keys.req[0];
		len = keys.req_len[0];
	} else {
		len = build_request(buf, 0);
		req = buf;
	}
	stallers = calloc((size_t)opt.stallers, sizeof(*stallers));
	if (!stallers)
		fatal(EXIT_SETUP, "out of memory");
	for (long i = 0; i < opt.stallers; i++) {
		int fd = connect_wait();

		if (fd < 0)
			fatal(EXIT_SETUP, "%s: staller %ld: connect: %s", opt.target,
			    i, strerror(errno));
		if (send(fd, req, len / 2, MSG_NOSIGNAL) != (ssize_t)(len / 2))
			fatal(EXIT_SETUP, "%s: staller %ld: send failed", opt.target, i);
		stallers[i] = fd;
	}
}

/* What became of the stallers: still open, or closed/reset/answered. */
static void
stallers_check(struct staller_report *r)
{
	memset(r, 0, sizeof(*r));
	for (long i = 0; i < opt.stallers; i++) {
		char b[64];
		ssize_t n = recv(stallers[i], b, sizeof(b), MSG_DONTWAIT | MSG_PEEK);

		if (n > 0)
			r->answered++;
		else if (n == 0)
			r->closed++;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			r->open++;
		else
			r->reset++;
		close(stallers[i]);
	}
	free(stallers);
}

/* ------------------------------------------------------------------ */
/* Main									*/
/* ------------------------------------------------------------------ */

static void
parse_args(int argc, char **argv)
{
	enum { O_TIMEOUT = 256, O_MAXREPLY, O_SHOW, O_JSON, O_ONCE };
	const char *expectfile = NULL;
	static const struct option lopts[] = {
		{ "connections", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "stallers", required_argument, NULL, 'S' },
		{ "map", required_argument, NULL, 'm' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "keyspace", required_argument, NULL, 'n' },
		{ "keys", required_argument, NULL, 'k' },
		{ "expect", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "max-reply", required_argument, NULL, O_MAXREPLY },
		{ "show", required_argument, NULL, O_SHOW },
		{ "json", no_argument, NULL, O_JSON },
		{ "once", no_argument, NULL, O_ONCE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:t:d:w:S:m:p:n:k:e:h", lopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt.conns = (long)arg_count(optarg, "-c", 1, 1000000);
			break;
		case 't':
			opt.threads = (long)arg_count(optarg, "-t", 1, 1024);
			break;
		case 'd':
			opt.duration = arg_seconds(optarg, "-d", 0.001);
			break;
		case 'w':
			opt.warmup = arg_seconds(optarg, "-w", 0);
			break;
		case 'S':
			opt.stallers = (long)arg_count(optarg, "-S", 0, 1000000);
			break;
		case 'm':
			opt.map = optarg;
			break;
		case 'p':
			opt.pattern = optarg;
			break;
		case 'n':
			opt.keyspace = arg_count(optarg, "-n", 1, 1000000000000ul);
			break;
		case 'k':
			opt.keyfile = optarg;
			break;
		case 'e':
			expectfile = optarg;
			break;
		case O_TIMEOUT:
			opt.timeout = arg_seconds(optarg, "--timeout", 0.001);
			break;
		case O_MAXREPLY:
			opt.max_reply = arg_count(optarg, "--max-reply", 1,
			    1ul << 30);
			break;
		case O_SHOW:
			opt.show = (long)arg_count(optarg, "--show", 0, 1000000);
			break;
		case O_JSON:
			opt.json = 1;
			break;
		case O_ONCE:
			opt.once = 1;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_FINE);
		default:
			fatal(EXIT_USAGE, "see \"" PROG " --help\"");
		}
	}
	if (optind != argc - 1)
		fatal(EXIT_USAGE, "%s; see \"" PROG " --help\"", optind < argc ?
		    "give exactly one target, after the options" :
		    "no target: inet:ADDR:PORT or unix:PATH");
	opt.target = argv[optind];
	if ((opt.keyfile != NULL) + (opt.pattern != NULL) +
	    (expectfile != NULL) > 1)
		fatal(EXIT_USAGE, "-k, -e and -p exclude each other");
	if (expectfile) {
		opt.keyfile = expectfile;
		opt.expect = 1;
	}
	if (opt.once && opt.warmup > 0)
		fatal(EXIT_USAGE, "--once counts every reply: no -w with it");
	if (opt.once && opt.stallers > 0)
		fatal(EXIT_USAGE, "--once and -S exclude each other");
	if (opt.threads > opt.conns)
		opt.threads = opt.conns;
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/*
 * Every connection and staller is a descriptor: raise the soft limit as
 * far as needed and the hard limit allows, or say at once that it is too
 * low (instead of failing at connection 1021 with EMFILE).
 */
static void
fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)opt.conns + (rlim_t)opt.stallers +
	    (rlim_t)opt.threads + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ?
	    want : rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		fatal(EXIT_SETUP, "%ld connections and %ld stallers need %lu "
		    "descriptors; the hard limit is %lu (raise ulimit -Hn)",
		    opt.conns, opt.stallers, (unsigned long)want,
		    (unsigned long)rl.rlim_max);
}

static double
tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	keys_setup();
	target_parse(opt.target);
	timeout_ns = (uint64_t)(opt.timeout * 1e9);
	fd_limit();

	/* Stallers first, so that the server holds them before the load. */
	stallers_open();

	size_t nc = (size_t)opt.conns, nt = (size_t)opt.threads;
	struct conn *conns = calloc(nc, sizeof(*conns));
	struct worker *workers = aligned_alloc(64,
	    (nt * sizeof(*workers) + 63) / 64 * 64);
	struct conn **cptr = calloc(nc, sizeof(*cptr));

	if (!conns || !workers || !cptr)
		fatal(EXIT_SETUP, "out of memory");
	memset(workers, 0, nt * sizeof(*workers));

	/* Connect everything before the clock starts. */
	for (size_t i = 0; i < nc; i++) {
		struct conn *c = &conns[i];

		c->id = (int)i;
		c->rcap = RBUF_INITIAL;
		c->rbuf = malloc(c->rcap);
		c->wbuf = keys.req ? NULL : malloc(keys.build_max);
		if (!c->rbuf || (!keys.req && !c->wbuf))
			fatal(EXIT_SETUP, "out of memory");
		c->fd = connect_wait();
		if (c->fd < 0)
			fatal(EXIT_SETUP, "%s: connection %zu: connect: %s",
			    opt.target, i, strerror(errno));
	}

	/* Round-robin: connection i goes to thread i % T. */
	for (size_t t = 0, at = 0; t < nt; t++) {
		struct worker *w = &workers[t];

		w->index = (int)t;
		w->nconns = nc / nt + (t < nc % nt);
		w->conns = &cptr[at];
		for (size_t j = 0; j < w->nconns; j++)
			w->conns[j] = &conns[t + j * nt];
		at += w->nconns;
		w->next_key = (uint64_t)(keys.n / nt * t);
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			fatal(EXIT_SETUP, "epoll_create1: %s", strerror(errno));
	}

	struct rusage ru0, ru1;

	getrusage(RUSAGE_SELF, &ru0);
	t_begin = clock_ns();
	t_measure = t_begin + (uint64_t)(opt.warmup * 1e9);
	t_stop = t_measure + (uint64_t)(opt.duration * 1e9);
	for (size_t t = 0; t < nt; t++) {
		int rc = pthread_create(&workers[t].tid, NULL, worker_run,
		    &workers[t]);

		if (rc)
			fatal(EXIT_SETUP, "pthread_create: %s", strerror(rc));
	}
	for (size_t t = 0; t < nt; t++)
		pthread_join(workers[t].tid, NULL);
	uint64_t t_end = clock_ns();
	getrusage(RUSAGE_SELF, &ru1);

	struct staller_report sr;
	stallers_check(&sr);

	/* Merge the threads' figures. */
	static struct latency lat;
	uint64_t status[ST_N] = { 0 }, errors[ER_N] = { 0 }, nerr = 0;
	const struct worker *first = NULL;
	uint64_t t_last = t_begin;

	for (size_t t = 0; t < nt; t++) {
		struct worker *w = &workers[t];

		if (w->t_last > t_last)
			t_last = w->t_last;

		lat_merge(&lat, &w->lat);
		for (int s = 0; s < ST_N; s++)
			status[s] += w->status[s];
		for (int e = 0; e < ER_N; e++)
			errors[e] += w->errors[e];
		if (w->first_err_at && (!first ||
		    w->first_err_at < first->first_err_at))
			first = w;
		close(w->epfd);
	}
	for (int e = 0; e < ER_N; e++)
		nerr += errors[e];

	/* Fairness: the replies of the least and the most served connection. */
	uint64_t pc_min = UINT64_MAX, pc_max = 0;

	for (size_t i = 0; i < nc; i++) {
		if (conns[i].counted < pc_min)
			pc_min = conns[i].counted;
		if (conns[i].counted > pc_max)
			pc_max = conns[i].counted;
	}

	/*
	 * --once: the window is the time to the last reply, and every key
	 * must have had one (a request lost to an error is not asked again).
	 */
	double window = opt.duration;
	uint64_t unanswered = 0;

	if (opt.once) {
		window = (double)(t_last - t_begin) / 1e9;
		unanswered = lat.n < keys.n ? keys.n - lat.n : 0;
	}
	double rps = window > 0 ? (double)lat.n / window : 0;
	double q[4] = {
		lat_quantile(&lat, 0.50) / 1e3, lat_quantile(&lat, 0.90) / 1e3,
		lat_quantile(&lat, 0.99) / 1e3, lat_quantile(&lat, 0.999) / 1e3,
	};
	double lmax = (double)lat.max / 1e3;
	double lmean = lat.n ? lat.sum / (double)lat.n / 1e3 : 0;
	double cpu_user = tv_sec(ru1.ru_utime) - tv_sec(ru0.ru_utime);
	double cpu_sys = tv_sec(ru1.ru_stime) - tv_sec(ru0.ru_stime);
	double wall = (double)(t_end - t_begin) / 1e9;
	char keydesc[300];

	if (opt.keyfile)
		snprintf(keydesc, sizeof(keydesc), "%s (%zu keys%s)", opt.keyfile,
		    keys.n, opt.expect ? ", replies checked" : "");
	else
		snprintf(keydesc, sizeof(keydesc), "%s (%zu keys)",
		    opt.pattern ? opt.pattern : "d#.test", keys.n);

	if (opt.json) {
		printf("{\"tool\":\"smload\",\"target\":");
		json_str(opt.target);
		printf(",\"map\":");
		json_str(opt.map);
		printf(",\"keys\":");
		json_str(opt.keyfile ? opt.keyfile : opt.pattern ? opt.pattern :
		    "d#.test");
		printf(",\"keyspace\":%zu,\"connections\":%ld,\"threads\":%ld,"
		    "\"stallers\":%ld,\"duration_s\":%.3f,\"warmup_s\":%.3f,"
		    "\"once\":%s,\"unanswered\":%" PRIu64 ","
		    "\"requests\":%" PRIu64 ",\"rps\":%.1f,\"latency_us\":{"
		    "\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,"
		    "\"max\":%.2f,\"mean\":%.2f},\"replies\":{",
		    keys.n, opt.conns, opt.threads, opt.stallers, window,
		    opt.warmup, opt.once ? "true" : "false", unanswered, lat.n, rps, q[0], q[1], q[2], q[3], lmax, lmean);
		for (int s = 0; s < ST_N; s++)
			printf("%s\"%s\":%" PRIu64, s ? "," : "", status_word[s],
			    status[s]);
		printf("},\"errors\":{");
		for (int e = 0; e < ER_N; e++)
			printf("%s\"%s\":%" PRIu64, e ? "," : "", error_name[e],
			    errors[e]);
		printf("},\"per_connection\":{\"min\":%" PRIu64 ",\"max\":%"
		    PRIu64 "}", pc_min, pc_max);
		printf(",\"stallers_at_end\":{\"open\":%ld,\"closed\":%ld,"
		    "\"reset\":%ld,\"answered\":%ld},\"client_cpu\":{"
		    "\"user_s\":%.3f,\"sys_s\":%.3f,\"wall_s\":%.3f}}\n",
		    sr.open, sr.closed, sr.reset, sr.answered,
		    cpu_user, cpu_sys, wall);
	} else {
		printf("target       %s, map \"%s\", keys %s\n", opt.target,
		    opt.map, keydesc);
		printf("load         %ld connection%s on %ld thread%s", opt.conns,
		    opt.conns == 1 ? "" : "s", opt.threads,
		    opt.threads == 1 ? "" : "s");
		if (opt.stallers)
			printf(", %ld staller%s", opt.stallers,
			    opt.stallers == 1 ? "" : "s");
		if (opt.once)
			printf("; each key once: %.3f s to the last reply\n",
			    window);
		else
			printf("; %.3f s measured after %.3f s warm-up\n",
			    opt.duration, opt.warmup);
		printf("requests     %" PRIu64 "  (%.1f req/s)\n", lat.n, rps);
		if (opt.conns > 1)
			printf("per conn     min %" PRIu64 "  max %" PRIu64
			    " replies\n", pc_min, pc_max);
		printf("latency us   p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  "
		    "max %.1f  (mean %.1f)\n", q[0], q[1], q[2], q[3], lmax, lmean);
		printf("replies     ");
		for (int s = 0; s < ST_N; s++)
			printf(" %s %" PRIu64, status_word[s], status[s]);
		printf("\nerrors      ");
		for (int e = 0; e < ER_N; e++)
			printf(" %s %" PRIu64, error_name[e], errors[e]);
		printf("\n");
		if (opt.stallers)
			printf("stallers     at the end: %ld still open, %ld closed "
			    "by the server, %ld reset, %ld answered\n", sr.open,
			    sr.closed, sr.reset, sr.answered);
		printf("client cpu   user %.2f s  sys %.2f s  (%.0f%% of one core)\n",
		    cpu_user, cpu_sys, wall > 0 ? 100 * (cpu_user + cpu_sys) / wall
		    : 0.0);
	}
	fflush(stdout);

	if (first)
		fprintf(stderr, PROG ": %" PRIu64 " error%s; the first: %s\n",
		    nerr, nerr == 1 ? "" : "s", first->first_err);
	else if (lat.n == 0)
		fprintf(stderr, PROG ": no reply was counted in the measured "
		    "window\n");
	if (unanswered)
		fprintf(stderr, PROG ": %" PRIu64 " of %zu keys got no reply "
		    "(lost to errors, or -d ran out first)\n", unanswered, keys.n);

	for (size_t i = 0; i < nc; i++) {
		if (conns[i].fd >= 0)
			close(conns[i].fd);
		free(conns[i].rbuf);
		free(conns[i].wbuf);
	}
	free(conns);
	free(cptr);
	free(workers);
	for (size_t i = 0; keys.req && i < keys.n; i++) {
		free(keys.req[i]);
		free(keys.expect[i]);
	}
	free(keys.req);
	free(keys.req_len);
	free(keys.expect);
	free(keys.expect_len);
	free(keys.expect_prefix);

	return nerr || unanswered || lat.n == 0 ? EXIT_ERRORS : EXIT_FINE;
}
