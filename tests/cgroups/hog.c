/* Workloads for the live cgroup tests, run as a container's init. Linked statically:
 * the test rootfs holds nothing but this binary.
 *
 *   hog mem MIB   allocate and touch MIB MiB of anonymous memory, then idle
 *   hog cpu       spin forever on one core
 *   hog fork N    fork N children that idle, then idle
 *   hog oom MIB   signal ready, wait for /go to appear, then do what "mem" does
 *                 (so a test can arm its OOM watcher before the kill)
 *
 * "Ready" is signalled by creating /ready in the container's rootfs, which the test
 * polls from the host: container stdio goes to runc's memfds, out of the test's reach.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void ready(void) {
  int fd = open("/ready", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) close(fd);
}

static void idle(void) {
  for (;;) pause();
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (strcmp(argv[1], "oom") == 0 && argc == 3) {
    ready();
    while (access("/go", F_OK) != 0) usleep(10000);
    argv[1] = "mem";
    unlink("/ready");
  }
  if (strcmp(argv[1], "mem") == 0 && argc == 3) {
    const size_t bytes = (size_t)strtoul(argv[2], NULL, 10) << 20;
    if (bytes > 0) {
      /* mmap rather than malloc: no allocator headers, exactly `bytes` of anon. */
      volatile char* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return 3;
      const long page = sysconf(_SC_PAGESIZE);
      for (size_t off = 0; off < bytes; off += (size_t)page) p[off] = 1;
    }
    ready();
    idle();
  }
  if (strcmp(argv[1], "cpu") == 0) {
    ready();
    volatile unsigned long n = 0;
    for (;;) n++;
  }
  if (strcmp(argv[1], "fork") == 0 && argc == 3) {
    const int children = atoi(argv[2]);
    for (int i = 0; i < children; i++) {
      pid_t pid = fork();
      if (pid < 0) return 4;
      if (pid == 0) idle();
    }
    ready();
    idle();
  }
  return 2;
}
