/*-------------------------------------------------------------------------
 *
 * murmur2.c
 *	  Kafka's default partitioner: murmur2 of the key bytes with seed
 *	  0x9747b28c, made positive with & 0x7fffffff, modulo the partition
 *	  count, so that a key lands where a Java or librdkafka producer with
 *	  the default partitioner would put it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "log/murmur2.h"

/*
 * kafka_murmur2 returns Kafka's Utils.murmur2 of data, as the signed
 * int32 Java computes.  All arithmetic is unsigned so that overflow wraps
 * as it does in Java.
 */
int32
kafka_murmur2(const char *data, int len)
{
	const uint32 m = 0x5bd1e995;
	const int	r = 24;
	const unsigned char *bytes = (const unsigned char *) data;
	uint32		h = 0x9747b28c ^ (uint32) len;
	int			len4 = len / 4;
	int			i;

	for (i = 0; i < len4; i++)
	{
		int			i4 = i * 4;
		uint32		k = (uint32) bytes[i4] |
		((uint32) bytes[i4 + 1] << 8) |
		((uint32) bytes[i4 + 2] << 16) |
		((uint32) bytes[i4 + 3] << 24);

		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}

	switch (len % 4)
	{
		case 3:
			h ^= (uint32) bytes[(len & ~3) + 2] << 16;
			/* FALLTHROUGH */
		case 2:
			h ^= (uint32) bytes[(len & ~3) + 1] << 8;
			/* FALLTHROUGH */
		case 1:
			h ^= (uint32) bytes[len & ~3];
			h *= m;
	}

	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;

	return (int32) h;
}

/*
 * kafka_partition_for_key returns the partition Kafka's default
 * partitioner picks for a key.  toPositive is h & 0x7fffffff, not abs().
 */
int
kafka_partition_for_key(const char *data, int len, int npartitions)
{
	uint32		h = (uint32) kafka_murmur2(data, len);

	return (int) ((h & 0x7fffffff) % (uint32) npartitions);
}
