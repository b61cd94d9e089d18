/* Peer messages: ownership helpers (see ballot/raft.h). */
#include <stdlib.h>
#include <string.h>

#include "ballot/raft.h"

void ballot_msg_free(ballot_msg *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->entry_count; i++)
		ballot_rbuf_unref(m->entries[i].data);
	free(m->entries);
	ballot_rbuf_unref(m->chunk);
	free(m->snap_config);
	free(m);
}

ballot_msg *ballot_msg_clone(const ballot_msg *m)
{
	ballot_msg *c = malloc(sizeof *c);
	if (c == NULL)
		return NULL;
	*c = *m;
	c->entries = NULL;
	c->snap_config = NULL;
	c->entry_count = 0;
	if (m->entry_count > 0) {
		c->entries = malloc(m->entry_count * sizeof *c->entries);
		if (c->entries == NULL)
			goto fail_entries;
		memcpy(c->entries, m->entries, m->entry_count * sizeof *c->entries);
		c->entry_count = m->entry_count;
		for (size_t i = 0; i < c->entry_count; i++)
			ballot_rbuf_ref(c->entries[i].data);
	}
	if (m->snap_config != NULL) {
		c->snap_config = malloc(sizeof *c->snap_config);
		if (c->snap_config == NULL)
			goto fail_config;
		*c->snap_config = *m->snap_config;
	}
	ballot_rbuf_ref(c->chunk);
	return c;
fail_config:
	for (size_t i = 0; i < c->entry_count; i++)
		ballot_rbuf_unref(c->entries[i].data);
	free(c->entries);
fail_entries:
	free(c);
	return NULL;
}

const char *ballot_msg_type_name(uint8_t type)
{
	static const char *const names[BALLOT_MSG_TYPE_COUNT_] = {
		[BALLOT_MSG_PREVOTE] = "prevote",
		[BALLOT_MSG_PREVOTE_RESP] = "prevote_resp",
		[BALLOT_MSG_VOTE] = "vote",
		[BALLOT_MSG_VOTE_RESP] = "vote_resp",
		[BALLOT_MSG_APPEND] = "append",
		[BALLOT_MSG_APPEND_RESP] = "append_resp",
		[BALLOT_MSG_SNAPSHOT] = "snapshot",
		[BALLOT_MSG_SNAPSHOT_RESP] = "snapshot_resp",
		[BALLOT_MSG_TIMEOUT_NOW] = "timeout_now",
	};
	if (type == 0 || type >= BALLOT_MSG_TYPE_COUNT_)
		return "unknown";
	return names[type];
}

const char *ballot_role_name(ballot_role role)
{
	switch (role) {
	case BALLOT_ROLE_FOLLOWER: return "follower";
	case BALLOT_ROLE_PRECANDIDATE: return "precandidate";
	case BALLOT_ROLE_CANDIDATE: return "candidate";
	case BALLOT_ROLE_LEADER: return "leader";
	}
	return "unknown";
}
