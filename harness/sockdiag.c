/*
 * sockdiag: the kernel's socket table for one TCP port.
 *
 * Owns reading the table (NETLINK_SOCK_DIAG, inet_diag_req_v2, IPv4 and IPv6,
 * with an in-kernel bytecode filter on the local port so that a busy host costs
 * no more than an idle one), counting sockets per TCP state, and mapping LISTEN
 * sockets to their owning processes through /proc/<pid>/fd ("socket:[inode]").
 * When netlink is not available (old kernel, seccomp, ...) the same counts come
 * from /proc/net/tcp and /proc/net/tcp6.
 *
 * A netlink socket is opened and closed per call: it costs microseconds, keeps
 * the module free of state and of fds to leak, and is safe from any thread.
 */
#include "rebound/sockdiag.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rebound/procscan.h"

#define MAX_LISTEN_INODES 64
#define MAX_ANY_PORT_INODES 8192 /* LISTEN sockets of the whole host, for a port discovery */
#define RECV_BUF 32768
#define NETLINK_TIMEOUT_MS 1000

/* Where one dump's results go. */
struct collect {
  struct rb_port_snapshot *snap;
  unsigned long *inodes;
  uint16_t *inode_ports;   /* port of each collected inode, when asked (any-port dumps) */
  size_t max_inodes, ninodes;
  bool stop_at_first; /* rb_sockdiag_is_listening: any match will do */
  bool found;
};

static void count_socket(struct collect *c, unsigned state, unsigned long inode, uint16_t port)
{
  c->found = true;
  if(state < RB_TCP_STATE_MAX)
    c->snap->counts[state]++;
  /* a connection still in the accept queue has no file yet, hence no inode */
  if(state == RB_TCP_ESTABLISHED && inode)
    c->snap->accepted++;
  if(state == RB_TCP_LISTEN && c->inodes && inode && c->ninodes < c->max_inodes) {
    if(c->inode_ports)
      c->inode_ports[c->ninodes] = port;
    c->inodes[c->ninodes++] = inode;
  }
}

/* ---- netlink --------------------------------------------------------------- */

struct diag_request {
  struct nlmsghdr nlh;
  struct inet_diag_req_v2 req;
  struct nlattr attr;
  struct inet_diag_bc_op op;
  struct inet_diag_hostcond cond;
};

/* One conditional op: "local port == port" jumps to the end (accept); anything
   else jumps 4 bytes past it (reject). This is what ss(8) emits for sport.
   Port 0 (never a listening port) means every port: no filter at all. */
static void build_request(struct diag_request *r, int family, uint16_t port, uint32_t states, uint32_t seq)
{
  memset(r, 0, sizeof(*r));
  r->nlh.nlmsg_len = sizeof(*r);
  r->nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  r->nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  r->nlh.nlmsg_seq = seq;
  r->req.sdiag_family = (uint8_t)family;
  r->req.sdiag_protocol = IPPROTO_TCP;
  r->req.idiag_states = states;
  r->attr.nla_type = INET_DIAG_REQ_BYTECODE;
  r->attr.nla_len = NLA_HDRLEN + sizeof(r->op) + sizeof(r->cond);
  r->op.code = INET_DIAG_BC_S_COND;
  r->op.yes = sizeof(r->op) + sizeof(r->cond);
  r->op.no = r->op.yes + 4;
  r->cond.family = AF_UNSPEC;
  r->cond.prefix_len = 0;
  r->cond.port = port;
  if(!port)
    r->nlh.nlmsg_len = offsetof(struct diag_request, attr);
}

/* Handle one datagram of the dump. Returns 1 when the dump is done, 0 to go on,
   -1 on a netlink error (errno set). */
