//go:build cgo

package contain

/*
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int early_fd = -1;
static int early_pid = -1;

// isRunCommand tells from /proc/self/cmdline whether this process is
// `vpt run` or `vpt campaign` (its first argument), the commands whose
// Main warms a supervisor (cmd/root.go).
static int isRunCommand(void) {
	char buf[4096]; // argv[0] and the command's name are at its start
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return 0;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		return 0;
	}
	buf[n] = 0;
	size_t first = strlen(buf) + 1;
	if ((ssize_t)first >= n) {
		return 0;
	}
	const char *cmd = buf + first;
	return strcmp(cmd, "run") == 0 || strcmp(cmd, "campaign") == 0;
}

// earlySupervisor starts the supervisor of a `vpt run` or `vpt campaign`
// before the Go runtime does (an ELF constructor), as spawn does: its own
// process group, its end of a socket pair as fd 3, VPT_SUPERVISOR=1 its
// only variable. It then boots beside vpt instead of after vpt's own start.
// Anything that fails leaves it to spawn.
__attribute__((constructor)) static void earlySupervisor(void) {
	const char *role = getenv("VPT_SUPERVISOR");
	if ((role != NULL && role[0] != 0) || !isRunCommand()) {
		return;
	}
	static char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		return;
	}
	exe[n] = 0;
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
		return;
	}
	if (fds[1] == 3) { // a dup2 onto itself would keep close-on-exec
		int moved = fcntl(fds[1], F_DUPFD_CLOEXEC, 4);
		close(fds[1]);
		if (moved < 0) {
			close(fds[0]);
			return;
		}
		fds[1] = moved;
	}
	posix_spawn_file_actions_t files;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&files);
	posix_spawn_file_actions_adddup2(&files, fds[1], 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	char *argv[] = {exe, NULL};
	char *envp[] = {"VPT_SUPERVISOR=1", NULL};
	pid_t pid;
	if (posix_spawn(&pid, "/proc/self/exe", &files, &attr, argv, envp) == 0) {
		early_fd = fds[0];
		early_pid = pid;
	} else {
		close(fds[0]);
	}
	close(fds[1]);
	posix_spawn_file_actions_destroy(&files);
	posix_spawnattr_destroy(&attr);
}

static int takeEarly(int *pid) {
	int fd = early_fd;
	*pid = early_pid;
	early_fd = -1;
	return fd;
}
*/
import "C"

// early takes the supervisor the constructor above started, once.
func early() (fd, pid int, ok bool) {
	var p C.int
	f := int(C.takeEarly(&p))
	return f, int(p), f >= 0
}
