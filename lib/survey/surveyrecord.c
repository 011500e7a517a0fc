/* surveyrecord - one line of a survey file read and checked; see
 * surveyrecord.h for the contract.
 *
 * jansson parses the line; every member is then checked in the order of
 * the format's description, so that the reason names the first member
 * that is wrong. The hosts are kept in the order of their array, each
 * host's addresses after those of the hosts before it, and a permutation
 * gives the preference order (hosts are few: an insertion sort, stable). */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "survey/surveyrecord.h"

#define WORD_SHOWN 40			/* bytes of an unknown word quoted in a reason */

static const char *const mx_names[SURVEYRECORD_MX_COUNT] = {"hosts", "null", "nxdomain", "failed"};

const char *
surveyrecord_mx_name(enum surveyrecord_mx mx)
{
	return (unsigned)mx < SURVEYRECORD_MX_COUNT ? mx_names[mx] : "unknown";
}

void
surveyrecord_init(struct surveyrecord *r)
{
	memset(r, 0, sizeof(*r));
}

void
surveyrecord_free(struct surveyrecord *r)
{
	free(r->hosts);
	free(r->addrs);
	surveyrecord_init(r);
}

const struct surveyrecord_host *
surveyrecord_host(const struct surveyrecord *r, size_t k)
{
	return &r->hosts[r->order[k]];
}

