#include "net/net_conflicts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/mac.h"

/* One function's tap or MAC, with who owns it: "net1" or "net1vf3". */
struct net_claim {
    char key[IFNAMSIZ];     /* tap name, or the 6 MAC bytes */
    char owner[32];
    unsigned order;         /* ties sort in --net order, so messages are stable */
};

static int key_cmp(const struct net_claim *a, const struct net_claim *b)
{
    return memcmp(a->key, b->key, IFNAMSIZ);
}

static int claim_cmp(const void *pa, const void *pb)
{
    const struct net_claim *a = pa, *b = pb;
    int c = key_cmp(a, b);
    return c ? c : (a->order > b->order) - (a->order < b->order);
}

static void claim_owner(struct net_claim *c, unsigned pf, unsigned vf, bool is_vf)
{
    if (is_vf)
        snprintf(c->owner, sizeof(c->owner), "net%uvf%u", pf, vf);
    else
        snprintf(c->owner, sizeof(c->owner), "net%u", pf);
}

/* Fills taps[] and macs[] with every function's claims; returns how many of each. */
static unsigned claims_collect(const struct net_opts *nets, unsigned n, struct net_claim *taps,
                               struct net_claim *macs)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct net_opts *o = &nets[i];
        for (unsigned f = 0; f <= o->vf.total_vfs; f++, k++) {
            bool is_vf = f > 0;
            memset(taps[k].key, 0, IFNAMSIZ);
            memset(macs[k].key, 0, IFNAMSIZ);
            enum net_backend_type t = is_vf ? o->vf.vf_backend : o->backend;
            /* vDPA and vhost-user functions have no tap. */
            bool vdpa = t == NET_BACKEND_VHOST_VDPA || t == NET_BACKEND_VHOST_USER;
            if (vdpa) {
                /* No tap: a key no interface name can equal, unique per function. */
                taps[k].key[0] = 1;
                memcpy(taps[k].key + 1, &k, sizeof(k));
                if (is_vf)
                    pf_policy_vf_mac(&o->vf, o->mac, f - 1, (uint8_t *)macs[k].key);
                else
                    memcpy(macs[k].key, o->mac, 6);
            } else if (is_vf) {
                pf_policy_vf_tap(&o->vf, f - 1, taps[k].key);
                pf_policy_vf_mac(&o->vf, o->mac, f - 1, (uint8_t *)macs[k].key);
            } else {
                memcpy(taps[k].key, o->tap, strnlen(o->tap, IFNAMSIZ - 1));
                memcpy(macs[k].key, o->mac, 6);
            }
            taps[k].order = macs[k].order = k;
            claim_owner(&taps[k], i, f - 1, is_vf);
            claim_owner(&macs[k], i, f - 1, is_vf);
        }
    }
    return k;
}

/* Sorted claims: equal keys are neighbours. Returns the first of a pair, or NULL. */
static const struct net_claim *claims_find_dup(struct net_claim *c, unsigned k)
{
    qsort(c, k, sizeof(*c), claim_cmp);
    for (unsigned i = 1; i < k; i++)
        if (!key_cmp(&c[i - 1], &c[i]))
            return &c[i - 1];
    return NULL;
}

/* vhost-user functions: no two on one socket (a peer serves one front-end per socket). */
static int sockets_conflict(const struct net_opts *nets, unsigned n, unsigned total, char *err,
                            size_t errlen)
{
    struct sock_claim {
        char path[108];
        char owner[32];
    } *c = calloc(total ? total : 1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "--net: out of memory");
        return -1;
    }
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct net_opts *o = &nets[i];
        if (o->backend == NET_BACKEND_VHOST_USER) {
            snprintf(c[k].path, sizeof(c[k].path), "%s", o->socket);
            snprintf(c[k++].owner, sizeof(c[0].owner), "net%u", i);
        }
        for (unsigned f = 0; o->vf.vf_backend == NET_BACKEND_VHOST_USER && f < o->vf.total_vfs;
             f++) {
            pf_policy_vf_socket(&o->vf, f, c[k].path);
            snprintf(c[k++].owner, sizeof(c[0].owner), "net%uvf%u", i, f);
        }
    }
    int ret = 0;
    for (unsigned a = 0; a < k && !ret; a++) {
        for (unsigned b = a + 1; b < k && !ret; b++) {
            if (!strcmp(c[a].path, c[b].path)) {
                snprintf(err, errlen, "--net: vhost-user socket %s is given to both %s and %s",
                         c[a].path, c[a].owner, c[b].owner);
                ret = -1;
            }
        }
    }
    free(c);
    return ret;
}

int net_opts_check_conflicts(const struct net_opts *nets, unsigned n, char *err, size_t errlen)
{
    unsigned total = 0;
    for (unsigned i = 0; i < n; i++)
        total += 1 + nets[i].vf.total_vfs;
    if (!total)
        return 0;
    struct net_claim *taps = calloc(total, sizeof(*taps));
    struct net_claim *macs = calloc(total, sizeof(*macs));
    int ret = -1;
    if (!taps || !macs) {
        snprintf(err, errlen, "--net: out of memory");
        goto out;
    }
    if (sockets_conflict(nets, n, total, err, errlen) < 0)
        goto out;
    unsigned k = claims_collect(nets, n, taps, macs);
    const struct net_claim *d = claims_find_dup(taps, k);
    if (d) {
        snprintf(err, errlen, "--net: tap %s is given to both %s and %s", d->key, d[0].owner,
                 d[1].owner);
        goto out;
    }
    d = claims_find_dup(macs, k);
    if (d) {
        char mac[MAC_STR_LEN];
        net_format_mac(mac, (const uint8_t *)d->key);
        snprintf(err, errlen, "--net: MAC %s is given to both %s and %s", mac, d[0].owner,
                 d[1].owner);
        goto out;
    }
    ret = 0;
out:
    free(taps);
    free(macs);
    return ret;
}
