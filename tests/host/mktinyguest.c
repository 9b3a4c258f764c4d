/* mktinyguest ACTION OUT: writes a tiny bzImage (see tinyguest.h) for the host tests.
 * ACTION: poweroff reboot kbd-reset panic triple-fault echo sriov old-protocol no-kernel64 */
#include <stdio.h>
#include <string.h>

#include "tinyguest.h"

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        enum tinyguest_action action;
        struct tinyguest_opts opts;
    } kinds[] = {
        { "poweroff", TINYGUEST_POWEROFF, { 0 } },
        { "reboot", TINYGUEST_REBOOT, { 0 } },
        { "kbd-reset", TINYGUEST_KBD_RESET, { 0 } },
        { "panic", TINYGUEST_PANIC, { 0 } },
        { "triple-fault", TINYGUEST_TRIPLE_FAULT, { 0 } },
        { "echo", TINYGUEST_ECHO, { 0 } },
        { "sriov", TINYGUEST_SRIOV, { 0 } },
        { "old-protocol", TINYGUEST_POWEROFF, { .protocol = 0x0206 } },
        { "no-kernel64", TINYGUEST_POWEROFF, { .no_kernel64 = 1 } },
    };
    if (argc != 3) {
        fprintf(stderr, "usage: mktinyguest ACTION OUT\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(argv[1], kinds[i].name))
            continue;
        unsigned char buf[TINYGUEST_MAX];
        size_t n = tinyguest_build(buf, kinds[i].action, &kinds[i].opts);
        FILE *f = fopen(argv[2], "wb");
        if (!f || fwrite(buf, 1, n, f) != n || fclose(f)) {
            perror(argv[2]);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "mktinyguest: unknown action '%s'\n", argv[1]);
    return 2;
}
