/* Mean time to failure of an m-of-n system, with and without repair (see
 * ballot/reliability.h and docs/reliability.md for the derivation). */
#include "ballot/reliability.h"

#include <math.h>

#include "ballot/limits.h"

static int check_mttf(unsigned n, unsigned m, double lambda, double mu, ballot_errmsg *em)
{
	if (n < 1)
		return ballot_errorf(em, BALLOT_EINVAL, "n 0: need at least 1 module");
	if (n > BALLOT_RELIABILITY_N_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT,
				     "n %u: at most %d modules (BALLOT_RELIABILITY_N_MAX)", n,
				     BALLOT_RELIABILITY_N_MAX);
	if (m < 1 || m > n)
		return ballot_errorf(em, BALLOT_EINVAL, "m %u: must be between 1 and n (%u)", m, n);
	if (!(lambda > 0.0) || !isfinite(lambda))
		return ballot_errorf(em, BALLOT_EINVAL,
				     "lambda %g: a failure rate must be a positive finite number", lambda);
	if (!(mu >= 0.0) || !isfinite(mu))
		return ballot_errorf(em, BALLOT_EINVAL,
				     "mu %g: a repair rate must be a finite number >= 0", mu);
	return 0;
}

/* State k = modules working, from n down to m; k = m - 1 is failure (absorbing). From k the
 * chain moves to k - 1 at rate k lambda and, when k < n, to k + 1 at rate mu. With T_k the
 * mean time to absorption from k, first-step analysis gives
 *     (k lambda + mu_k) T_k = 1 + k lambda T_{k-1} + mu_k T_{k+1},
 * i.e. with D_k = T_k - T_{k-1}:  D_k = (1 + mu_k D_{k+1}) / (k lambda),  mu_n = 0.
 * So D_n = 1/(n lambda), each D_k follows from D_{k+1}, and T_n = sum_{k=m}^{n} D_k
 * (T_{m-1} = 0). Exact, all terms positive (no cancellation); with mu = 0 it reduces to
 * sum 1/(k lambda). */
int ballot_mttf(unsigned n, unsigned m, double lambda, double mu, double *mttf,
		ballot_errmsg *em)
{
	int rc = check_mttf(n, m, lambda, mu, em);
	if (rc != 0)
		return rc;
	double d = 0.0; /* D_{k+1}; its mu_n factor is irrelevant because D_{n+1} is 0 */
	double total = 0.0;
	for (unsigned k = n; k >= m; k--) {
		d = (1.0 + mu * d) / ((double)k * lambda);
		total += d;
		if (!isfinite(total))
			return ballot_errorf(em, BALLOT_ERANGE,
					     "the MTTF of %u-of-%u with mu/lambda = %g overflows a double",
					     m, n, mu / lambda);
	}
	*mttf = total;
	return 0;
}
