/*
 * statefile - the daemon's state files (the cache snapshot, the probe
 * history): a crash at any moment leaves the previous file or the new one,
 * never a torn one.
 *
 * statefile_write() writes the whole content to PATH.tmp, appends a
 * trailer line "end <bytes> <hash>" (SipHash of the content, as an
 * integrity check against short writes and hand edits, not an adversary),
 * syncs it, renames it over PATH and syncs the directory so the rename
 * itself survives a power cut. statefile_read() accepts a file only with a
 * trailer that matches; anything else is refused whole, so a reader never
 * acts on half a state.
 *
 * Contract: no state; the caller owns the buffers.
 */
#ifndef TLSPOLICY_STATEFILE_H
#define TLSPOLICY_STATEFILE_H

#include <stddef.h>

#include "util/buf.h"

/* data is lines: empty, or ending with a newline (else EINVAL). 0, or -1
 * with errno (PATH is then unchanged). */
int statefile_write(const char *path, const char *data, size_t len);

enum { STATEFILE_OK = 0, STATEFILE_MISSING = 1, STATEFILE_ERROR = -1, STATEFILE_DAMAGED = -2 };

/* STATEFILE_OK with the content, trailer removed, in out (replaced);
 * STATEFILE_MISSING when there is no file; STATEFILE_ERROR with errno;
 * STATEFILE_DAMAGED when the trailer is missing or does not match (*why
 * says which). */
int statefile_read(const char *path, struct buf *out, const char **why);

/* The two halves without the file: append the trailer to content (0, or
 * -1 with errno EINVAL when it is not lines, ENOMEM); and check a whole
 * file's bytes, removing the trailer (STATEFILE_OK) or saying why not
 * (STATEFILE_DAMAGED, file unchanged). */
int statefile_seal(struct buf *content);
int statefile_unseal(struct buf *file, const char **why);

#endif
