/* bcflood: sends COUNT broadcast Ethernet frames of LEN bytes on interface IF as fast as
 * the driver takes them (an AF_PACKET socket; a full transmit queue makes send() wait or
 * say ENOBUFS, then it retries), for a flood on an offloaded VF (tests/e2e/vdpa.sh: the
 * vDPA simulator loops broadcast frames back to the guest). EtherType 0x88b5 (IEEE 802
 * local experimental), so no stack in L1 or L2 answers them.
 *
 * Usage: bcflood IF COUNT [LEN]   (LEN 60..1514, default 60)
 * Prints "sent N" and exits 0, or 1 with the reason on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ETH_P_LOCAL_EXP 0x88b5

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bcflood IF COUNT [LEN]\n");
        return 1;
    }
    unsigned ifindex = if_nametoindex(argv[1]);
    long count = strtol(argv[2], NULL, 0), len = argc > 3 ? strtol(argv[3], NULL, 0) : 60;
    if (!ifindex || count <= 0 || len < 60 || len > 1514) {
        fprintf(stderr, "bcflood: bad interface, count or length\n");
        return 1;
    }
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_LOCAL_EXP));
    if (s < 0) {
        perror("bcflood: socket");
        return 1;
    }
    struct sockaddr_ll to = { .sll_family = AF_PACKET,
                              .sll_protocol = htons(ETH_P_LOCAL_EXP),
                              .sll_ifindex = (int)ifindex,
                              .sll_halen = ETH_ALEN };
    memset(to.sll_addr, 0xff, ETH_ALEN);
    unsigned char frame[1514] = { 0 };
    memset(frame, 0xff, ETH_ALEN);                  /* destination: broadcast */
    frame[12] = ETH_P_LOCAL_EXP >> 8;
    frame[13] = ETH_P_LOCAL_EXP & 0xff;
    long sent = 0;
    for (unsigned retries = 0; sent < count;) {
        if (sendto(s, frame, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)) == len) {
            sent++;
            retries = 0;
        } else if ((errno == ENOBUFS || errno == EAGAIN) && retries++ < 1000000) {
            usleep(10);
        } else {
            fprintf(stderr, "bcflood: send after %ld frames: %s\n", sent, strerror(errno));
            return 1;
        }
    }
    printf("sent %ld\n", sent);
    return 0;
}
