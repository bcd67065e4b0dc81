/*
 * loadgen: hold many Server-Sent Events subscriptions with one thread and
 * epoll, count deliveries and measure publish-to-receive latency.
 *
 * Why C: the subscribers must cost less than the servers they measure. One
 * event loop, no allocation per event, a streaming parser that never copies
 * the body: HTTP/1.1 response head, then either raw bytes (Connection: close
 * framing) or chunked transfer coding, then SSE lines.
 *
 * Latency: the publisher puts "t":<CLOCK_MONOTONIC ns> in each payload
 * (Node's process.hrtime.bigint() reads the same clock), so on one machine
 * latency = clock_gettime(CLOCK_MONOTONIC) at read() - t, with no clock skew.
 *
 * Control: line commands on stdin, JSON lines on stdout.
 *   stats  print counters since the last reset (with the latency histogram)
 *   reset  zero counters, histogram and the CPU baseline
 *   quit   close every connection with RST (no TIME_WAIT left) and exit
 * It prints {"event":"ready",...} once every connection has its response
 * head or has failed.
 *
 * usage: loadgen --port P [--host 127.0.0.1] [--path /v1/events?topic=bench]
 *                --conns N [--concurrency 200]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum conn_state { ST_CONNECTING, ST_HEAD, ST_BODY, ST_DONE };
enum chunk_state { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_END };

#define HEAD_MAX 4096
#define LINE_MAX_KEEP 192 /* enough to reach "t": in a 64-byte payload */

struct conn {
  int fd;
  uint8_t state;
  uint8_t chunked;
  uint8_t chunk_state;
  uint8_t event_has_data;
  uint32_t chunk_left;
  uint64_t event_t; /* publish timestamp of the current event, 0 = none */
  uint16_t line_len;
  uint16_t head_len;
  char *head; /* only while reading the response head */
  char line[LINE_MAX_KEEP];
};

/* Log-linear histogram of latency in ns: 64 sub-buckets per power of two
 * (under 1.6% error), values up to 2^40 ns (about 18 minutes). */
#define SUB 64
#define NBUCKETS (2 * SUB + 40 * SUB)
static uint64_t hist[NBUCKETS];

static int bucket_of(uint64_t v) {
  if (v < 2 * SUB) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  int e = msb - 6; /* v >> e is in [64, 127] */
  int idx = 2 * SUB + (e - 1) * SUB + (int)((v >> e) - SUB);
  return idx < NBUCKETS ? idx : NBUCKETS - 1;
}

static uint64_t bucket_mid(int idx) {
  if (idx < 2 * SUB) return (uint64_t)idx;
  int e = (idx - 2 * SUB) / SUB + 1;
  uint64_t m = (uint64_t)((idx - 2 * SUB) % SUB + SUB);
  return (m << e) + ((1ull << e) >> 1);
}

static struct {
  uint64_t deliveries, no_timestamp, comments, bytes, lat_sum_ns, lat_max_ns;
  uint64_t first_ns, last_ns;
} st;
static long long opened, connected, failed, closed_by_peer, bad_status;
static long long open_now, pending;
static struct rusage ru_base;
static int ready_printed;

static const char *host = "127.0.0.1";
static int port = 0;
static const char *path = "/v1/events?topic=bench";
static long long nconns = 0;
static int concurrency = 200;
static struct sockaddr_in addr;
static char request[1024];
static size_t request_len;
static int ep;
static struct conn *conns;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double tv_s(struct timeval a, struct timeval b) {
  return (double)(a.tv_sec - b.tv_sec) + (double)(a.tv_usec - b.tv_usec) / 1e6;
}

