/* primes: what the gcc case compiles in the guest and runs; prints
 * "1229 primes below 10000, the last 9973". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 10000

int main(void)
{
	char *composite = calloc(LIMIT, 1);
	int count = 0, last = 0;

	if (!composite)
		return 1;
	for (int n = 2; n < LIMIT; n++) {
		if (composite[n])
			continue;
		count++;
		last = n;
		for (int m = n * 2; m < LIMIT; m += n)
			composite[m] = 1;
	}
	printf("%d primes below %d, the last %d\n", count, LIMIT, last);
	free(composite);
	return 0;
}
