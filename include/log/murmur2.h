/*-------------------------------------------------------------------------
 *
 * murmur2.h
 *	  Kafka's default partitioner.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MURMUR2_H
#define MURMUR2_H

extern int32 kafka_murmur2(const char *data, int len);
extern int	kafka_partition_for_key(const char *data, int len,
									int npartitions);

#endif							/* MURMUR2_H */
