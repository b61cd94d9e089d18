/* Membership configurations: encoding, decoding, lookups (see ballot/raft.h).
 *
 * Encoding (little-endian): u32 count, then per member u64 id, u8 role, u8 address length,
 * address bytes. Decoding treats the bytes as hostile: lengths are checked before use. */
#include <string.h>

#include "ballot/raft.h"
#include "common/assert.h"

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t ballot_config_encode(const ballot_config *c, unsigned char *out)
{
	BALLOT_ASSERT(c->count <= BALLOT_RAFT_MEMBERS_MAX);
	size_t at = 0;
	for (int i = 0; i < 4; i++)
		out[at++] = (unsigned char)(c->count >> (8 * i));
	for (unsigned m = 0; m < c->count; m++) {
		const ballot_member *mb = &c->members[m];
		size_t alen = strnlen(mb->address, BALLOT_ADDRESS_MAX - 1);
		put_u64(out + at, mb->id);
		at += 8;
		out[at++] = mb->role;
		out[at++] = (unsigned char)alen;
		memcpy(out + at, mb->address, alen);
		at += alen;
	}
	BALLOT_ASSERT(at <= BALLOT_CONFIG_ENCODED_MAX);
	return at;
}

int ballot_config_decode(const void *data, size_t len, ballot_config *c, ballot_errmsg *em)
{
	const unsigned char *p = data;
	memset(c, 0, sizeof *c);
	if (len < 4)
		return ballot_errorf(em, BALLOT_ECORRUPT, "configuration: %zu bytes, too short", len);
	uint32_t count = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	if (count > BALLOT_RAFT_MEMBERS_MAX)
		return ballot_errorf(em, BALLOT_ECORRUPT, "configuration: %u members, at most %d",
				     count, BALLOT_RAFT_MEMBERS_MAX);
	size_t at = 4;
	for (uint32_t m = 0; m < count; m++) {
		if (len - at < 10)
			return ballot_errorf(em, BALLOT_ECORRUPT, "configuration: truncated member %u", m + 1);
		ballot_member *mb = &c->members[m];
		mb->id = get_u64(p + at);
		mb->role = p[at + 8];
		size_t alen = p[at + 9];
		at += 10;
		if (mb->id == 0 || (mb->role != BALLOT_MEMBER_VOTER && mb->role != BALLOT_MEMBER_LEARNER))
			return ballot_errorf(em, BALLOT_ECORRUPT, "configuration: member %u has id %llu, role %u",
					     m + 1, (unsigned long long)mb->id, mb->role);
		if (alen >= BALLOT_ADDRESS_MAX || len - at < alen)
			return ballot_errorf(em, BALLOT_ECORRUPT, "configuration: bad address of member %u", m + 1);
		memcpy(mb->address, p + at, alen);
		mb->address[alen] = '\0';
		at += alen;
		for (uint32_t k = 0; k < m; k++) {
			if (c->members[k].id == mb->id)
				return ballot_errorf(em, BALLOT_ECORRUPT, "configuration: member %llu twice",
						     (unsigned long long)mb->id);
		}
	}
	if (at != len)
		return ballot_errorf(em, BALLOT_ECORRUPT, "configuration: %zu trailing bytes", len - at);
	c->count = count;
	return 0;
}

const ballot_member *ballot_config_find(const ballot_config *c, uint64_t id)
{
	for (unsigned m = 0; m < c->count; m++) {
		if (c->members[m].id == id)
			return &c->members[m];
	}
	return NULL;
}

unsigned ballot_config_voters(const ballot_config *c)
{
	unsigned voters = 0;
	for (unsigned m = 0; m < c->count; m++)
		voters += c->members[m].role == BALLOT_MEMBER_VOTER;
	return voters;
}
