/*
 * procscan: what /proc says about processes (see rebound/procscan.h).
 */
#include "rebound/procscan.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool rb_proc_read_stat(pid_t pid, struct rb_proc_info *pi)
{
  char path[64], buf[1024], *p;
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd < 0)
    return false;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if(n <= 0)
    return false;
  buf[n] = '\0';
  /* The command name (field 2) may hold spaces and ')': skip to the last ')'. */
  p = strrchr(buf, ')');
  if(!p || p[1] != ' ')
    return false;
  pi->pid = pid;
  return sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                &pi->state, &pi->ppid, &pi->start) == 3;
}

static int compare_pid(const void *a, const void *b)
{
  const struct rb_proc_info *x = a, *y = b;

  return (x->pid > y->pid) - (x->pid < y->pid);
}

void rb_proc_table_free(struct rb_proc_table *tab)
{
  free(tab->v);
  tab->v = NULL;
  tab->n = 0;
}

bool rb_proc_scan_all(struct rb_proc_table *tab)
{
  size_t cap = 256;
  struct dirent *de;
  DIR *dir;

  tab->n = 0;
  tab->v = malloc(cap * sizeof(*tab->v));
  dir = opendir("/proc");
  if(!tab->v || !dir)
    goto fail;
  while((de = readdir(dir))) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);

    if(*end || pid <= 0)
      continue;
    if(tab->n == cap) {
      struct rb_proc_info *bigger = realloc(tab->v, 2 * cap * sizeof(*tab->v));

      if(!bigger)
        goto fail;
      tab->v = bigger;
      cap *= 2;
    }
    if(rb_proc_read_stat((pid_t)pid, &tab->v[tab->n]))
      tab->n++;
  }
  closedir(dir);
  qsort(tab->v, tab->n, sizeof(*tab->v), compare_pid);
  return true;
fail:
  if(dir)
    closedir(dir);
  rb_proc_table_free(tab);
  return false;
}

/* Append the children of pid (every thread's /proc/PID/task/TID/children) to queue. */
static bool add_children(pid_t pid, pid_t **queue, size_t *n, size_t *cap)
{
  char path[64];
  struct dirent *de;
  DIR *tasks;

  snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
  if(!(tasks = opendir(path)))
    return true; /* gone since: nothing to add */
  while((de = readdir(tasks))) {
    char file[96], buf[4096];
    ssize_t len;
    int fd;

    if(de->d_name[0] == '.')
      continue;
    if(snprintf(file, sizeof(file), "/proc/%d/task/%s/children", (int)pid, de->d_name) >= (int)sizeof(file) ||
       (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
      continue;
    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if(len <= 0)
      continue;
    buf[len] = '\0';
    for(char *p = buf, *end; *p; p = end) {
      long child = strtol(p, &end, 10);

      if(end == p)
        break;
      if(*n == *cap) {
        pid_t *bigger = realloc(*queue, 2 * *cap * sizeof(**queue));

        if(!bigger) {
          closedir(tasks);
          return false;
        }
        *queue = bigger;
        *cap *= 2;
      }
      (*queue)[(*n)++] = (pid_t)child;
    }
  }
  closedir(tasks);
  return true;
}

/* Only root's descendants, found through the kernel's children lists instead of
   reading every process on the machine (a scan costs ~1 ms per call on a small VM,
   and the engine asks several times per cycle). False if the children files are
   missing (kernels without CONFIG_PROC_CHILDREN): the caller then scans /proc. */
bool rb_proc_scan_tree(struct rb_proc_table *tab, pid_t root)
{
  size_t cap = 64, n = 0, tabcap = 64;
  pid_t *queue = malloc(cap * sizeof(*queue));
  char probe[64];

  snprintf(probe, sizeof(probe), "/proc/%d/task/%d/children", (int)root, (int)root);
  tab->n = 0;
  tab->v = malloc(tabcap * sizeof(*tab->v));
  if(!queue || !tab->v || access(probe, R_OK) || !add_children(root, &queue, &n, &cap))
    goto fail;
  for(size_t i = 0; i < n; i++) {
    if(tab->n == tabcap) {
      struct rb_proc_info *bigger = realloc(tab->v, 2 * tabcap * sizeof(*tab->v));

      if(!bigger)
        goto fail;
      tab->v = bigger;
      tabcap *= 2;
    }
    if(rb_proc_read_stat(queue[i], &tab->v[tab->n])) {
      tab->n++;
      if(!add_children(queue[i], &queue, &n, &cap))
        goto fail;
    }
  }
  free(queue);
  qsort(tab->v, tab->n, sizeof(*tab->v), compare_pid);
  return true;
fail:
  free(queue);
  rb_proc_table_free(tab);
  return false;
}

const struct rb_proc_info *rb_proc_find(const struct rb_proc_table *tab, pid_t pid)
{
  struct rb_proc_info key = { .pid = pid };

  return tab->n ? bsearch(&key, tab->v, tab->n, sizeof(*tab->v), compare_pid) : NULL;
}

bool rb_proc_is_live(char state)
{
  return state != 'Z' && state != 'X' && state != 'x';
}

/* desc[i] = 1 when tab->v[i] descends from root, 2 when not. Each ancestor chain
   is walked once and its verdict cached. Returns false on allocation failure. */
bool rb_proc_mark_descendants(const struct rb_proc_table *tab, pid_t root, unsigned char *desc)
{
  size_t *chain = malloc((tab->n ? tab->n : 1) * sizeof(*chain));

  if(!chain)
    return false;
  memset(desc, 0, tab->n);
  for(size_t i = 0; i < tab->n; i++) {
    size_t depth = 0, j = i;
    unsigned char verdict = 2;

    for(;;) {
      const struct rb_proc_info *parent;

      if(desc[j]) {
        verdict = desc[j];
        break;
      }
      if(depth == tab->n) /* a cycle cannot happen; do not loop if it does */
        break;
      chain[depth++] = j;
      if(tab->v[j].ppid == root) {
        verdict = 1;
        break;
      }
      parent = rb_proc_find(tab, tab->v[j].ppid);
      if(!parent || tab->v[j].ppid <= 1)
        break;
      j = (size_t)(parent - tab->v);
    }
    while(depth)
      desc[chain[--depth]] = verdict;
  }
  free(chain);
  return true;
}

unsigned long long rb_proc_boot_ticks_now(void)
{
  struct timespec ts;
  long hz = sysconf(_SC_CLK_TCK);

  clock_gettime(CLOCK_BOOTTIME, &ts);
  if(hz <= 0)
    hz = 100;
  return (unsigned long long)ts.tv_sec * (unsigned long long)hz +
         (unsigned long long)ts.tv_nsec / (1000000000ULL / (unsigned long long)hz);
}


char rb_proc_printable(unsigned char c)
{
  return (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) ? (char)c : '?';
}

void rb_proc_cmdline(pid_t pid, char *buf, size_t buflen)
{
  char path[64];
  ssize_t n = -1;
  int fd;

  if(!buf || !buflen)
    return;
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd >= 0) {
    n = read(fd, buf, buflen - 1);
    close(fd);
  }
  if(n <= 0) {
    snprintf(buf, buflen, "?");
    return;
  }
  while(n > 0 && buf[n - 1] == '\0')
    n--;
  for(ssize_t i = 0; i < n; i++)
    buf[i] = buf[i] == '\0' ? ' ' : rb_proc_printable((unsigned char)buf[i]);
  buf[n] = '\0';
  if(!n)
    snprintf(buf, buflen, "?");
}
