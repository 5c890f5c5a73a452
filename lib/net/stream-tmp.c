/* SPDX-License-Identifier: MIT */
/* temporary until the stream relay lands */
#include "cleanup.h"
#include "stream.h"

void relay_end_close(struct relay_end *e)
{
	e->fd = safe_close(e->fd);
	e->stream = stream_free(e->stream);
}