/* Sets the reason, printable ASCII only; returns code. */
static int __attribute__((format(printf, 3, 4)))
fail(struct surveyrecord *r, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	for (char *p = r->why; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return code;
}

/* A word from the data, cut short, for a reason (fail() cleans it). */
static const char *
shown(const char *word, char out[WORD_SHOWN + 4])
{
	size_t n = strlen(word);

	if (n <= WORD_SHOWN)
		return word;
	memcpy(out, word, WORD_SHOWN);
	memcpy(out + WORD_SHOWN, "...", 4);
	return out;
}

static int
word_index(const char *word, const char *(*name)(int), int count)
{
	for (int i = 0; i < count; i++)
		if (strcmp(name(i), word) == 0)
			return i;
	return -1;
}

static const char *
mx_name(int i)
{
	return mx_names[i];
}

static const char *
result_name(int i)
{
	return policy_result_name((enum policy_result)i);
}

static const char *
dns_name(int i)
{
	return policy_dns_name((enum policy_dns)i);
}

static const char *
verdict_name(int i)
{
	return policy_host_verdict_name((enum policy_host_verdict)i);
}

static const char *
address_class_name(int i)
{
	return surveyclass_name((enum surveyclass)i);
}

/* A string member: NULL (with the reason set) when missing or not one. */
static const char *
get_string(struct surveyrecord *r, json_t *obj, const char *key, const char *path, bool optional, bool *bad)
{
	json_t *v = json_object_get(obj, key);

	if (!v || (optional && json_is_null(v))) {
		if (!v && !optional) {
			fail(r, SURVEYRECORD_BAD, "%s%s: missing", path, key);
			*bad = true;
		}
		return NULL;
	}
	if (!json_is_string(v)) {
		fail(r, SURVEYRECORD_BAD, "%s%s: not a string", path, key);
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

/* One of the words name(0..count-1) gives: its index, or -1 with the
 * reason set. */
static int
get_word(struct surveyrecord *r, json_t *obj, const char *key, const char *path, const char *(*name)(int),
    int count)
{
	bool bad = false;
	const char *word = get_string(r, obj, key, path, false, &bad);
	char cut[WORD_SHOWN + 4];

	if (!word)
		return -1;
	int i = word_index(word, name, count);
	if (i < 0)
		fail(r, SURVEYRECORD_BAD, "%s%s: unknown word \"%s\"", path, key, shown(word, cut));
	return i;
}

/* An integer member in [min, max]; -1 with the reason set. */
static int
get_int(struct surveyrecord *r, json_t *obj, const char *key, const char *path, bool optional, json_int_t min,
    json_int_t max, json_int_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (optional)
			return 0;
		return fail(r, -1, "%s%s: missing", path, key);
	}
	if (!json_is_integer(v))
		return fail(r, -1, "%s%s: not an integer", path, key);
	*out = json_integer_value(v);
	if (*out < min || *out > max)
		return fail(r, -1, "%s%s: %lld out of range %lld..%lld", path, key, (long long)*out, (long long)min,
		    (long long)max);
	return 0;
}

/* A domain or host name, folded to lower case without a trailing dot. */
static int
get_name(struct surveyrecord *r, json_t *obj, const char *key, const char *path,
    char out[SURVEYRECORD_NAME_MAX + 1])
{
	bool bad = false;
	const char *name = get_string(r, obj, key, path, false, &bad);

	if (!name)
		return -1;
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0)
		return fail(r, -1, "%s%s: empty", path, key);
	if (n > SURVEYRECORD_NAME_MAX)
		return fail(r, -1, "%s%s: longer than %u bytes", path, key, SURVEYRECORD_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return fail(r, -1, "%s%s: a control character", path, key);
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[n] = '\0';
	return 0;
}

static int
parse_address(struct surveyrecord *r, json_t *a, const char *path, struct surveyrecord_address *out)
{
	bool bad = false;
	json_int_t port;
	char cut[WORD_SHOWN + 4];

	if (!json_is_object(a))
		return fail(r, -1, "%.*s: not an object", (int)strlen(path) - 1, path);
	const char *text = get_string(r, a, "address", path, false, &bad);
	if (!text)
		return -1;
	memset(out->addr, 0, sizeof(out->addr));
	if (inet_pton(AF_INET, text, out->addr) == 1)
		out->family = 4;
	else if (inet_pton(AF_INET6, text, out->addr) == 1)
		out->family = 6;
	else
		return fail(r, -1, "%saddress: not an IP address: \"%s\"", path, shown(text, cut));
	if (get_int(r, a, "port", path, false, 1, 65535, &port) < 0)
		return -1;
	out->port = (uint16_t)port;
	int cls = get_word(r, a, "class", path, address_class_name, SURVEYCLASS_NONE);
	if (cls < 0)
		return -1;
	out->cls = (uint8_t)cls;
	get_string(r, a, "detail", path, true, &bad);
	return bad ? -1 : 0;
}

static int
parse_host(struct surveyrecord *r, json_t *h, size_t i, struct surveyrecord_host *out,
    struct surveyrecord_address *dst)
{
	char path[64], apath[96];
	char cut[WORD_SHOWN + 4];
	json_int_t pref = 0;
	bool bad = false;

	snprintf(path, sizeof(path), "hosts[%zu].", i);
	if (!json_is_object(h))
		return fail(r, -1, "hosts[%zu]: not an object", i);
	if (get_name(r, h, "name", path, out->name) < 0)
		return -1;
	if (get_int(r, h, "preference", path, true, 0, 65535, &pref) < 0)
		return -1;
	out->preference = (uint32_t)pref;
	const char *verdict = get_string(r, h, "verdict", path, false, &bad);
	if (!verdict)
		return -1;
	/* "noaddr" is how the format's description spells no-address. */
	if (word_index(verdict, verdict_name, POLICY_HOST_NOADDR + 1) < 0 && strcmp(verdict, "noaddr") != 0)
		return fail(r, -1, "%sverdict: unknown word \"%s\"", path, shown(verdict, cut));
	json_t *tlsa = json_object_get(h, "tlsa");
	if (tlsa && !json_is_null(tlsa)) {
		if (!json_is_array(tlsa))
			return fail(r, -1, "%stlsa: not an array", path);
		for (size_t j = 0; j < json_array_size(tlsa); j++)
			if (!json_is_string(json_array_get(tlsa, j)))
				return fail(r, -1, "%stlsa[%zu]: not a string", path, j);
	}
	json_t *addrs = json_object_get(h, "addresses");
	if (!addrs)
		return fail(r, -1, "%saddresses: missing", path);
	if (!json_is_array(addrs))
		return fail(r, -1, "%saddresses: not an array", path);
	size_t n = json_array_size(addrs);
	if (n > SURVEYRECORD_MAX_ADDRESSES)
		return fail(r, -1, "%saddresses: more than %u", path, SURVEYRECORD_MAX_ADDRESSES);
	out->n = (uint32_t)n;
	for (size_t j = 0; j < n; j++) {
		snprintf(apath, sizeof(apath), "%saddresses[%zu].", path, j);
		if (parse_address(r, json_array_get(addrs, j), apath, &dst[j]) < 0)
			return -1;
	}
	return 0;
}

/* The hosts of the array, each with its addresses after the previous
 * hosts' in r->addrs. */
static int
parse_hosts(struct surveyrecord *r, json_t *hosts)
{
	size_t nh = json_array_size(hosts), total = 0;

	if (nh > r->caphosts) {
		struct surveyrecord_host *p = realloc(r->hosts, nh * sizeof(*p));
		if (!p)
			return fail(r, SURVEYRECORD_NOMEM, "out of memory");
		r->hosts = p;
		r->caphosts = nh;
	}
	for (size_t i = 0; i < nh; i++) {
		json_t *h = json_array_get(hosts, i);
		json_t *addrs = json_is_object(h) ? json_object_get(h, "addresses") : NULL;
		size_t n = json_is_array(addrs) ? json_array_size(addrs) : 0;
		if (n > SURVEYRECORD_MAX_ADDRESSES)
			n = 0;	/* refused by parse_host() before it writes */
		if (!r->addrs || total + n > r->capaddrs) {
			size_t cap = total + n + 64;
			struct surveyrecord_address *p = realloc(r->addrs, cap * sizeof(*p));
			if (!p)
				return fail(r, SURVEYRECORD_NOMEM, "out of memory");
			r->addrs = p;
			r->capaddrs = cap;
		}
		if (parse_host(r, h, i, &r->hosts[i], r->addrs + total) < 0)
			return -1;
		r->hosts[i].first = (uint32_t)total;
		total += r->hosts[i].n;
	}
	r->nhosts = nh;
	r->naddrs = total;
	return 0;
}

/* The preference order, and the domain's class and mismatch from it. */
static void
order_hosts(struct surveyrecord *r)
{
	for (size_t i = 0; i < r->nhosts; i++) {
		size_t j = i;
		while (j > 0 && r->hosts[r->order[j - 1]].preference > r->hosts[i].preference) {
			r->order[j] = r->order[j - 1];
			j--;
		}
		r->order[j] = (uint16_t)i;
	}
	r->cls = SURVEYCLASS_NONE;
	r->mismatch = false;
	for (size_t k = 0; k < r->nhosts; k++) {
		const struct surveyrecord_host *h = surveyrecord_host(r, k);
		for (uint32_t j = 0; j < h->n; j++) {
			uint8_t c = r->addrs[h->first + j].cls;
			if (r->cls == SURVEYCLASS_NONE && c != SURVEYCLASS_REFUSED && c != SURVEYCLASS_SKIPPED)
				r->cls = (enum surveyclass)c;
			if (c == SURVEYCLASS_DANE_MISMATCH)
				r->mismatch = true;
		}
	}
}

static int
parse_record(struct surveyrecord *r, json_t *rec)
{
	json_int_t t;
	bool bad = false;
	char cut[WORD_SHOWN + 4];
	int result, mx, mx_dns, rule;

	if (!json_is_object(rec))
		return fail(r, -1, "not a JSON object");
	if (get_name(r, rec, "domain", "", r->domain) < 0 ||
	    get_int(r, rec, "time", "", false, 0, INT64_MAX, &t) < 0 ||
	    (result = get_word(r, rec, "result", "", result_name, POLICY_TEMP + 1)) < 0)
		return -1;
	r->time = t;
	r->result = (enum policy_result)result;
	const char *rule_word = get_string(r, rec, "rule", "", false, &bad);
	if (!rule_word)
		return -1;
	if ((rule = policy_rule_from_name(rule_word)) < 0)
		return fail(r, -1, "rule: unknown word \"%s\"", shown(rule_word, cut));
	r->rule = (enum policy_rule)rule;
	if ((mx = get_word(r, rec, "mx", "", mx_name, SURVEYRECORD_MX_COUNT)) < 0 ||
	    (mx_dns = get_word(r, rec, "mx_security", "", dns_name, POLICY_DNS_TIMEOUT + 1)) < 0)
		return -1;
	r->mx = (enum surveyrecord_mx)mx;
	r->mx_security = (enum policy_dns)mx_dns;
	get_string(r, rec, "level", "", true, &bad);
	get_string(r, rec, "reason", "", true, &bad);
	if (bad)
		return -1;

	json_t *hosts = json_object_get(rec, "hosts");
	if (!hosts)
		return fail(r, -1, "hosts: missing");
	if (!json_is_array(hosts))
		return fail(r, -1, "hosts: not an array");
	size_t nh = json_array_size(hosts);
	if (nh > SURVEYRECORD_MAX_HOSTS)
		return fail(r, -1, "hosts: more than %u", SURVEYRECORD_MAX_HOSTS);
	if (nh > 0 && r->mx != SURVEYRECORD_MX_HOSTS)
		return fail(r, -1, "hosts: not empty, but mx is \"%s\"", mx_names[r->mx]);
	int rc = parse_hosts(r, hosts);
	if (rc < 0)
		return rc;
	order_hosts(r);
	return 0;
}

int
surveyrecord_parse(struct surveyrecord *r, const char *line, size_t len)
{
	json_error_t err;

	r->why[0] = '\0';
	if (len > SURVEYRECORD_LINE_MAX)
		return fail(r, SURVEYRECORD_BAD, "longer than %u bytes", SURVEYRECORD_LINE_MAX);
	/* Any value, so that a scalar is "not a JSON object", not "not JSON". */
	json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!rec)
		return fail(r, SURVEYRECORD_BAD, "not JSON: %s at byte %d", err.text, err.position);
	int rc = parse_record(r, rec);
	json_decref(rec);
	return rc == SURVEYRECORD_NOMEM ? rc : rc < 0 ? SURVEYRECORD_BAD : 0;
}
