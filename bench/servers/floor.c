/*
 * floor: the least work any SSE server can do per delivery, so the bench can
 * show what the kernel itself costs per delivered event on this machine.
 *
 * A measuring instrument, not a product. Per publish it builds one frame
 * ("id: <n>\ndata: <payload>\n\n") once and makes exactly one write() per
 * subscriber: no writev, no user-space buffering, no allocation per
 * delivery. Whatever a real server adds (topics, history, id resume,
 * heartbeats, backpressure, batching) is left out on purpose, so its CPU per
 * delivery is the floor a one-write-per-delivery server cannot go below.
 * On loopback that floor is mostly kernel time: the sender's write() also
 * runs the receiver's TCP path (see "Loopback" in bench/README.md).
 *
 * What it does not do, on purpose:
 *   - one topic only ("bench"); other topics get 404
 *   - no Last-Event-ID resume, no history, no heartbeats
 *   - no backpressure: a subscriber whose write() is short or would block is
 *     counted and closed (nothing backs up at the bench's steady rate; the
 *     bench reports the deliveries that went missing)
 *   - publish bodies with Content-Length only (no chunked bodies), one line
 *     (no CR or LF, which would need SSE line splitting)
 *
 * Wire surface, as the bench drives it:
 *   GET  /v1/events?topic=bench  200 text/event-stream, Connection: close
 *                                framing (raw bytes until the socket closes)
 *   POST /pub[?topic=bench]      body = the payload -> 204 (keep-alive)
 *   GET  /readyz                 200 "ok" (keep-alive)
 *
 * One thread, epoll (level-triggered), non-blocking sockets, 127.0.0.1 only.
 * Bounded: request heads up to HEAD_MAX, bodies up to BODY_MAX; anything
 * malformed or larger gets a 4xx and the connection is closed. On SIGTERM
 * or SIGINT it prints its counters as one JSON line and exits.
 *
 * usage: floor --port N
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define BODY_MAX 65536
/* An incomplete request never holds more than this, so a per-connection
 * buffer of REQ_MAX always has room for the next read. */
#define REQ_MAX (HEAD_MAX + BODY_MAX)
/* Node and nginx listen with 511; the loadgen keeps at most 200 connects in
 * flight per process, so the backlog never overflows. */
#define LISTEN_BACKLOG 511
#define SSE_PATH "/v1/events?topic=bench"

