/* The file interface over the real disk (see ballot/fs.h): one syscall per operation,
 * retried on EINTR, every failure mapped to BALLOT_EIO with the path and strerror. */
#define _DEFAULT_SOURCE /* flock(2) */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ballot/fs.h"
#include "common/assert.h"
#include "storage/storage_internal.h"

struct ballot_file {
	int fd;
	char path[]; /* for messages */
};

static int os_error(ballot_errmsg *em, const char *what, const char *path, int err)
{
	return ballot_errorf(em, BALLOT_EIO, "%s %s: %s", what, path, strerror(err));
}

static ballot_file *file_new(int fd, const char *path)
{
	size_t len = strlen(path);
	ballot_file *f = malloc(sizeof *f + len + 1);
	if (f == NULL)
		return NULL;
	f->fd = fd;
	memcpy(f->path, path, len + 1);
	return f;
}

static int posix_open(ballot_fs *fs, const char *path, unsigned flags, ballot_file **out, ballot_errmsg *em)
{
	(void)fs;
	int oflags = O_CLOEXEC | ((flags & BALLOT_FS_RDWR) ? O_RDWR : O_RDONLY);
	if (flags & BALLOT_FS_CREATE)
		oflags |= O_CREAT;
	if (flags & BALLOT_FS_EXCL)
		oflags |= O_EXCL;
	int fd;
	do
		fd = open(path, oflags, 0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return os_error(em, "open", path, errno);
	ballot_file *f = file_new(fd, path);
	if (f == NULL) {
		close(fd);
		return ballot_errorf(em, BALLOT_ENOMEM, "open %s: out of memory", path);
	}
	*out = f;
	return 0;
}

static void posix_close(ballot_fs *fs, ballot_file *f)
{
	(void)fs;
	if (f == NULL)
		return;
	/* close(2) after EINTR leaves the descriptor closed on Linux: never retry it. */
	close(f->fd);
	free(f);
}

static int posix_pread(ballot_fs *fs, ballot_file *f, void *buf, size_t len, uint64_t off, size_t *got,
		       ballot_errmsg *em)
{
	(void)fs;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return os_error(em, "read", f->path, errno);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

static int posix_pwrite(ballot_fs *fs, ballot_file *f, const void *buf, size_t len, uint64_t off,
			ballot_errmsg *em)
{
	(void)fs;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return os_error(em, "write", f->path, errno);
		if (n == 0)
			return ballot_errorf(em, BALLOT_EIO, "write %s: no progress", f->path);
		done += (size_t)n;
	}
	return 0;
}

static int posix_datasync(ballot_fs *fs, ballot_file *f, ballot_errmsg *em)
{
	(void)fs;
	int rc;
	do
		rc = fdatasync(f->fd);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return os_error(em, "fdatasync", f->path, errno);
	return 0;
}

static int posix_truncate(ballot_fs *fs, ballot_file *f, uint64_t size, ballot_errmsg *em)
{
	(void)fs;
	int rc;
	do
		rc = ftruncate(f->fd, (off_t)size);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return os_error(em, "truncate", f->path, errno);
	return 0;
}

static int posix_preallocate(ballot_fs *fs, ballot_file *f, uint64_t size, ballot_errmsg *em)
{
	(void)fs;
	int err;
	do
		err = posix_fallocate(f->fd, 0, (off_t)size);
	while (err == EINTR);
	if (err == EINVAL || err == EOPNOTSUPP) {
		/* A file system without it: extend instead (never shrink). */
		struct stat st;
		if (fstat(f->fd, &st) < 0)
			return os_error(em, "stat", f->path, errno);
		return (uint64_t)st.st_size >= size ? 0 : posix_truncate(fs, f, size, em);
	}
	if (err != 0)
		return os_error(em, "preallocate", f->path, err);
	return 0;
}

static int posix_size(ballot_fs *fs, ballot_file *f, uint64_t *size, ballot_errmsg *em)
{
	(void)fs;
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return os_error(em, "stat", f->path, errno);
	*size = (uint64_t)st.st_size;
	return 0;
}

static int posix_sync_dir(ballot_fs *fs, const char *dir, ballot_errmsg *em)
{
	(void)fs;
	int fd;
	do
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return os_error(em, "open directory", dir, errno);
	int rc;
	do
		rc = fsync(fd);
	while (rc < 0 && errno == EINTR);
	int err = errno;
	close(fd);
	if (rc < 0)
		return os_error(em, "fsync directory", dir, err);
	return 0;
}

static int posix_rename(ballot_fs *fs, const char *from, const char *to, ballot_errmsg *em)
{
	(void)fs;
	if (rename(from, to) < 0)
		return ballot_errorf(em, BALLOT_EIO, "rename %s to %s: %s", from, to, strerror(errno));
	return 0;
}

static int posix_unlink(ballot_fs *fs, const char *path, ballot_errmsg *em)
{
	(void)fs;
	if (unlink(path) < 0)
		return os_error(em, "unlink", path, errno);
	return 0;
}

static int posix_mkdir(ballot_fs *fs, const char *path, bool *created, ballot_errmsg *em)
{
	(void)fs;
	*created = false;
	if (mkdir(path, 0755) == 0) {
		*created = true;
		return 0;
	}
	if (errno != EEXIST)
		return os_error(em, "mkdir", path, errno);
	struct stat st;
	if (stat(path, &st) < 0)
		return os_error(em, "stat", path, errno);
	if (!S_ISDIR(st.st_mode))
		return ballot_errorf(em, BALLOT_EIO, "%s exists and is not a directory", path);
	return 0;
}

static int posix_list(ballot_fs *fs, const char *dir, ballot_fs_names *out, ballot_errmsg *em)
{
	(void)fs;
	memset(out, 0, sizeof *out);
	DIR *d = opendir(dir);
	if (d == NULL)
		return os_error(em, "open directory", dir, errno);
	size_t cap = 0;
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				rc = os_error(em, "read directory", dir, errno);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (out->count == BALLOT_STORAGE_DIR_ENTRIES_MAX) {
			rc = ballot_errorf(em, BALLOT_ELIMIT, "directory %s: more than %d entries", dir,
					   BALLOT_STORAGE_DIR_ENTRIES_MAX);
			break;
		}
		rc = storage_names_push(out, &cap, de->d_name);
		if (rc != 0) {
			ballot_errorf(em, rc, "list %s: out of memory", dir);
			break;
		}
	}
	closedir(d);
	if (rc != 0)
		ballot_fs_names_free(out);
	return rc;
}

