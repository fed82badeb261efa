/*
 * debugee: what the gdb cases debug (built with -g -O0).  add() is where breakpoints go,
 * counter is what the watchpoint watches; the output tells that the program ran to its
 * end undisturbed: "sum 3 counter 3".
 */
#include <stdio.h>

volatile long counter;

int add(int a, int b)
{
	return a + b;
}

int main(void)
{
	int sum = 0;

	for (int i = 0; i < 3; i++) {
		counter++;
		sum = add(sum, i);
	}
	printf("sum %d counter %ld\n", sum, counter);
	return 0;
}
