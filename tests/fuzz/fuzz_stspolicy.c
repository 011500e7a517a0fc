/* libFuzzer: MTA-STS policies and _mta-sts records (lib/rules/stspolicy.h,
 * ststxt.h, tlsrpt.h). The same bytes are read three ways:
 * - as a policy body: refused with error lines (printable, each ended by
 *   '\n', at most STSPOLICY_ERRORS_MAX + 1) or accepted with none, and then
 *   every pattern is a lower-case LDH host name with "*." only as its
 *   whole first label, no two alike, each matching a host it stands for;
 *   every line is non-empty without line ends; the Postfix answer is
 *   "secure match=<no white space> servername=hostname" exactly when there
 *   are patterns; the TLSRPT attributes fit a limit of the answer and its
 *   attributes exactly, and none one byte below, with braces balanced and
 *   no control character;
 * - as an RRset of raw TXT RDATA, records split at each 0xfe byte;
 * - as one record's text, cut into 255-byte character-strings.
 * For the records: FOUND has an id of 1-32 letters and digits that the
 *   one record beginning with "v=STSv1;" holds after "id="; NONE means no
 *   well-formed record begins so; INVALID comes with a reason. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/stspolicy.h"
#include "rules/ststxt.h"
#include "rules/tlsrpt.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void
check_errors(const struct buf *errors)
{
	const char *s = buf_ptr(errors);
	size_t n = buf_size(errors), lines = 0;

	CHECK(n > 0 && s[n - 1] == '\n');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			lines++;
		else
			CHECK(s[i] >= 0x20 && s[i] < 0x7f);
	}
	CHECK(lines <= STSPOLICY_ERRORS_MAX + 1);
}

static void
check_pattern(const struct stspolicy *p, const char *pat)
{
	char host[300];
	const char *name = pat;

	if (pat[0] == '*') {
		CHECK(pat[1] == '.');
		name = pat + 2;
		CHECK(strlen(name) + 3 < sizeof(host));
		host[0] = 'x';
		strcpy(host + 1, pat + 1);
		CHECK(stspolicy_mx_matches(p, host));
	} else {
		CHECK(stspolicy_mx_matches(p, pat));
	}
	CHECK(*name && strlen(pat) <= 253);
	for (const char *c = name; *c; c++)
		CHECK((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.');
	CHECK(name[0] != '.' && name[strlen(name) - 1] != '.' && !strstr(name, ".."));
}

static void
check_tlsrpt(const struct stspolicy *p, const struct buf *answer)
{
	struct buf out;

	buf_init(&out);
	if (buf_append(&out, buf_ptr(answer), buf_size(answer)) < 0)
		goto done;
	if (!tlsrpt_append_sts(&out, "example.org", p, TLSRPT_REPLY_MAX)) {
		CHECK(buf_size(&out) == buf_size(answer));
		goto done;
	}
	size_t full = buf_size(&out);
	int depth = 0;
	for (size_t i = 0; i < full; i++) {
		unsigned char c = (unsigned char)buf_ptr(&out)[i];
		CHECK(c >= 0x20 && c != 0x7f);
		depth += c == '{' ? 1 : c == '}' ? -1 : 0;
		CHECK(depth == 0 || depth == 1);
	}
	CHECK(depth == 0);
	buf_truncate(&out, buf_size(answer));
	CHECK(tlsrpt_append_sts(&out, "example.org", p, full) && buf_size(&out) == full);
	buf_truncate(&out, buf_size(answer));
	CHECK(!tlsrpt_append_sts(&out, "example.org", p, full - 1) && buf_size(&out) == buf_size(answer));
done:
	buf_free(&out);
}

static void
check_policy(const uint8_t *data, size_t size)
{
	struct buf errors, answer;

	buf_init(&errors);
	buf_init(&answer);
	struct stspolicy *p = stspolicy_parse((const char *)data, size, &errors);
	if (!p) {
		if (buf_size(&errors) > 0)	/* none: out of memory */
			check_errors(&errors);
		goto done;
	}
	CHECK(buf_size(&errors) == 0);
	CHECK(stspolicy_mode(p) <= STSPOLICY_MODE_NONE && stspolicy_max_age(p) <= STSPOLICY_MAX_AGE_MAX);
	size_t n = stspolicy_npatterns(p), text = 0;
	CHECK(n > 0 || stspolicy_mode(p) == STSPOLICY_MODE_NONE);
	for (size_t i = 0; i < n; i++) {
		check_pattern(p, stspolicy_pattern(p, i));
		text += strlen(stspolicy_pattern(p, i)) + 1;
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(stspolicy_pattern(p, i), stspolicy_pattern(p, j)) != 0);
	}
	for (size_t i = 0; i < stspolicy_nlines(p); i++) {
		const char *line = stspolicy_line(p, i);
		CHECK(*line && !strchr(line, '\n') && strchr(line, ':'));
		text += strlen(line) + 1;
	}
	CHECK(stspolicy_nlines(p) >= n && stspolicy_memory(p) >= text);
	if (stspolicy_postfix_answer(p, &answer) < 0) {
		CHECK(n == 0 && buf_size(&answer) == 0);
		goto done;
	}
	const char *a = buf_ptr(&answer), *tail = " servername=hostname";
	size_t alen = buf_size(&answer), tlen = strlen(tail);
	CHECK(alen > 13 + tlen && memcmp(a, "secure match=", 13) == 0 &&
	    memcmp(a + alen - tlen, tail, tlen) == 0);
	for (size_t i = 13; i < alen - tlen; i++)
		CHECK(a[i] > 0x20 && a[i] < 0x7f && a[i] != '*');
	check_tlsrpt(p, &answer);
