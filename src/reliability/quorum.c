/* Quorum arithmetic: the smallest cluster for f crash or Byzantine faults, and the safety
 * rules of a read/write quorum configuration (see ballot/reliability.h). */
#include "ballot/reliability.h"

#include "ballot/limits.h"
#include "common/assert.h"

/* Crash faults: n = 2f + 1 and quorums of f + 1, so any two quorums share a node and a
 * quorum still forms with f nodes down. Byzantine faults: n = 3f + 1 and quorums of 2f + 1,
 * so any two quorums share at least f + 1 nodes, one of them correct (Lamport, Shostak and
 * Pease 1982; Castro and Liskov, PBFT, 1999). */
int ballot_quorum_for_faults(unsigned f, bool byzantine, ballot_quorum_size *out,
			     ballot_errmsg *em)
{
	unsigned per_fault = byzantine ? 3 : 2;
	unsigned f_max = (BALLOT_RELIABILITY_N_MAX - 1) / per_fault;
	if (f > f_max)
		return ballot_errorf(em, BALLOT_ELIMIT,
				     "f %u: a %s cluster needs %uf+1 = %llu nodes, more than "
				     "BALLOT_RELIABILITY_N_MAX (%d); f can be at most %u",
				     f, byzantine ? "Byzantine" : "crash-fault", per_fault,
				     (unsigned long long)per_fault * f + 1, BALLOT_RELIABILITY_N_MAX, f_max);
	out->f = f;
	out->byzantine = byzantine;
	out->n = per_fault * f + 1;
	out->quorum = byzantine ? 2 * f + 1 : f + 1;
	return 0;
}

int ballot_rw_quorum_check(unsigned n, unsigned r, unsigned w, ballot_rw_quorum *out,
			   ballot_errmsg *em)
{
	if (n < 1)
		return ballot_errorf(em, BALLOT_EINVAL, "n 0: need at least 1 replica");
	if (n > BALLOT_RELIABILITY_N_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT,
				     "n %u: at most %d replicas (BALLOT_RELIABILITY_N_MAX)", n,
				     BALLOT_RELIABILITY_N_MAX);
	if (r < 1 || r > n)
		return ballot_errorf(em, BALLOT_EINVAL, "r %u: a read quorum must be between 1 and n (%u)",
				     r, n);
	if (w < 1 || w > n)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "w %u: a write quorum must be between 1 and n (%u)", w, n);
	out->n = n;
	out->r = r;
	out->w = w;
	/* Gifford 1979: a read quorum and a write quorum overlap when R + W > N, so every read
	 * meets a replica holding the latest write; two write quorums overlap when 2W > N. */
	out->reads_see_latest_write = r + w > n;
	out->writes_overlap = 2 * w > n;
	out->read_failures_tolerated = n - r;
	out->write_failures_tolerated = n - w;
	return 0;
}

bool ballot_rw_quorum_safe(const ballot_rw_quorum *q)
{
	BALLOT_ASSERT(q->n >= 1);
	return q->reads_see_latest_write && q->writes_overlap;
}
