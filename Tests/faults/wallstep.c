/* A wall-clock step for one process, as NTP or `date -s` would make it: only CLOCK_REALTIME moves.
 *
 * LD_PRELOAD this library and name a file in WALLSTEP_FILE holding a signed offset in seconds ("3600", "-3600");
 * every read of the wall clock adds the file's current offset, so writing the file steps the clock while the
 * process runs. Monotonic and boot-time clocks, and every timer armed on them, are left alone: libfaketime, by
 * contrast, also rewrites absolute timerfd deadlines as if they were wall-clock ones, which on a machine that booted
 * less than the offset ago makes them negative, so the kernel refuses them and no timer of the process fires again.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic long long offset_ns;
static _Atomic long long checked_at_ns;

static long long raw_ns(clockid_t clock) {
    struct timespec ts;
    syscall(SYS_clock_gettime, clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Re-reads the file at most every 20 ms of monotonic time: a step takes effect within that. */
static long long current_offset(void) {
    long long now = raw_ns(CLOCK_MONOTONIC);
    long long last = atomic_load(&checked_at_ns);
    if (last != 0 && now - last < 20000000LL) return atomic_load(&offset_ns);
    atomic_store(&checked_at_ns, now);
    const char *path = getenv("WALLSTEP_FILE");
    if (path == NULL) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return atomic_load(&offset_ns);
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return atomic_load(&offset_ns); /* a file being rewritten keeps the last offset */
    buf[n] = 0;
    char *end = NULL;
    double seconds = strtod(buf, &end);
    if (end == buf) return atomic_load(&offset_ns);
    atomic_store(&offset_ns, (long long)(seconds * 1e9));
    return atomic_load(&offset_ns);
}

static int is_wall(clockid_t clock) {
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_TAI;
}

int clock_gettime(clockid_t clock, struct timespec *tp) {
    long rc = syscall(SYS_clock_gettime, clock, tp);
    if (rc != 0 || tp == NULL || !is_wall(clock)) return (int)rc;
    long long ns = (long long)tp->tv_sec * 1000000000LL + tp->tv_nsec + current_offset();
    tp->tv_sec = (time_t)(ns / 1000000000LL);
    tp->tv_nsec = (long)(ns % 1000000000LL);
    if (tp->tv_nsec < 0) {
        tp->tv_nsec += 1000000000L;
        tp->tv_sec -= 1;
    }
    return 0;
}

int __clock_gettime(clockid_t clock, struct timespec *tp) { return clock_gettime(clock, tp); }

int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0 && tv != NULL) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL) *out = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC) return 0;
    return clock_gettime(CLOCK_REALTIME, ts) == 0 ? base : 0;
}