static void close_conn(struct conn *c, int rst) {
  if (c->fd < 0) return;
  if (rst) {
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  free(c->head);
  c->head = NULL;
  if (c->state == ST_CONNECTING || c->state == ST_HEAD) pending--;
  c->state = ST_DONE;
  open_now--;
}

static void open_one(long long i) {
  struct conn *c = &conns[i];
  memset(c, 0, sizeof *c);
  c->fd = -1;
  opened++;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    failed++;
    c->state = ST_DONE;
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->state = ST_CONNECTING;
  open_now++;
  pending++;
  int r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  if (r < 0 && errno != EINPROGRESS) {
    failed++;
    close_conn(c, 1);
    return;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void fill(void) {
  while (opened < nconns && pending < concurrency) open_one(opened);
}

static void maybe_ready(void) {
  if (!ready_printed && opened == nconns && pending == 0) {
    ready_printed = 1;
    printf("{\"event\":\"ready\",\"connected\":%lld,\"failed\":%lld,\"bad_status\":%lld}\n",
           connected, failed, bad_status);
    fflush(stdout);
  }
}

/* One complete SSE line (without its terminator). */
static void sse_line(struct conn *c, uint64_t t_recv) {
  size_t n = c->line_len;
  char *l = c->line;
  if (n > 0 && l[n - 1] == '\r') n--;
  if (n == 0) { /* end of event */
    if (c->event_has_data) {
      st.deliveries++;
      if (c->event_t) {
        uint64_t lat = t_recv > c->event_t ? t_recv - c->event_t : 0;
        hist[bucket_of(lat)]++;
        st.lat_sum_ns += lat;
        if (lat > st.lat_max_ns) st.lat_max_ns = lat;
      } else {
        st.no_timestamp++;
      }
      if (!st.first_ns) st.first_ns = t_recv;
      st.last_ns = t_recv;
    }
    c->event_has_data = 0;
    c->event_t = 0;
    return;
  }
  if (l[0] == ':') {
    st.comments++;
    return;
  }
  if (n >= 5 && memcmp(l, "data:", 5) == 0) {
    c->event_has_data = 1;
    if (c->event_t) return; /* first data line carries the timestamp */
    l[n < LINE_MAX_KEEP ? n : LINE_MAX_KEEP - 1] = 0;
    char *p = strstr(l + 5, "\"t\":");
    if (p) {
      p += 4;
      while (*p == ' ') p++;
      uint64_t t = 0;
      while (*p >= '0' && *p <= '9') t = t * 10 + (uint64_t)(*p++ - '0');
      c->event_t = t;
    }
  }
}

/* Body bytes after transfer decoding. */
static void sse_bytes(struct conn *c, const char *p, size_t n, uint64_t t_recv) {
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (ch == '\n') {
      sse_line(c, t_recv);
      c->line_len = 0;
    } else if (c->line_len < LINE_MAX_KEEP - 1) {
      c->line[c->line_len++] = ch;
    }
  }
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static void body_bytes(struct conn *c, const char *p, size_t n, uint64_t t_recv) {
  if (!c->chunked) {
    sse_bytes(c, p, n, t_recv);
    return;
  }
  size_t i = 0;
  while (i < n) {
    switch (c->chunk_state) {
    case CH_SIZE: {
      int h = hexval(p[i]);
      if (h >= 0) {
        c->chunk_left = c->chunk_left * 16 + (uint32_t)h;
      } else if (p[i] == '\r') {
        c->chunk_state = CH_SIZE_LF;
      } else if (p[i] == '\n') {
        c->chunk_state = c->chunk_left ? CH_DATA : CH_END;
      } else {
        c->chunk_state = CH_EXT;
      }
      i++;
      break;
    }
    case CH_EXT:
      if (p[i] == '\n') c->chunk_state = c->chunk_left ? CH_DATA : CH_END;
      i++;
      break;
    case CH_SIZE_LF:
      if (p[i] == '\n') c->chunk_state = c->chunk_left ? CH_DATA : CH_END;
      i++;
      break;
    case CH_DATA: {
      size_t take = n - i < c->chunk_left ? n - i : c->chunk_left;
      sse_bytes(c, p + i, take, t_recv);
      i += take;
      c->chunk_left -= (uint32_t)take;
      if (!c->chunk_left) c->chunk_state = CH_DATA_CR;
      break;
    }
    case CH_DATA_CR:
      c->chunk_state = p[i] == '\r' ? CH_DATA_LF : CH_SIZE;
      if (p[i] == '\n') c->chunk_state = CH_SIZE;
      i++;
      break;
    case CH_DATA_LF:
      c->chunk_state = CH_SIZE;
      i++;
      break;
    case CH_END:
      return;
    }
  }
}

/* Returns 1 once the head is complete (and feeds what follows it). */
static int head_bytes(struct conn *c, const char *p, size_t n, uint64_t t_recv) {
  size_t room = HEAD_MAX - 1 - c->head_len;
  size_t take = n < room ? n : room;
  memcpy(c->head + c->head_len, p, take);
  c->head_len += (uint16_t)take;
  c->head[c->head_len] = 0;
  char *end = strstr(c->head, "\r\n\r\n");
  if (!end) {
    if (c->head_len >= HEAD_MAX - 1) return -1;
    return 0;
  }
  size_t head_size = (size_t)(end - c->head) + 4;
  int status = 0;
  if (sscanf(c->head, "HTTP/1.%*d %d", &status) != 1 || status != 200) return -1;
  for (char *h = strstr(c->head, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
    if (strncasecmp(h + 2, "transfer-encoding:", 18) == 0) {
      char *v = h + 20;
      char *eol = strstr(v, "\r\n");
      char save = *eol;
      *eol = 0;
      if (strcasestr(v, "chunked")) c->chunked = 1;
      *eol = save;
    }
  }
  /* bytes of this read that follow the head */
  size_t before = c->head_len - take; /* head bytes from earlier reads */
  size_t used = head_size - before;
  free(c->head);
  c->head = NULL;
  c->state = ST_BODY;
  c->chunk_state = CH_SIZE;
  pending--;
  connected++;
  if (used < n) body_bytes(c, p + used, n - used, t_recv);
  return 1;
}

static char rbuf[1 << 16];

static void on_readable(struct conn *c) {
  ssize_t r = read(c->fd, rbuf, sizeof rbuf);
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
    if (c->state == ST_BODY) closed_by_peer++;
    else failed++;
    close_conn(c, 0);
    return;
  }
  if (r < 0) return;
  uint64_t t = now_ns();
  st.bytes += (uint64_t)r;
  if (c->state == ST_HEAD) {
    int h = head_bytes(c, rbuf, (size_t)r, t);
    if (h < 0) {
      bad_status++;
      failed++;
      close_conn(c, 1);
    }
    return;
  }
  body_bytes(c, rbuf, (size_t)r, t);
}

static void on_writable(struct conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) {
    failed++;
    close_conn(c, 1);
    return;
  }
  ssize_t w = write(c->fd, request, request_len);
  if (w != (ssize_t)request_len) {
    failed++;
    close_conn(c, 1);
    return;
  }
  c->head = malloc(HEAD_MAX);
  c->head_len = 0;
  c->state = ST_HEAD;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)(c - conns)};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void print_stats(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"event\":\"stats\",\"open\":%lld,\"connected\":%lld,\"failed\":%lld,"
         "\"closed_by_peer\":%lld,\"bad_status\":%lld,\"deliveries\":%llu,"
         "\"no_timestamp\":%llu,\"comments\":%llu,\"bytes\":%llu,\"lat_sum_ns\":%llu,"
         "\"lat_max_ns\":%llu,\"first_ns\":%llu,\"last_ns\":%llu,\"cpu_user_s\":%.6f,"
         "\"cpu_sys_s\":%.6f,\"maxrss_kb\":%ld,\"hist\":[",
         open_now, connected, failed, closed_by_peer, bad_status,
         (unsigned long long)st.deliveries, (unsigned long long)st.no_timestamp,
         (unsigned long long)st.comments, (unsigned long long)st.bytes,
         (unsigned long long)st.lat_sum_ns, (unsigned long long)st.lat_max_ns,
         (unsigned long long)st.first_ns, (unsigned long long)st.last_ns,
         tv_s(ru.ru_utime, ru_base.ru_utime), tv_s(ru.ru_stime, ru_base.ru_stime), ru.ru_maxrss);
  int first = 1;
  for (int i = 0; i < NBUCKETS; i++) {
    if (!hist[i]) continue;
    printf("%s[%llu,%llu]", first ? "" : ",", (unsigned long long)bucket_mid(i),
           (unsigned long long)hist[i]);
    first = 0;
  }
  printf("]}\n");
  fflush(stdout);
}