static int parse_dump(const char *buf, size_t len, uint32_t seq, uint16_t port, struct collect *c)
{
  const struct nlmsghdr *h;

  for(h = (const struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    const struct inet_diag_msg *m;

    if(h->nlmsg_seq != seq)
      continue;
    if(h->nlmsg_type == NLMSG_DONE)
      return 1;
    if(h->nlmsg_type == NLMSG_ERROR) {
      const struct nlmsgerr *e = NLMSG_DATA(h);

      errno = h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ? -e->error : EPROTO;
      return -1;
    }
    if(h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
      continue;
    m = NLMSG_DATA(h);
    /* the filter already did this; checking again costs nothing */
    if(port && ntohs(m->id.idiag_sport) != port)
      continue;
    count_socket(c, m->idiag_state, m->idiag_inode, ntohs(m->id.idiag_sport));
    if(c->stop_at_first)
      return 1;
  }
  return 0;
}

static rb_err netlink_dump(int fd, int family, uint16_t port, uint32_t states, struct collect *c,
                           char *msg, size_t msglen)
{
  static const uint32_t seq = 1;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct diag_request req;
  char *buf = malloc(RECV_BUF);
  rb_err err = RB_OK;

  if(!buf)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  build_request(&req, family, port, states, seq);
  if(sendto(fd, &req, req.nlh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "sock_diag request: %s", strerror(errno));
    goto out;
  }
  for(;;) {
    ssize_t n = recv(fd, buf, RECV_BUF, 0);
    int done;

    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0) {
      err = rb_fail(msg, msglen, n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? RB_ERR_TIMEOUT : RB_ERR_SYSTEM,
                    "sock_diag reply: %s", n < 0 ? strerror(errno) : "end of data");
      goto out;
    }
    done = parse_dump(buf, (size_t)n, seq, port, c);
    if(done < 0) {
      err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "sock_diag: %s", strerror(errno));
      goto out;
    }
    if(done)
      break;
  }
out:
  free(buf);
  return err;
}

static int netlink_open(void)
{
  struct timeval tv = { .tv_sec = NETLINK_TIMEOUT_MS / 1000, .tv_usec = (NETLINK_TIMEOUT_MS % 1000) * 1000 };
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

  if(fd >= 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

/* Both families; a fresh socket per dump so that an abandoned dump (stop at the
   first match) leaves nothing behind to confuse the next one. */
static rb_err netlink_collect(uint16_t port, uint32_t states, struct collect *c, char *msg, size_t msglen)
{
  static const int families[] = { AF_INET, AF_INET6 };
  rb_err err = RB_OK;

  for(size_t i = 0; i < 2 && !(c->stop_at_first && c->found); i++) {
    int fd = netlink_open();

    if(fd < 0)
      return rb_fail(msg, msglen, RB_ERR_SYSTEM, "NETLINK_SOCK_DIAG socket: %s", strerror(errno));
    err = netlink_dump(fd, families[i], port, states, c, msg, msglen);
    close(fd);
    if(err)
      return err;
  }
  return RB_OK;
}

/* ---- /proc/net/tcp{,6} ------------------------------------------------------- */

static char *read_text_file(const char *path)
{
  size_t cap = 16384, len = 0;
  char *buf = malloc(cap);
  int fd = open(path, O_RDONLY | O_CLOEXEC);

  if(!buf || fd < 0)
    goto fail;
  for(;;) {
    ssize_t n;

    if(len + 1 == cap) {
      char *bigger = realloc(buf, cap * 2);

      if(!bigger)
        goto fail;
      buf = bigger;
      cap *= 2;
    }
    n = read(fd, buf + len, cap - len - 1);
    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0)
      goto fail;
    if(n == 0)
      break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  return buf;
fail:
  if(fd >= 0)
    close(fd);
  free(buf);
  return NULL;
}

/* One line: "sl: LOCALADDR:PORT REMADDR:PORT ST tx:rx tr:when retrnsmt uid timeout inode ...".
   Returns false when the line does not have that shape. */
static bool parse_proc_line(const char *line, unsigned *lport, unsigned *state, unsigned long *inode)
{
  char local[80], remote[80], *colon;

  if(sscanf(line, " %*u: %79s %79s %x %*x:%*x %*x:%*x %*x %*u %*u %lu", local, remote, state, inode) != 4)
    return false;
  colon = strrchr(local, ':');
  return colon && sscanf(colon + 1, "%x", lport) == 1 && *lport <= 0xffff;
}

/* port 0 = every port (c->inode_ports then says whose each inode is). */
static rb_err parse_proc_text(const char *text, uint16_t port, struct collect *c)
{
  rb_err err = RB_OK;

  for(const char *line = text; *line;) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    char copy[512];
    unsigned lport, state;
    unsigned long inode;

    if(len >= sizeof(copy))
      len = sizeof(copy) - 1;
    memcpy(copy, line, len);
    copy[len] = '\0';
    line = eol ? eol + 1 : line + strlen(line);
    if(strspn(copy, " \t\r") == strlen(copy) || strstr(copy, "local_address"))
      continue; /* blank, or the header */
    if(!parse_proc_line(copy, &lport, &state, &inode)) {
      err = RB_ERR_IO;
      break;
    }
    if(!port || lport == port)
      count_socket(c, state, inode, (uint16_t)lport);
  }
  return err;
}

rb_err rb_sockdiag_parse_proc(const char *text, uint16_t port, struct rb_port_snapshot *out,
                              unsigned long *listen_inodes, size_t max_inodes, size_t *ninodes)
{
  struct collect c = { .snap = out, .inodes = listen_inodes, .max_inodes = max_inodes,
                       .ninodes = ninodes ? *ninodes : 0 };
  rb_err err;

  if(!text || !out || !port)
    return RB_ERR_USAGE;
  err = parse_proc_text(text, port, &c);
  if(ninodes)
    *ninodes = c.ninodes;
  return err;
}

static rb_err proc_collect(uint16_t port, struct collect *c, char *msg, size_t msglen)
{
  static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };

  for(size_t i = 0; i < 2; i++) {
    char *text = read_text_file(files[i]);
    rb_err err;

    if(!text) {
      if(i == 1 && errno == ENOENT) /* no IPv6 */
        continue;
      return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", files[i], strerror(errno));
    }
    err = parse_proc_text(text, port, c);
    free(text);
    if(err)
      return rb_fail(msg, msglen, err, "%s: unexpected format", files[i]);
  }
  return RB_OK;
}