done:
	stspolicy_free(p);
	buf_free(&errors);
	buf_free(&answer);
}

/* The concatenated text of a well-formed RDATA into out (NUL-terminated),
 * or false. */
static bool
flatten(const struct ststxt_rdata *r, char *out)
{
	size_t at = 0, n = 0;

	while (at < r->len) {
		size_t len = r->data[at++];
		if (len > r->len - at)
			return false;
		memcpy(out + n, r->data + at, len);
		n += len;
		at += len;
	}
	out[n] = '\0';
	return true;
}

static void
check_records(const struct ststxt_rdata *rd, size_t n, size_t total)
{
	struct ststxt_result r;
	char *text = malloc(total + 1);
	size_t begins = 0;
	bool all_well_formed = true, id_found = false;

	if (!text)
		return;
	enum ststxt_status s = ststxt_parse(rd, n, &r);
	CHECK(s == r.status);
	for (size_t i = 0; i < n; i++) {
		if (!flatten(&rd[i], text)) {
			all_well_formed = false;
			continue;
		}
		if (strncmp(text, "v=STSv1;", 8) != 0)
			continue;
		begins++;
		if (s == STSTXT_FOUND) {
			char want[STSTXT_ID_MAX + 4];
			strcpy(want, "id=");
			strcat(want, r.id);
			for (const char *at = strstr(text, want); at && !id_found; at = strstr(at + 1, want)) {
				char after = at[strlen(want)];
				id_found = (at[-1] == ';' || at[-1] == ' ' || at[-1] == '\t') &&
				    (after == '\0' || after == ';' || after == ' ' || after == '\t');
			}
		}
	}
	switch (s) {
	case STSTXT_FOUND:
		CHECK(all_well_formed && begins == 1 && id_found && r.why[0] == '\0');
		CHECK(strlen(r.id) >= 1 && strlen(r.id) <= STSTXT_ID_MAX);
		for (const char *c = r.id; *c; c++)
			CHECK((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'));
		break;
	case STSTXT_NONE:
		CHECK(all_well_formed && begins == 0 && r.id[0] == '\0' && r.why[0] == '\0');
		break;
	case STSTXT_INVALID:
		CHECK(r.id[0] == '\0' && r.why[0] != '\0' && strlen(r.why) < STSTXT_WHY_MAX);
		break;
	default:
		CHECK(false);
	}
	free(text);
}

#define MAX_RECORDS 16

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ststxt_rdata rd[MAX_RECORDS];
	size_t n = 0, start = 0;

	check_policy(data, size);

	for (size_t i = 0; i <= size && n < MAX_RECORDS; i++) {
		if (i == size || data[i] == 0xfe) {
			rd[n].data = data + start;
			rd[n].len = i - start;
			n++;
			start = i + 1;
		}
	}
	check_records(rd, n, size);

	/* One record of this text, in strings of at most 255 bytes. */
	uint8_t *rdata = malloc(size + size / 255 + 2);
	if (!rdata)
		return 0;
	size_t len = 0;
	for (size_t at = 0; at < size; at += 255) {
		size_t piece = size - at > 255 ? 255 : size - at;
		rdata[len++] = (uint8_t)piece;
		memcpy(rdata + len, data + at, piece);
		len += piece;
	}
	struct ststxt_rdata one = {rdata, len};
	check_records(&one, 1, len);
	free(rdata);
	return 0;
}
