/* smtpreply - SMTP replies; see smtpreply.h for the contract. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "probe/smtpreply.h"
#include "util/text.h"

void
smtpreply_init(struct smtpreply *r)
{
	memset(r, 0, sizeof(*r));
}

int
smtpreply_scan(struct smtpreply *r, const char *data, size_t len, size_t max, size_t *used,
    smtpreply_line_fn *on_line, void *arg)
{
	const char *end = data + len;
	const char *line = data + (r->scanned <= len ? r->scanned : len);

	/* A new reply starts with nothing seen. */
	if (r->scanned == 0)
		r->starttls = false;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			break;
		size_t n = (size_t)(nl - line);
		if (n && line[n - 1] == '\r')
			n--;
		if (on_line)
			on_line(arg, line, n);
		if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (n > 3 && line[3] != ' ' && line[3] != '-')) {
			char shown[61];
			text_printable(shown, sizeof(shown), line, n);
			snprintf(r->error, sizeof(r->error), "not an SMTP reply: %s", shown);
			return SMTPREPLY_ERROR;
		}
		if (n >= 12 && strncasecmp(line + 4, "STARTTLS", 8) == 0 && (n == 12 || line[12] == ' '))
			r->starttls = true;
		if (n == 3 || line[3] == ' ') {
			r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
			text_printable(r->last, sizeof(r->last), line, n);
			*used = (size_t)(nl + 1 - data);
			r->scanned = 0;
			return SMTPREPLY_DONE;
		}
		line = nl + 1;
		r->scanned = (size_t)(line - data);
	}
	if (len >= max) {
		snprintf(r->error, sizeof(r->error), "reply longer than %zu bytes", max);
		return SMTPREPLY_ERROR;
	}
	return SMTPREPLY_MORE;
}