/* ---- owners ------------------------------------------------------------------ */

static bool holds_inode(int pid_dir, const unsigned long *inodes, size_t ninodes)
{
  int fd_dir = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct dirent *de;
  bool found = false;
  DIR *dir;

  if(fd_dir < 0)
    return false; /* gone, or not ours to look at */
  dir = fdopendir(fd_dir);
  if(!dir) {
    close(fd_dir);
    return false;
  }
  while(!found && (de = readdir(dir))) {
    char link[64];
    unsigned long inode;
    ssize_t n;

    if(de->d_name[0] == '.')
      continue;
    n = readlinkat(fd_dir, de->d_name, link, sizeof(link) - 1);
    if(n <= 0)
      continue;
    link[n] = '\0';
    if(sscanf(link, "socket:[%lu]", &inode) != 1)
      continue;
    for(size_t i = 0; i < ninodes && !found; i++)
      found = inodes[i] == inode;
  }
  closedir(dir);
  return found;
}

static void find_owners(struct rb_port_snapshot *out, const unsigned long *inodes, size_t ninodes)
{
  DIR *proc = opendir("/proc");
  struct dirent *de;

  if(!proc)
    return;
  while(out->nowners < RB_SOCKDIAG_MAX_OWNERS && (de = readdir(proc))) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);
    int pid_dir;
    bool held;

    if(*end || pid <= 0)
      continue;
    pid_dir = openat(dirfd(proc), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if(pid_dir < 0)
      continue;
    held = holds_inode(pid_dir, inodes, ninodes);
    close(pid_dir);
    if(!held)
      continue;
    out->owners[out->nowners].pid = (pid_t)pid;
    rb_proc_cmdline((pid_t)pid, out->owners[out->nowners].cmdline, sizeof(out->owners[0].cmdline));
    out->nowners++;
  }
  closedir(proc);
}

/* ---- public ------------------------------------------------------------------ */

rb_err rb_sockdiag_snapshot(uint16_t port, bool with_owners, struct rb_port_snapshot *out, char *msg,
                            size_t msglen)
{
  unsigned long inodes[MAX_LISTEN_INODES];
  struct collect c = { .snap = out, .inodes = inodes, .max_inodes = MAX_LISTEN_INODES };
  char why[256];
  rb_err err;

  memset(out, 0, sizeof(*out));
  out->port = port;
  err = netlink_collect(port, ~0U, &c, why, sizeof(why));
  if(err) {
    /* Netlink refused: the same picture from /proc, from scratch. */
    memset(out, 0, sizeof(*out));
    out->port = port;
    c.ninodes = 0;
    if((err = proc_collect(port, &c, msg, msglen)))
      return err;
  }
  if(with_owners && c.ninodes)
    find_owners(out, inodes, c.ninodes);
  return RB_OK;
}

