/* Fixture for bpfscope-probes' ELF/USDT parser tests. Rebuild with build_fixtures.sh. */
#include <stdio.h>
#include <stdlib.h>
/* Ask sys/sdt.h to record semaphore addresses in the notes. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

/* Semaphores: a tracer increments one to enable its probe's (costly) argument work. sys/sdt.h
 * wants one per probe once _SDT_HAS_SEMAPHORES is set. */
unsigned short sample_request__start_semaphore __attribute__((section(".probes"))) = 0;
unsigned short sample_add_entry_semaphore __attribute__((section(".probes"))) = 0;
unsigned short sample_helper_semaphore __attribute__((section(".probes"))) = 0;
unsigned short other_tick_semaphore __attribute__((section(".probes"))) = 0;
#define SAMPLE_REQUEST_START_ENABLED() __builtin_expect(sample_request__start_semaphore, 0)

static long global_counter = 40;

__attribute__((noinline)) int add_numbers(int left, long right)
{
    DTRACE_PROBE2(sample, add_entry, left, right);
    return (int)(left + right);
}

__attribute__((noinline)) static int local_helper(const char *text)
{
    int length = 0;
    while (text[length] != '\0')
        length++;
    DTRACE_PROBE3(sample, helper, text, length, -5);
    return length;
}

int main(int argc, char **argv)
{
    if (SAMPLE_REQUEST_START_ENABLED())
        STAP_PROBE2(sample, request__start, argc, global_counter);
    global_counter += add_numbers(argc, 2);
    DTRACE_PROBE1(other, tick, global_counter);
    printf("%d\n", local_helper(argc > 1 ? argv[1] : "hello"));
    return 0;
}
