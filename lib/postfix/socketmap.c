/* socketmap - Postfix's socketmap protocol; see socketmap.h. */
#include "autoconfig.h"

#include <string.h>

#include "postfix/netstring.h"
#include "postfix/socketmap.h"
#include "util/text.h"

static const char *const status_words[] = {
	[SOCKETMAP_OK] = "OK",
	[SOCKETMAP_NOTFOUND] = "NOTFOUND",
	[SOCKETMAP_TEMP] = "TEMP",
	[SOCKETMAP_TIMEOUT] = "TIMEOUT",
	[SOCKETMAP_PERM] = "PERM",
};

const char *
socketmap_status_name(enum socketmap_status s)
{
	return (unsigned)s <= SOCKETMAP_PERM ? status_words[s] : "?";
}

int
socketmap_split(const char *p, size_t n, const char **name, size_t *name_len,
    const char **key, size_t *key_len)
{
	const char *space = memchr(p, ' ', n);

	if (!space || space == p || space == p + n - 1)
		return -1;
	*name = p;
	*name_len = (size_t)(space - p);
	*key = space + 1;
	*key_len = n - *name_len - 1;
	return 0;
}

int
socketmap_reply(struct buf *out, enum socketmap_status status, const char *text)
{
	char payload[1024];
	const char *word = socketmap_status_name(status);
	size_t n = strlen(word);

	/* Every reply we make is short; the cut keeps far inside Postfix's
	 * 100 000-byte limit whatever a reason holds. */
	memcpy(payload, word, n);
	payload[n++] = ' ';
	if (text)
		n += text_printable(payload + n, sizeof(payload) - n, text, strlen(text));
	return netstring_put(out, payload, n);
}

int
socketmap_request(struct buf *out, const char *name, const char *key)
{
	struct buf payload;
	int rc;

	buf_init(&payload);
	rc = buf_printf(&payload, "%s %s", name, key);
	if (rc == 0)
		rc = netstring_put(out, buf_ptr(&payload), buf_size(&payload));
	buf_free(&payload);
	return rc;
}

int
socketmap_parse_reply(const char *p, size_t n, enum socketmap_status *status,
    const char **text, size_t *text_len)
{
	for (unsigned s = SOCKETMAP_OK; s <= SOCKETMAP_PERM; s++) {
		size_t wl = strlen(status_words[s]);
		if (n >= wl && memcmp(p, status_words[s], wl) == 0 && (n == wl || p[wl] == ' ')) {
			*status = (enum socketmap_status)s;
			*text = n > wl ? p + wl + 1 : p + n;
			*text_len = n > wl ? n - wl - 1 : 0;
			return 0;
		}
	}
	return -1;
}
