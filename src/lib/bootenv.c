/*
 * bootenv: the A/B boot environment as U-Boot's boot script (images/boot/ab.cmd)
 * sees it, without libubootenv.
 */
#include "bootenv.h"

#include <errno.h>
#include <string.h>

uint32_t bootenv_crc32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = 0xffffffffu;

	/* Bitwise, reflected polynomial 0xedb88320: 16 KiB at a time, no table needed. */
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static uint32_t bootenv_stored_crc(const uint8_t *copy)
{
	return (uint32_t)copy[0] | (uint32_t)copy[1] << 8 | (uint32_t)copy[2] << 16 |
	       (uint32_t)copy[3] << 24;
}

int bootenv_copy_valid(const uint8_t *copy)
{
	return bootenv_stored_crc(copy) ==
	       bootenv_crc32(copy + BOOTENV_HDR_SIZE, BOOTENV_DATA_SIZE);
}

int bootenv_current(const uint8_t *copy1, const uint8_t *copy2)
{
	int ok1 = bootenv_copy_valid(copy1), ok2 = bootenv_copy_valid(copy2);
	uint8_t f1 = copy1[4], f2 = copy2[4];

	if (!ok1 && !ok2)
		return -ENODATA;
	if (!ok2)
		return 1;
	if (!ok1)
		return 2;
	/* The same comparison as U-Boot's env_import_redund() and the boot script. */
	if (f1 == 255 && f2 == 0)
		return 2;
	if (f2 == 255 && f1 == 0)
		return 1;
	return f2 > f1 ? 2 : 1;
}

int bootenv_format(uint8_t *copy, uint8_t flag, const char *const *kv, size_t n)
{
	uint8_t *data = copy + BOOTENV_HDR_SIZE;
	size_t pos = 0;
	uint32_t crc;

	memset(copy, 0, BOOTENV_COPY_SIZE);
	for (size_t i = 0; i < n; i++) {
		const char *key = kv[2 * i], *val = kv[2 * i + 1];
		size_t klen = strlen(key), vlen = strlen(val);

		if (klen == 0 || strchr(key, '='))
			return -EINVAL;
		/* key '=' value NUL, and room left for the terminating empty string. */
		if (klen + vlen + 2 >= BOOTENV_DATA_SIZE - pos)
			return -ENOSPC;
		memcpy(data + pos, key, klen);
		data[pos + klen] = '=';
		memcpy(data + pos + klen + 1, val, vlen);
		pos += klen + vlen + 2;
	}
	crc = bootenv_crc32(data, BOOTENV_DATA_SIZE);
	copy[0] = (uint8_t)crc;
	copy[1] = (uint8_t)(crc >> 8);
	copy[2] = (uint8_t)(crc >> 16);
	copy[3] = (uint8_t)(crc >> 24);
	copy[4] = flag;
	return 0;
}

int bootenv_get(const uint8_t *copy, const char *key, char *val, size_t size)
{
	const char *data = (const char *)copy + BOOTENV_HDR_SIZE;
	size_t klen = strlen(key), pos = 0;

	while (pos < BOOTENV_DATA_SIZE) {
		const char *entry = data + pos;
		const char *nul = memchr(entry, '\0', BOOTENV_DATA_SIZE - pos);
		size_t len;

		if (!nul)
			return -EINVAL;
		len = (size_t)(nul - entry);
		if (len == 0)
			return -ENOENT;	/* the empty string ends the list */
		if (len > klen && entry[klen] == '=' && memcmp(entry, key, klen) == 0) {
			if (len - klen - 1 >= size)
				return -ENOSPC;
			memcpy(val, entry + klen + 1, len - klen);
			return 0;
		}
		pos += len + 1;
	}
	return -EINVAL;
}

int bootenv_slot_index(char c)
{
	if (c == 'A')
		return 0;
	if (c == 'B')
		return 1;
	return -EINVAL;
}

int bootenv_parse_order(const char *s, char *order)
{
	size_t n = 0;

	if (!s)
		return -EINVAL;
	for (;;) {
		if (bootenv_slot_index(*s) < 0 || n == BOOTENV_SLOTS ||
		    (n > 0 && memchr(order, *s, n)))
			return -EINVAL;
		order[n++] = *s++;
		if (*s == '\0')
			break;
		if (*s++ != ' ')
			return -EINVAL;
	}
	order[n] = '\0';
	return 0;
}

int bootenv_parse_left(const char *s, unsigned *left)
{
	if (!s || s[0] < '0' || s[0] > '9' || s[1] != '\0')
		return -EINVAL;
	*left = (unsigned)(s[0] - '0');
	return 0;
}

int bootenv_decide(const struct bootenv_state *st, struct bootenv_decision *d)
{
	size_t n = strnlen(st->order, BOOTENV_SLOTS + 1);
	int idx;

	if (n == 0 || n > BOOTENV_SLOTS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (bootenv_slot_index(st->order[i]) < 0)
			return -EINVAL;
	}

	d->next = *st;
	d->reset = 0;
	for (size_t i = 0; i < n; i++) {
		idx = bootenv_slot_index(st->order[i]);
		if (d->next.left[idx] > 0) {
			d->next.left[idx]--;
			d->slot = st->order[i];
			return 0;
		}
	}
	/* Every slot in the order spent its tries: the script starts over rather than stop. */
	d->reset = 1;
	for (int i = 0; i < BOOTENV_SLOTS; i++)
		d->next.left[i] = BOOTENV_TRIES;
	d->slot = st->order[0];
	d->next.left[bootenv_slot_index(d->slot)] = BOOTENV_TRIES - 1;
	return 0;
}
