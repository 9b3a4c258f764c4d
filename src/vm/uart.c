/* 16550A register model (PC16550D datasheet; Linux drivers/tty/serial/8250 probes it). */
#include "vm/uart.h"
#include "base/util.h"

#include <errno.h>
#include <unistd.h>

enum {
    UART_RBR_THR = 0,
    UART_IER = 1,
    UART_IIR_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7
};

#define IER_RDI   0x01
#define IER_THRI  0x02
#define IIR_NONE  0x01
#define IIR_THRI  0x02
#define IIR_RDI   0x04
#define IIR_FIFO  0xc0   /* FIFOs enabled: what makes Linux say 16550A */
#define LCR_DLAB  0x80
#define MCR_LOOP  0x10
#define LSR_DR    0x01
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define MSR_DCD_DSR_CTS 0xb0

void uart_init(struct uart *u, int out_fd, void (*set_irq)(void *, int), void *irq_opaque)
{
    memset(u, 0, sizeof(*u));
    pthread_mutex_init(&u->lock, NULL);
    u->lsr = LSR_THRE | LSR_TEMT;
    u->msr = MSR_DCD_DSR_CTS;
    u->divisor = 12;    /* 9600 baud, irrelevant but readable */
    u->out_fd = out_fd;
    u->set_irq = set_irq;
    u->irq_opaque = irq_opaque;
}

/* Caller holds the lock. Receive data outranks THR empty (datasheet table 4). */
static uint8_t uart_iir(const struct uart *u)
{
    uint8_t fifo = (u->fcr & 1) ? IIR_FIFO : 0;
    if ((u->ier & IER_RDI) && u->rx_count)
        return IIR_RDI | fifo;
    if ((u->ier & IER_THRI) && u->thr_interrupt)
        return IIR_THRI | fifo;
    return IIR_NONE | fifo;
}

/* Caller holds the lock. The line follows the interrupt condition: the IOAPIC pin is
 * edge-triggered for ISA IRQs, so each new condition must show as a 0 -> 1 edge. */
static void uart_update_irq(struct uart *u)
{
    int level = !(uart_iir(u) & IIR_NONE);
    if (level != u->irq_level) {
        u->irq_level = level;
        u->set_irq(u->irq_opaque, level);
    }
}

static void uart_transmit(struct uart *u, uint8_t c)
{
    if (u->mcr & MCR_LOOP) {
        if (u->rx_count < UART_FIFO_SIZE) {
            u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = c;
            u->rx_count++;
        }
    } else if (u->out_fd >= 0) {
        ssize_t r;
        do
            r = write(u->out_fd, &c, 1);
        while (r < 0 && errno == EINTR);
    }
    u->thr_interrupt = 1;   /* transmit is instantaneous: THR is empty again */
}

void uart_io_read(void *opaque, uint64_t off, void *data, unsigned len)
{
    struct uart *u = opaque;
    uint8_t v = 0xff;
    pthread_mutex_lock(&u->lock);
    switch (off) {
    case UART_RBR_THR:
        if (u->lcr & LCR_DLAB) {
            v = u->divisor & 0xff;
        } else {
            v = 0;
            if (u->rx_count) {
                v = u->rx[u->rx_head];
                u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
                u->rx_count--;
            }
        }
        break;
    case UART_IER:
        v = (u->lcr & LCR_DLAB) ? u->divisor >> 8 : u->ier;
        break;
    case UART_IIR_FCR:
        v = uart_iir(u);
        if ((v & 0x0f) == IIR_THRI)
            u->thr_interrupt = 0;   /* reading IIR clears a THRE interrupt */
        break;
    case UART_LCR:
        v = u->lcr;
        break;
    case UART_MCR:
        v = u->mcr;
        break;
    case UART_LSR:
        v = u->lsr | (u->rx_count ? LSR_DR : 0);
        break;
    case UART_MSR:
        v = (u->mcr & MCR_LOOP) ? (uint8_t)((u->mcr & 0x0f) << 4) : u->msr;
        break;
    case UART_SCR:
        v = u->scr;
        break;
    }
    uart_update_irq(u);
    pthread_mutex_unlock(&u->lock);
    memset(data, v, len);
}

void uart_io_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
    struct uart *u = opaque;
    uint8_t v = *(const uint8_t *)data;
    pthread_mutex_lock(&u->lock);
    switch (off) {
    case UART_RBR_THR:
        if (u->lcr & LCR_DLAB)
            u->divisor = (u->divisor & 0xff00) | v;
        else
            uart_transmit(u, v);
        break;
    case UART_IER:
        if (u->lcr & LCR_DLAB) {
            u->divisor = (u->divisor & 0x00ff) | (uint16_t)(v << 8);
        } else {
            /* Enabling THRI with THR empty raises the interrupt at once. */
            if ((v & IER_THRI) && !(u->ier & IER_THRI))
                u->thr_interrupt = 1;
            u->ier = v & 0x0f;
        }
        break;
    case UART_IIR_FCR:
        if (v & 0x02) {   /* clear receive FIFO */
            u->rx_head = 0;
            u->rx_count = 0;
        }
        u->fcr = v & 0xc9;
        break;
    case UART_LCR:
        u->lcr = v;
        break;
    case UART_MCR:
        u->mcr = v & 0x1f;
        break;
    case UART_SCR:
        u->scr = v;
        break;
    default:
        break;   /* LSR and MSR are read-only */
    }
    uart_update_irq(u);
    pthread_mutex_unlock(&u->lock);
}

unsigned uart_rx_space(struct uart *u)
{
    pthread_mutex_lock(&u->lock);
    unsigned space = UART_FIFO_SIZE - u->rx_count;
    pthread_mutex_unlock(&u->lock);
    return space;
}

unsigned uart_receive(struct uart *u, const uint8_t *buf, unsigned len)
{
    unsigned n = 0;
    pthread_mutex_lock(&u->lock);
    while (n < len && u->rx_count < UART_FIFO_SIZE) {
        u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = buf[n++];
        u->rx_count++;
    }
    uart_update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return n;
}
