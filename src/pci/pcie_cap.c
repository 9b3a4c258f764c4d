/* The PCI Express Capability of an endpoint (PCIe Base 6.0 §7.5.3). Its presence is what
 * makes Linux treat the function as PCIe and read its extended config space. */
#include "pci/config.h"

/* Version 2 structure: through Slot Status 2 (§7.5.3.1, Figure 7-20). */
#define PCIE_CAP_SIZE 0x3c
#define PCIE_DEVCTL_DEFAULT (PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN | \
                             PCI_EXP_DEVCTL_READRQ_512B)

int pci_config_add_pcie_cap(struct pci_config *cfg, unsigned port_type)
{
    if (port_type != PCI_EXP_TYPE_ENDPOINT && port_type != PCI_EXP_TYPE_RC_END)
        return -1;
    int cap = pci_config_add_cap(cfg, PCI_CAP_ID_EXP, PCIE_CAP_SIZE);
    if (cap < 0)
        return -1;
    unsigned c = (unsigned)cap;

    pci_config_set16(cfg, c + PCI_EXP_FLAGS, (uint16_t)(2 | port_type << 4));

    /* §7.5.3.3: Max_Payload_Size Supported 128 B (0), no phantom functions, no extended
     * tags, Role-Based Error Reporting (mandatory since 1.1), no FLR. */
    pci_config_set32(cfg, c + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_RBER);

    /* §7.5.3.4: the defaults after reset, and the fields Linux programs. Max_Payload_Size
     * stays writable although only 128 B is supported: the spec lets software write
     * larger values it must not use, and Linux only writes what DEVCAP allows. */
    pci_config_set16(cfg, c + PCI_EXP_DEVCTL, PCIE_DEVCTL_DEFAULT);
    pci_config_set_wmask(cfg, c + PCI_EXP_DEVCTL, 2,
                         PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE | PCI_EXP_DEVCTL_FERE |
                             PCI_EXP_DEVCTL_URRE | PCI_EXP_DEVCTL_RELAX_EN |
                             PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_NOSNOOP_EN |
                             PCI_EXP_DEVCTL_READRQ);
    /* §7.5.3.5: error-detected bits are RW1C. */
    pci_config_set_w1cmask(cfg, c + PCI_EXP_DEVSTA, 2,
                           PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | PCI_EXP_DEVSTA_FED |
                               PCI_EXP_DEVSTA_URD);

    if (port_type == PCI_EXP_TYPE_ENDPOINT) {
        /* §7.5.3.6-8: one x1 lane at 2.5 GT/s, no ASPM. An RCiEP has no link: its link
         * registers are reserved (Linux skips them, pcie_cap_has_lnkctl). */
        pci_config_set32(cfg, c + PCI_EXP_LNKCAP, PCI_EXP_LNKCAP_SLS_2_5GB | 1u << 4);
        pci_config_set_wmask(cfg, c + PCI_EXP_LNKCTL, 2,
                             PCI_EXP_LNKCTL_RCB | PCI_EXP_LNKCTL_CCC | PCI_EXP_LNKCTL_ES);
        pci_config_set16(cfg, c + PCI_EXP_LNKSTA, PCI_EXP_LNKSTA_CLS_2_5GB | PCI_EXP_LNKSTA_NLW_X1);
        pci_config_set32(cfg, c + PCI_EXP_LNKCAP2, PCI_EXP_LNKCAP2_SLS_2_5GB);
        pci_config_set16(cfg, c + PCI_EXP_LNKCTL2, PCI_EXP_LNKCTL2_TLS_2_5GT);
    }
    return cap;
}

int pci_config_pcie_offer_flr(struct pci_config *cfg)
{
    int cap = pci_config_find_cap(cfg, PCI_CAP_ID_EXP);
    if (cap < 0)
        return -1;
    unsigned c = (unsigned)cap + PCI_EXP_DEVCAP;
    pci_config_set32(cfg, c, pci_config_get32(cfg, c) | PCI_EXP_DEVCAP_FLR);
    return 0;
}

bool pci_config_pcie_flr_written(const struct pci_config *cfg, unsigned off, unsigned len,
                                 uint32_t val)
{
    int cap = pci_config_find_cap(cfg, PCI_CAP_ID_EXP);
    if (cap < 0 || !(pci_config_get32(cfg, (unsigned)cap + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR))
        return false;
    /* Initiate FLR is bit 15 of Device Control: bit 7 of its second byte. */
    unsigned b = (unsigned)cap + PCI_EXP_DEVCTL + 1;
    return b >= off && b < off + len && (val >> (8 * (b - off))) & 0x80;
}

void pci_config_pcie_reset(struct pci_config *cfg)
{
    int cap = pci_config_find_cap(cfg, PCI_CAP_ID_EXP);
    if (cap < 0)
        return;
    pci_config_set16(cfg, (unsigned)cap + PCI_EXP_DEVCTL, PCIE_DEVCTL_DEFAULT);
    pci_config_set16(cfg, (unsigned)cap + PCI_EXP_DEVSTA, 0);
}