bool rb_sockdiag_is_listening(uint16_t port)
{
  struct rb_port_snapshot snap;
  struct collect c = { .snap = &snap, .stop_at_first = true };

  memset(&snap, 0, sizeof(snap));
  if(netlink_collect(port, 1U << RB_TCP_LISTEN, &c, NULL, 0) == RB_OK)
    return c.found;
  memset(&snap, 0, sizeof(snap));
  c = (struct collect){ .snap = &snap };
  if(proc_collect(port, &c, NULL, 0) != RB_OK)
    return false;
  return snap.counts[RB_TCP_LISTEN] > 0;
}

/* Does the process in pid_dir hold inode? */
static bool holds_one(int pid_dir, unsigned long inode)
{
  return holds_inode(pid_dir, &inode, 1);
}

bool rb_sockdiag_listen_all_held_by(uint16_t port, pid_t pid)
{
  unsigned long inodes[MAX_LISTEN_INODES];
  struct rb_port_snapshot snap;
  struct collect c = { .snap = &snap, .inodes = inodes, .max_inodes = MAX_LISTEN_INODES };
  char path[32];
  bool all = true;
  int pid_dir;

  memset(&snap, 0, sizeof(snap));
  if(pid <= 0 || netlink_collect(port, 1U << RB_TCP_LISTEN, &c, NULL, 0) != RB_OK || !c.ninodes ||
     c.ninodes == MAX_LISTEN_INODES)
    return false;
  snprintf(path, sizeof(path), "/proc/%d", (int)pid);
  if((pid_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return false;
  for(size_t i = 0; i < c.ninodes && all; i++)
    all = holds_one(pid_dir, inodes[i]);
  close(pid_dir);
  return all;
}

/* Every socket inode process pid_dir holds, matched against the LISTEN inodes
   (inodes[i] listens on ports[i]): matching ports are added to out. */
static void add_ports_held(int pid_dir, const unsigned long *inodes, const uint16_t *ports, size_t ninodes,
                           uint16_t *out, size_t max, size_t *nout)
{
  int fd_dir = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct dirent *de;
  DIR *dir;

  if(fd_dir < 0)
    return;
  if(!(dir = fdopendir(fd_dir))) {
    close(fd_dir);
    return;
  }
  while((de = readdir(dir))) {
    char link[64];
    unsigned long inode;
    ssize_t n;

    if(de->d_name[0] == '.' || (n = readlinkat(fd_dir, de->d_name, link, sizeof(link) - 1)) <= 0)
      continue;
    link[n] = '\0';
    if(sscanf(link, "socket:[%lu]", &inode) != 1)
      continue;
    for(size_t i = 0; i < ninodes; i++) {
      bool known = false;

      if(inodes[i] != inode)
        continue;
      for(size_t k = 0; k < *nout; k++)
        known |= out[k] == ports[i];
      if(!known && *nout < max)
        out[(*nout)++] = ports[i];
    }
  }
  closedir(dir);
}

rb_err rb_sockdiag_listen_ports_of(const pid_t *pids, size_t npids, uint16_t *ports, size_t max, size_t *nports,
                                   char *msg, size_t msglen)
{
  struct rb_port_snapshot snap;
  unsigned long *inodes = calloc(MAX_ANY_PORT_INODES, sizeof(*inodes));
  uint16_t *owners_ports = calloc(MAX_ANY_PORT_INODES, sizeof(*owners_ports));
  struct collect c = { .snap = &snap, .inodes = inodes, .inode_ports = owners_ports,
                       .max_inodes = MAX_ANY_PORT_INODES };
  rb_err err = RB_OK;

  *nports = 0;
  memset(&snap, 0, sizeof(snap));
  if(!inodes || !owners_ports) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    goto out;
  }
  if(netlink_collect(0, 1U << RB_TCP_LISTEN, &c, NULL, 0) != RB_OK) {
    memset(&snap, 0, sizeof(snap));
    c.ninodes = 0;
    if((err = proc_collect(0, &c, msg, msglen)))
      goto out;
  }
  for(size_t i = 0; i < npids; i++) {
    char path[32];
    int pid_dir;

    snprintf(path, sizeof(path), "/proc/%d", (int)pids[i]);
    if((pid_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
      continue; /* ended meanwhile */
    add_ports_held(pid_dir, inodes, owners_ports, c.ninodes, ports, max, nports);
    close(pid_dir);
  }
out:
  free(inodes);
  free(owners_ports);
  return err;
}

void rb_sockdiag_format_counts(const struct rb_port_snapshot *s, char *buf, size_t buflen)
{
  rb_tcp_states_format(s->counts, buf, buflen);
}
