/*
 * Unit tests of lib/blkfile.c on real temporary files: the size is found,
 * I/O outside the image is refused without touching it, read-only images
 * refuse every modification, discard and write-zeroes clear exactly the range
 * asked, and a file that shrinks under the server yields an error instead of
 * short data.
 */
#define _GNU_SOURCE
#include "test.h"
#include "../lib/blkfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_SIZE (1u << 20)

static char image_path[64];

/* A fresh image whose byte i is (uint8_t)(i * 7 + 1), so no byte is zero by accident. */
static void make_image(void)
{
	static uint8_t pattern[IMAGE_SIZE];
	int fd;

	for (size_t i = 0; i < IMAGE_SIZE; i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	strcpy(image_path, "/tmp/test_blkfile.XXXXXX");
	fd = mkstemp(image_path);
	if (fd < 0 || write(fd, pattern, IMAGE_SIZE) != IMAGE_SIZE) {
		perror("test_blkfile: cannot create the temporary image");
		exit(1);
	}
	close(fd);
}

static uint8_t pattern_at(uint64_t off)
{
	return (uint8_t)(off * 7 + 1);
}

static off_t file_size(void)
{
	struct stat st;

	return stat(image_path, &st) == 0 ? st.st_size : -1;
}

static ssize_t read_at(struct blkfile *bf, void *buf, size_t len, uint64_t off)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return blkfile_preadv(bf, &iov, 1, off);
}

static ssize_t write_at(struct blkfile *bf, const void *buf, size_t len, uint64_t off)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return blkfile_pwritev(bf, &iov, 1, off);
}