static const char SSE_HEAD[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
/* 204 carries no body by definition, so no Content-Length (RFC 9110 15.3.5). */
static const char PUB_OK[] = "HTTP/1.1 204 No Content\r\n\r\n";
static const char READY_OK[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
static const char NOT_FOUND[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
static const char BAD_REQUEST[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char TOO_LARGE[] = "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char HEAD_TOO_LARGE[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

enum kind { K_NONE, K_HTTP, K_SUB };

/* Indexed by fd: the table is as large as the open-file limit. */
struct conn {
  uint8_t kind;
  uint32_t len;     /* bytes of an incomplete request held in buf */
  uint32_t sub_idx; /* position in subs[] while a subscriber */
  char *buf;        /* REQ_MAX bytes, allocated the first time a request spans reads */
};

static struct conn *conns;
static int *subs; /* subscriber fds, in no order */
static uint32_t nsubs;
static int ep, lfd, spare_fd;
static volatile sig_atomic_t stop;

/* Requests are parsed in place from here when a connection has nothing
 * pending, so a subscriber's GET never allocates. Room for several
 * pipelined publishes per read. */
static char rbuf[4 * REQ_MAX];
static char frame[64 + BODY_MAX];
static uint64_t next_id;

static struct {
  uint64_t publishes, writes, eagain, short_writes, write_errors;
  uint64_t subscribed, subs_left, subs_max, refused, bad_requests;
} ctr;

static void close_http(int fd) {
  struct conn *c = &conns[fd];
  free(c->buf);
  memset(c, 0, sizeof *c);
  close(fd); /* also leaves the epoll set: the fd is never dup'ed */
}

static void close_sub(int fd) {
  struct conn *c = &conns[fd];
  uint32_t i = c->sub_idx;
  int last = subs[--nsubs];
  subs[i] = last;
  conns[last].sub_idx = i;
  memset(c, 0, sizeof *c);
  close(fd);
}

/* One write() of a whole response; 0 when it all went out. The responses
 * are tiny, so anything short means the peer is gone or misbehaving. */
static int reply(int fd, const char *resp, size_t len) {
  ssize_t w;
  do w = write(fd, resp, len);
  while (w < 0 && errno == EINTR);
  return w == (ssize_t)len ? 0 : -1;
}

#define REPLY(fd, s) reply((fd), (s), sizeof(s) - 1)

/* Builds the frame once, then one write() per subscriber. */
static void publish(const char *data, size_t len) {
  int head = snprintf(frame, 64, "id: %" PRIu64 "\ndata: ", ++next_id);
  memcpy(frame + head, data, len);
  size_t flen = (size_t)head + len;
  frame[flen++] = '\n';
  frame[flen++] = '\n';
  ctr.publishes++;
  for (uint32_t i = 0; i < nsubs;) {
    int fd = subs[i];
    ssize_t w;
    do w = write(fd, frame, flen);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)flen) {
      ctr.writes++;
      i++;
      continue;
    }
    if (w >= 0) ctr.short_writes++;
    else if (errno == EAGAIN) ctr.eagain++;
    else ctr.write_errors++;
    close_sub(fd); /* moves the last subscriber into slot i: do not advance */
  }
}

/* Case-insensitive search for `needle` in [p, end). */
static int contains_ci(const char *p, const char *end, const char *needle) {
  size_t n = strlen(needle);
  for (; p + n <= end; p++)
    if (strncasecmp(p, needle, n) == 0) return 1;
  return 0;
}

struct request {
  const char *method, *target;
  size_t method_len, target_len;
  size_t content_length;
  int keep_alive;
};

/* Parses a head that ends with CRLF CRLF at p[len-4]. 0, or -1 when malformed. */
static int parse_head(const char *p, size_t len, struct request *r) {
  const char *end = p + len - 2; /* the final CRLF */
  const char *eol = memmem(p, len, "\r\n", 2);
  const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
  if (!sp1 || sp1 == p) return -1;
  const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
  if (!sp2 || sp2 == sp1 + 1) return -1;
  if (eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) return -1;
  r->method = p;
  r->method_len = (size_t)(sp1 - p);
  r->target = sp1 + 1;
  r->target_len = (size_t)(sp2 - sp1 - 1);
  r->content_length = 0;
  r->keep_alive = sp2[8] == '1'; /* HTTP/1.0 closes unless it asks otherwise */
  int have_length = 0;
  for (const char *h = eol + 2; h < end; h = eol + 2) {
    eol = memmem(h, (size_t)(end + 2 - h), "\r\n", 2);
    const char *colon = memchr(h, ':', (size_t)(eol - h));
    if (!colon) return -1;
    size_t name_len = (size_t)(colon - h);
    const char *v = colon + 1;
    while (v < eol && (*v == ' ' || *v == '\t')) v++;
    if (name_len == 14 && strncasecmp(h, "content-length", 14) == 0) {
      if (have_length || v == eol) return -1;
      size_t n = 0;
      for (const char *d = v; d < eol && *d != ' ' && *d != '\t'; d++) {
        if (*d < '0' || *d > '9') return -1;
        if (n <= BODY_MAX) n = n * 10 + (size_t)(*d - '0'); /* saturates above BODY_MAX: 413 */
      }
      r->content_length = n;
      have_length = 1;
    } else if (name_len == 17 && strncasecmp(h, "transfer-encoding", 17) == 0) {
      return -1; /* chunked bodies are out of scope */
    } else if (name_len == 10 && strncasecmp(h, "connection", 10) == 0) {
      if (contains_ci(v, eol, "close")) r->keep_alive = 0;
      else if (contains_ci(v, eol, "keep-alive")) r->keep_alive = 1;
    }
  }
  return 0;
}

static int is(const char *p, size_t len, const char *lit) {
  return len == strlen(lit) && memcmp(p, lit, len) == 0;
}

static void subscribe(int fd) {
  struct conn *c = &conns[fd];
  if (REPLY(fd, SSE_HEAD) < 0) {
    close_http(fd);
    return;
  }
  free(c->buf);
  c->buf = NULL;
  c->len = 0;
  c->kind = K_SUB;
  c->sub_idx = nsubs;
  subs[nsubs++] = fd;
  if (nsubs > ctr.subs_max) ctr.subs_max = nsubs;
  ctr.subscribed++;
  /* Nothing more is read from a subscriber: watch only for it going away
   * (FIN, RST, error), so the fan-out never shares the loop with reads. */
  struct epoll_event ev = {.events = EPOLLRDHUP, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Handles the complete requests at the start of p[0..n). Returns the bytes
 * used (what follows is an incomplete request), or -1 when the connection
 * was closed or became a subscriber. */
static long handle_requests(int fd, char *p, size_t n) {
  size_t off = 0;
  while (off < n) {
    /* RFC 9112 2.2: ignore empty lines before a request line. */
    if (p[off] == '\r' || p[off] == '\n') {
      off++;
      continue;
    }
    char *req = p + off;
    size_t avail = n - off;
    char *end = memmem(req, avail < HEAD_MAX ? avail : HEAD_MAX, "\r\n\r\n", 4);
    if (!end) {
      if (avail < HEAD_MAX) break; /* the rest of the head is still to come */
      ctr.bad_requests++;
      REPLY(fd, HEAD_TOO_LARGE);
      close_http(fd);
      return -1;
    }
    size_t head_len = (size_t)(end - req) + 4;
    struct request r;
    if (parse_head(req, head_len, &r) < 0) {
      ctr.bad_requests++;
      REPLY(fd, BAD_REQUEST);
      close_http(fd);
      return -1;
    }
    if (r.content_length > BODY_MAX) {
      ctr.bad_requests++;
      REPLY(fd, TOO_LARGE);
      close_http(fd);
      return -1;
    }
    if (avail < head_len + r.content_length) break; /* the body is still to come */
    const char *body = req + head_len;
    off += head_len + r.content_length;
    int rc;
    if (is(r.method, r.method_len, "GET") && is(r.target, r.target_len, SSE_PATH)) {
      subscribe(fd);
      return -1;
    } else if (is(r.method, r.method_len, "POST") &&
               (is(r.target, r.target_len, "/pub") || is(r.target, r.target_len, "/pub?topic=bench"))) {
      if (memchr(body, '\n', r.content_length) || memchr(body, '\r', r.content_length)) {
        ctr.bad_requests++;
        REPLY(fd, BAD_REQUEST);
        close_http(fd);
        return -1;
      }
      publish(body, r.content_length);
      rc = REPLY(fd, PUB_OK);
    } else if (is(r.method, r.method_len, "GET") && is(r.target, r.target_len, "/readyz")) {
      rc = REPLY(fd, READY_OK);
    } else {
      rc = REPLY(fd, NOT_FOUND);
    }
    if (rc < 0 || !r.keep_alive) {
      close_http(fd);
      return -1;
    }
  }
  return (long)off;
}

static void on_http(int fd) {
  struct conn *c = &conns[fd];
  char *base = c->len ? c->buf : rbuf;
  size_t cap = c->len ? REQ_MAX : sizeof rbuf;
  ssize_t r = read(fd, base + c->len, cap - c->len);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (r <= 0) {
    close_http(fd);
    return;
  }
  size_t n = c->len + (size_t)r;
  long used = handle_requests(fd, base, n);
  if (used < 0) return;
  size_t rest = n - (size_t)used;
  if (rest && !c->buf && !(c->buf = malloc(REQ_MAX))) {
    close_http(fd);
    return;
  }
  if (rest) memmove(c->buf, base + used, rest);
  c->len = (uint32_t)rest;
}

static void on_accept(void) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
        /* Out of descriptors: accept with the spare one and close at once,
         * so the pending connection is refused instead of making the
         * level-triggered listener spin. */
        close(spare_fd);
        fd = accept(lfd, NULL, NULL);
        if (fd >= 0) close(fd);
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ctr.refused++;
        continue;
      }
      return; /* EAGAIN: none left */
    }
    int one = 1;
    /* One write() is one segment: no Nagle delay behind an unacked event. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[fd].kind = K_HTTP;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
}

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "floor: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (port <= 0 || port > 65535) {
    fprintf(stderr, "usage: floor --port N\n");
    return 2;
  }
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  /* An unlimited or huge hard limit would make the fd-indexed tables huge. */
  size_t maxfd = rl.rlim_cur > 1u << 20 ? 1u << 20 : (size_t)rl.rlim_cur;
  if (rl.rlim_cur > maxfd) {
    rl.rlim_cur = maxfd;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  conns = calloc(maxfd, sizeof *conns);
  subs = calloc(maxfd, sizeof *subs);
  if (!conns || !subs) {
    fprintf(stderr, "floor: out of memory\n");
    return 1;
  }

  signal(SIGPIPE, SIG_IGN); /* a write to a closed subscriber returns EPIPE instead */
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: epoll_wait returns EINTR */
  sigaction(SIGINT, &sa, NULL);

  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, LISTEN_BACKLOG) < 0) {
    fprintf(stderr, "floor: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
    return 1;
  }
  spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  printf("{\"msg\":\"listening\",\"port\":%d,\"max_fds\":%zu}\n", port, maxfd);
  fflush(stdout);

  static struct epoll_event evs[1024];
  while (!stop) {
    int n = epoll_wait(ep, evs, 1024, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("floor: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        on_accept();
      } else if (conns[fd].kind == K_SUB) {
        ctr.subs_left++; /* only hang-ups and errors are watched on subscribers */
        close_sub(fd);
      } else if (conns[fd].kind == K_HTTP) {
        on_http(fd);
      }
      /* K_NONE: closed earlier in this batch (a fan-out dropped it) */
    }
  }
  printf("{\"msg\":\"stopped\",\"publishes\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"eagain\":%" PRIu64
         ",\"short_writes\":%" PRIu64 ",\"write_errors\":%" PRIu64 ",\"subscribed\":%" PRIu64
         ",\"subscribers_left\":%" PRIu64 ",\"subscribers_max\":%" PRIu64 ",\"subscribers_now\":%" PRIu32
         ",\"refused\":%" PRIu64 ",\"bad_requests\":%" PRIu64 "}\n",
         ctr.publishes, ctr.writes, ctr.eagain, ctr.short_writes, ctr.write_errors, ctr.subscribed,
         ctr.subs_left, ctr.subs_max, nsubs, ctr.refused, ctr.bad_requests);
  return 0;
}