static int posix_lock(ballot_fs *fs, const char *path, ballot_file **out, ballot_errmsg *em)
{
	int rc = posix_open(fs, path, BALLOT_FS_RDWR | BALLOT_FS_CREATE, out, em);
	if (rc != 0)
		return rc;
	int r;
	do
		r = flock((*out)->fd, LOCK_EX | LOCK_NB);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	int err = errno;
	posix_close(fs, *out);
	*out = NULL;
	if (err == EWOULDBLOCK)
		return ballot_errorf(em, BALLOT_EBUSY, "lock %s: held by another process", path);
	return os_error(em, "lock", path, err);
}

static const ballot_fs_ops posix_ops = {
	.open = posix_open,
	.close = posix_close,
	.pread = posix_pread,
	.pwrite = posix_pwrite,
	.datasync = posix_datasync,
	.truncate = posix_truncate,
	.preallocate = posix_preallocate,
	.size = posix_size,
	.sync_dir = posix_sync_dir,
	.rename = posix_rename,
	.unlink = posix_unlink,
	.mkdir = posix_mkdir,
	.list = posix_list,
	.lock = posix_lock,
};

static ballot_fs posix_fs = {.ops = &posix_ops};

ballot_fs *ballot_fs_posix(void)
{
	return &posix_fs;
}
