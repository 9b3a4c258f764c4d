/* 16550A UART (the guest's ttyS0) on COM1, wired to a host input fd and output fd.
 * The register model has no KVM in it: the interrupt line is a callback. */
#ifndef VPF_VM_UART_H
#define VPF_VM_UART_H

#include <pthread.h>
#include <stdint.h>

#define UART_FIFO_SIZE 64

struct uart {
    pthread_mutex_t lock;
    uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
    uint16_t divisor;
    int thr_interrupt;          /* THRE interrupt pending until IIR is read or THR written */
    uint8_t rx[UART_FIFO_SIZE];
    unsigned rx_head, rx_count;
    int irq_level;
    int out_fd;
    void (*set_irq)(void *opaque, int level);
    void *irq_opaque;
};

void uart_init(struct uart *u, int out_fd, void (*set_irq)(void *, int), void *irq_opaque);
/* iobus callbacks for the 8 registers at LAYOUT_PORT_COM1. */
void uart_io_read(void *opaque, uint64_t off, void *data, unsigned len);
void uart_io_write(void *opaque, uint64_t off, const void *data, unsigned len);
/* Queues host input for the guest; returns bytes accepted (the FIFO may be full). */
unsigned uart_receive(struct uart *u, const uint8_t *buf, unsigned len);
/* Free space in the receive FIFO. */
unsigned uart_rx_space(struct uart *u);

#endif