static bool range_is(struct blkfile *bf, uint64_t off, size_t len, int value)
{
	uint8_t buf[8192];

	if (len > sizeof(buf) || read_at(bf, buf, len, off) != (ssize_t)len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (value < 0 ? buf[i] != pattern_at(off + i) : buf[i] != value)
			return false;
	return true;
}

static void open_reports_size_of_regular_file(void)
{
	struct blkfile bf;

	CHECK_EQ(blkfile_open(&bf, image_path, false), 0);
	CHECK_EQ(bf.size, IMAGE_SIZE);
	CHECK(!bf.read_only);
	CHECK(bf.can_write_zeroes);
	blkfile_close(&bf);
}

static void open_refuses_what_is_not_a_disk(void)
{
	struct blkfile bf;

	CHECK_EQ(blkfile_open(&bf, "/dev/null", true), -ENOTBLK);
	CHECK_EQ(blkfile_open(&bf, "/nonexistent/image", true), -ENOENT);
	CHECK_EQ(blkfile_open(&bf, "/tmp", true), -ENOTBLK);
}

static void scattered_write_reads_back(void)
{
	char a[3] = "abc", b[5] = "defgh", out[8];
	struct iovec wr[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec rd[3] = { { out, 1 }, { out + 1, 6 }, { out + 7, 1 } };
	struct blkfile bf;

	CHECK_EQ(blkfile_open(&bf, image_path, false), 0);
	CHECK_EQ(blkfile_pwritev(&bf, wr, 2, 4093), 8);
	CHECK_EQ(blkfile_preadv(&bf, rd, 3, 4093), 8);
	CHECK(memcmp(out, "abcdefgh", 8) == 0);
	CHECK(range_is(&bf, 4101, 100, -1));
	blkfile_close(&bf);
}

static void access_outside_the_image_is_refused(void)
{
	uint8_t buf[4096];
	struct blkfile bf;

	memset(buf, 0xee, sizeof(buf));
	CHECK_EQ(blkfile_open(&bf, image_path, false), 0);
	CHECK_EQ(write_at(&bf, buf, 2, IMAGE_SIZE - 1), -EINVAL);
	CHECK_EQ(write_at(&bf, buf, 1, IMAGE_SIZE), -EINVAL);
	CHECK_EQ(write_at(&bf, buf, sizeof(buf), UINT64_MAX - 100), -EINVAL);	/* wraps */
	CHECK_EQ(read_at(&bf, buf, 2, IMAGE_SIZE - 1), -EINVAL);
	CHECK_EQ(blkfile_discard(&bf, IMAGE_SIZE - 4096, 8192), -EINVAL);
	CHECK_EQ(blkfile_write_zeroes(&bf, UINT64_MAX, 2, false), -EINVAL);
	CHECK(range_is(&bf, IMAGE_SIZE - 4096, 4096, -1));
	CHECK_EQ(write_at(&bf, buf, 1, IMAGE_SIZE - 1), 1);	/* the last byte is fine */
	CHECK_EQ(file_size(), IMAGE_SIZE);
	blkfile_close(&bf);
}

static void read_only_refuses_modifications(void)
{
	uint8_t byte = 0;
	struct blkfile bf;

	CHECK_EQ(blkfile_open(&bf, image_path, true), 0);
	CHECK(bf.read_only);
	CHECK(!bf.can_discard);
	CHECK(!bf.can_write_zeroes);
	CHECK_EQ(write_at(&bf, &byte, 1, 8192), -EROFS);
	CHECK_EQ(blkfile_discard(&bf, 8192, 4096), -EROFS);
	CHECK_EQ(blkfile_write_zeroes(&bf, 8192, 4096, true), -EROFS);
	CHECK_EQ(blkfile_flush(&bf), 0);
	CHECK(range_is(&bf, 8192, 4096, -1));
	blkfile_close(&bf);
}

static void flush_reports_failure(void)
{
	struct blkfile bf;
	int pipefd[2];

	CHECK_EQ(blkfile_open(&bf, image_path, false), 0);
	CHECK_EQ(blkfile_flush(&bf), 0);
	/* fdatasync on a pipe fails: flush must pass that on, not claim success. */
	CHECK_EQ(pipe(pipefd), 0);
	dup2(pipefd[0], bf.fd);
	CHECK_EQ(blkfile_flush(&bf), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	blkfile_close(&bf);
}

/* /tmp is tmpfs or ext4 here; both punch holes, so discard must be detected. */
static void discard_is_detected_and_zeroes_the_range(void)
{
	struct blkfile bf;

	CHECK_EQ(blkfile_open(&bf, image_path, false), 0);
	CHECK(bf.can_discard);
	CHECK_EQ(blkfile_discard(&bf, 65536, 8192), 0);
	CHECK(range_is(&bf, 65536, 8192, 0));
	CHECK(range_is(&bf, 65536 - 512, 512, -1));
	CHECK(range_is(&bf, 65536 + 8192, 512, -1));
	CHECK_EQ(file_size(), IMAGE_SIZE);
	blkfile_close(&bf);
}

static void write_zeroes_clears_exactly_the_range(void)
{
	struct blkfile bf;

	CHECK_EQ(blkfile_open(&bf, image_path, false), 0);
	for (int may_unmap = 0; may_unmap <= 1; may_unmap++) {
		uint64_t off = 200000 + 100000 * (uint64_t)may_unmap + 3;

		CHECK_EQ(blkfile_write_zeroes(&bf, off, 5000, may_unmap), 0);
		CHECK(range_is(&bf, off, 5000, 0));
		CHECK(range_is(&bf, off - 100, 100, -1));
		CHECK(range_is(&bf, off + 5000, 100, -1));
	}
	CHECK_EQ(blkfile_write_zeroes(&bf, IMAGE_SIZE - 10, 10, false), 0);
	CHECK_EQ(file_size(), IMAGE_SIZE);
	blkfile_close(&bf);
}

static void shrunk_image_gives_an_error_not_short_data(void)
{
	uint8_t buf[4096];
	struct blkfile bf;

	CHECK_EQ(blkfile_open(&bf, image_path, false), 0);
	CHECK_EQ(truncate(image_path, IMAGE_SIZE / 2), 0);
	CHECK_EQ(read_at(&bf, buf, sizeof(buf), IMAGE_SIZE / 2 - 2048), -EIO);
	blkfile_close(&bf);
}

int main(void)
{
	make_image();
	TEST_RUN(open_reports_size_of_regular_file);
	TEST_RUN(open_refuses_what_is_not_a_disk);
	TEST_RUN(scattered_write_reads_back);
	TEST_RUN(access_outside_the_image_is_refused);
	TEST_RUN(read_only_refuses_modifications);
	TEST_RUN(flush_reports_failure);
	TEST_RUN(discard_is_detected_and_zeroes_the_range);
	TEST_RUN(write_zeroes_clears_exactly_the_range);
	TEST_RUN(shrunk_image_gives_an_error_not_short_data);
	unlink(image_path);
	return test_summary();
}
