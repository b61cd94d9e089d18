/* ballot's own commands: BALLOT MEMBERS | ADD | PROMOTE | REMOVE | TRANSFER | SNAPSHOT.
 *
 * MEMBERS and SNAPSHOT answer from (and act on) the node that receives them. Membership
 * changes and transfers are the leader's to make: a follower forwards them to the leader,
 * as it forwards data commands, so an operator may send them to any node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ballot/resp.h"
#include "ballotd/node_internal.h"

static const char admin_usage[] =
	"ERR usage: BALLOT MEMBERS | ADD id host:port | PROMOTE id | REMOVE id | TRANSFER id | SNAPSHOT";


static bool arg_u64(const ballot_resp_arg *a, uint64_t *v)
{
	char text[32];
	if (a->len == 0 || a->len >= sizeof text)
		return false;
	memcpy(text, a->data, a->len);
	text[a->len] = '\0';
	char *end = NULL;
	unsigned long long n = strtoull(text, &end, 10);
	*v = n;
	return *end == '\0' && text[0] >= '1' && text[0] <= '9';
}

static void members(node *n, ballot_buf *out)
{
	ballot_raft_status st;
	ballot_raft_status_get(n->raft, &st);
	ballot_resp_array(out, st.config.count);
	for (unsigned i = 0; i < st.config.count; i++) {
		const ballot_member *m = &st.config.members[i];
		char line[200];
		int len = snprintf(line, sizeof line, "%llu %s %s%s", (unsigned long long)m->id,
				   m->role == BALLOT_MEMBER_VOTER ? "voter" : "learner", m->address,
				   m->id == st.leader ? " leader" : "");
		ballot_resp_bulk(out, line, (size_t)len);
	}
}

bool admin_is_leaders(size_t argc, const ballot_resp_arg *argv)
{
	return argc >= 2 && (arg_is(&argv[1], "ADD") || arg_is(&argv[1], "PROMOTE") || arg_is(&argv[1], "REMOVE") ||
			     arg_is(&argv[1], "TRANSFER"));
}

int admin_run(node *n, size_t argc, const ballot_resp_arg *argv, ballot_buf *out)
{
	if (argc == 2 && arg_is(&argv[1], "MEMBERS")) {
		members(n, out);
		return 0;
	}
	if (argc == 2 && arg_is(&argv[1], "SNAPSHOT")) {
		n->snapshot_requested = true; /* taken at the end of this turn */
		ballot_resp_simple(out, "OK");
		return 0;
	}
	uint64_t id = 0;
	if (argc < 3 || !arg_u64(&argv[2], &id)) {
		ballot_resp_error(out, "%s", admin_usage);
		return 0;
	}
	int rc;
	if (argc == 4 && arg_is(&argv[1], "ADD")) {
		char addr[BALLOT_ADDRESS_MAX];
		struct sockaddr_storage sa;
		if (argv[3].len >= sizeof addr) {
			ballot_resp_error(out, "ERR address too long (at most %d bytes)", BALLOT_ADDRESS_MAX - 1);
			return 0;
		}
		memcpy(addr, argv[3].data, argv[3].len);
		addr[argv[3].len] = '\0';
		if (node_resolve(addr, &sa) != 0) {
			ballot_resp_error(out, "ERR '%s' is not a numeric IP:port (the new member's peer address)", addr);
			return 0;
		}
		rc = ballot_raft_add_learner(n->raft, id, addr);
	} else if (argc == 3 && arg_is(&argv[1], "PROMOTE")) {
		rc = ballot_raft_promote(n->raft, id);
	} else if (argc == 3 && arg_is(&argv[1], "REMOVE")) {
		rc = ballot_raft_remove(n->raft, id);
	} else if (argc == 3 && arg_is(&argv[1], "TRANSFER")) {
		rc = ballot_raft_transfer(n->raft, id);
	} else {
		ballot_resp_error(out, "%s", admin_usage);
		return 0;
	}
	if (rc == BALLOT_ENOTLEADER)
		return rc;
	if (rc == 0)
		ballot_resp_simple(out, "OK");
	else if (rc == BALLOT_EBUSY)
		ballot_resp_error(out, "ERR busy: a membership change is pending, or the learner has not caught up");
	else if (rc == BALLOT_EINVAL)
		ballot_resp_error(out, "ERR %s: no such member, or not allowed in this configuration", ballot_strerror(rc));
	else
		ballot_resp_error(out, "ERR %s", ballot_strerror(rc));
	return 0;
}

/* A leader's admin command arrived through node_submit (from a local client or forwarded
 * by a follower): cmd is the command as a RESP array. */
void admin_submitted(node *n, origin *to, const ballot_rbuf *cmd)
{
	ballot_resp_parser parser;
	ballot_resp_parser_init(&parser);
	ballot_resp_request req;
	size_t used = 0;
	ballot_errmsg em;
	ballot_buf out;
	ballot_buf_init(&out, 0);
	if (ballot_resp_parse(&parser, (const char *)cmd->data, cmd->len, &used, &req, &em) != 0 || req.argc == 0)
		ballot_resp_error(&out, "ERR a malformed admin command was forwarded");
	else if (admin_run(n, req.argc, req.argv, &out) == BALLOT_ENOTLEADER)
		ballot_resp_error(&out, "TRYAGAIN not the leader any more");
	node_reply(n, to, out.data, out.len);
	ballot_buf_free(&out);
	ballot_resp_parser_free(&parser);
}