static void reset_stats(void) {
  memset(&st, 0, sizeof st);
  memset(hist, 0, sizeof hist);
  getrusage(RUSAGE_SELF, &ru_base);
  printf("{\"event\":\"reset\"}\n");
  fflush(stdout);
}

static char cmdbuf[256];
static size_t cmdlen;

/* Returns 1 when asked to quit (or stdin closed). */
static int on_stdin(void) {
  ssize_t r = read(0, cmdbuf + cmdlen, sizeof cmdbuf - 1 - cmdlen);
  if (r <= 0) return 1;
  cmdlen += (size_t)r;
  char *nl;
  while ((nl = memchr(cmdbuf, '\n', cmdlen))) {
    *nl = 0;
    if (strcmp(cmdbuf, "stats") == 0) print_stats();
    else if (strcmp(cmdbuf, "reset") == 0) reset_stats();
    else if (strcmp(cmdbuf, "quit") == 0) return 1;
    size_t rest = cmdlen - (size_t)(nl + 1 - cmdbuf);
    memmove(cmdbuf, nl + 1, rest);
    cmdlen = rest;
  }
  if (cmdlen == sizeof cmdbuf - 1) cmdlen = 0;
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--host")) host = argv[i + 1];
    else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--path")) path = argv[i + 1];
    else if (!strcmp(argv[i], "--conns")) nconns = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--concurrency")) concurrency = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "loadgen: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (port <= 0 || nconns <= 0) {
    fprintf(stderr, "usage: loadgen --port P --conns N [--host H] [--path P] [--concurrency C]\n");
    return 2;
  }
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if ((rlim_t)nconns + 16 > rl.rlim_cur) {
    fprintf(stderr, "loadgen: %lld connections need more than the open-file limit %llu\n", nconns,
            (unsigned long long)rl.rlim_cur);
    return 2;
  }
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
    return 2;
  }
  request_len = (size_t)snprintf(request, sizeof request,
                                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
                                 "Cache-Control: no-cache\r\n\r\n",
                                 path, host, port);
  conns = calloc((size_t)nconns, sizeof *conns);
  ep = epoll_create1(EPOLL_CLOEXEC);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event sev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
  getrusage(RUSAGE_SELF, &ru_base);
  fill();
  maybe_ready();

  static struct epoll_event evs[1024];
  for (;;) {
    int n = epoll_wait(ep, evs, 1024, 200);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u64 == UINT64_MAX) {
        if (on_stdin()) goto out;
        continue;
      }
      struct conn *c = &conns[evs[i].data.u64];
      if (c->fd < 0) continue;
      if (c->state == ST_CONNECTING) {
        on_writable(c);
      } else if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        on_readable(c);
      }
    }
    fill();
    maybe_ready();
  }
out:
  for (long long i = 0; i < opened; i++) close_conn(&conns[i], 1);
  return 0;
}
