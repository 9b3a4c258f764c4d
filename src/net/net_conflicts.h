/* Checks across every --net: no two functions (PFs and all the VFs their policies allow)
 * share a tap or a MAC. Within one PF pf_policy_check() already guarantees it; across
 * PFs a shared tap would make the second VF's TUNSETIFF fail (EBUSY) only when the guest
 * enables it, and a shared MAC breaks the host's bridge or switch in silence, so both
 * are setup errors, found before the guest runs. */
#ifndef VPF_NET_NET_CONFLICTS_H
#define VPF_NET_NET_CONFLICTS_H

#include <stddef.h>

#include "net/net_opts.h"

/* Returns 0, or -1 with the reason in err, naming the two functions. */
int net_opts_check_conflicts(const struct net_opts *nets, unsigned n, char *err, size_t errlen);

#endif
