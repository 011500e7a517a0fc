/*
 * ststxt - the TXT record at _mta-sts.<domain> (RFC 8461 section 3.1):
 * whether the domain announces a policy, and its id. Pure: no I/O, no
 * allocation, no clock; it does not know DNS (lib/dns/ is a higher layer)
 * and reads the RRset as raw TXT RDATA.
 *
 * Each RDATA is a sequence of character-strings, <length byte><bytes>,
 * read as their concatenation without separator. Records that do not
 * begin with exactly "v=STSv1;" are discarded (an SPF record, "v=STSv1"
 * alone, "v=STSv1 ;"). Then:
 *   none left            STSTXT_NONE: the domain does not use MTA-STS
 *   more than one        STSTXT_INVALID
 *   one                  read by the ABNF, strictly:
 *     sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
 *     sts-field-delim = *WSP ";" *WSP          (WSP: space or tab)
 *     sts-field       = sts-id / sts-extension
 *     sts-id          = "id=" 1*32(ALPHA / DIGIT)
 *     sts-extension   = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *                       "=" 1*(%x21-3A / %x3C / %x3E-7E)
 *   with exactly one id field: STSTXT_FOUND and the id, or STSTXT_INVALID.
 * A field named "id" is the id and must be one (an "id=" too long or with
 * other characters is an invalid record, not an extension); names are
 * case-sensitive ("ID=" is an extension). Nothing may follow the last
 * field or delimiter, not even white space. An RDATA whose
 * character-strings run past its end is an invalid record.
 *
 * STSTXT_INVALID means, as STSTXT_NONE does, that the domain has no usable
 * policy (RFC 8461 section 3.1); the caller keeps a cached policy either
 * way (section 5.1). why then says what is wrong, for logs and `tlspolicy
 * explain`.
 *
 * Ownership: the caller owns the RDATA and the result; the result holds no
 * pointers into the RDATA.
 */
#ifndef TLSPOLICY_STSTXT_H
#define TLSPOLICY_STSTXT_H

#include <stddef.h>

#define STSTXT_ID_MAX 32
#define STSTXT_WHY_MAX 160

/* One TXT record's RDATA. */
struct ststxt_rdata {
	const unsigned char *data;
	size_t len;
};

enum ststxt_status {
	STSTXT_FOUND,	/* exactly one valid STS record: id is set */
	STSTXT_NONE,	/* no STS record at all */
	STSTXT_INVALID,	/* several, or one that is malformed: why is set */
};

struct ststxt_result {
	enum ststxt_status status;
	char id[STSTXT_ID_MAX + 1];	/* FOUND: the id; else empty */
	char why[STSTXT_WHY_MAX];	/* INVALID: one sentence; else empty */
};

/* Reads n records (n may be 0: an empty RRset, as for NODATA). Returns
 * out->status. */
enum ststxt_status ststxt_parse(const struct ststxt_rdata *records, size_t n, struct ststxt_result *out);

/* "found", "none", "invalid". */
const char *ststxt_status_name(enum ststxt_status s);

#endif
