/*-------------------------------------------------------------------------
 *
 * topic_config.c
 *	  A topic's settings: Kafka's names, checked, with the server's
 *	  defaults for those it does not set.
 *
 * A topic's config (topics.topic.config) holds what its owner set, as
 * create_topic and alter_topic took it; a setting it does not hold is the
 * server's, a pg_topics.* setting as a Kafka broker's log.* settings are
 * (guc.c).  Numbers may be given as JSON numbers or as strings of digits,
 * as Kafka's tools pass them.
 *
 * Retention and compaction are a stream topic's: a store keeps every
 * message until its owner deletes records, and a queue drops what its
 * consumers are done with, so their settings are refused there.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "guc.h"
#include "log/segment.h"
#include "log/topic_config.h"

/*
 * Settings of every topic, of stream topics only, of streams and stores
 * (a queue's segment cannot roll over by age: the gap would lie across its
 * delivery window), and of queues only.
 */
static const char *const common_settings[] = {
	"segment.messages", "segment.bytes", "max.message.bytes",
	"message.timestamp.type", NULL
};
static const char *const stream_settings[] = {
	"retention.ms", "retention.bytes", "cleanup.policy",
	"delete.retention.ms", "min.compaction.lag.ms", NULL
};
static const char *const log_settings[] = {
	"segment.ms", NULL
};
static const char *const queue_settings[] = {
	"visibility.timeout.ms", "max.deliveries", "dead.letter.topic", "fifo",
	"delivery.window", NULL
};

/*
 * config_value returns the value of a setting of config, or NULL when it
 * is absent.
 */
static JsonbValue *
config_value(Jsonb *config, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&config->root, JB_FOBJECT, &k);
}

/*
 * topic_config_number returns an integer setting of config from min to max,
 * or dflt when it is absent; raises 22023 on anything else.
 */
static int64
topic_config_number(Jsonb *config, const char *key, int64 min, int64 max,
					int64 dflt)
{
	JsonbValue *v = config_value(config, key);
	char	   *s = NULL;
	int64		result = 0;
	bool		ok = false;

	if (v == NULL)
		return dflt;
	if (v->type == jbvNumeric)
		s = DatumGetCString(DirectFunctionCall1(numeric_out,
												NumericGetDatum(v->val.numeric)));
	else if (v->type == jbvString)
		s = pnstrdup(v->val.string.val, v->val.string.len);
	if (s != NULL && *s != '\0')
	{
		char	   *end;

		errno = 0;
		result = strtoi64(s, &end, 10);
		ok = errno == 0 && *end == '\0' && result >= min && result <= max;
	}
	if (!ok && min == 1 && max == PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic setting \"%s\" must be a positive integer", key)));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic setting \"%s\" must be an integer from %lld to %lld",
						key, (long long) min, (long long) max)));
	return result;
}

/*
 * topic_config_int returns a positive integer setting of a topic's config,
 * or 0 when it is absent.
 */
int64
topic_config_int(Jsonb *config, const char *key)
{
	return topic_config_number(config, key, 1, PG_INT64_MAX, 0);
}

/*
 * topic_config_text returns a string setting of config, or NULL when it is
 * absent; raises 22023 when it is not a string.
 */
char *
topic_config_text(Jsonb *config, const char *key)
{
	JsonbValue *v = config_value(config, key);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic setting \"%s\" must be a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * one_of tells whether the JSON key v is one of names.
 */
static bool
one_of(JsonbValue *v, const char *const *names)
{
	for (; *names != NULL; names++)
		if (v->val.string.len == strlen(*names) &&
			strncmp(v->val.string.val, *names, v->val.string.len) == 0)
			return true;
	return false;
}

/*
 * topic_config_check_keys raises 22023 unless config is an object whose
 * every key is a setting a topic of that mode takes.
 */
void
topic_config_check_keys(Jsonb *config, TopicMode mode)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;

	if (!JB_ROOT_IS_OBJECT(config) || JB_ROOT_IS_SCALAR(config))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic config must be a JSON object")));

	it = JsonbIteratorInit(&config->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (r != WJB_KEY || one_of(&v, common_settings) ||
			(mode == TOPIC_MODE_STREAM && one_of(&v, stream_settings)) ||
			(mode != TOPIC_MODE_QUEUE && one_of(&v, log_settings)) ||
			(mode == TOPIC_MODE_QUEUE && one_of(&v, queue_settings)))
			continue;
		if (one_of(&v, log_settings))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("topic setting \"%.*s\" does not apply to a queue topic",
							v.val.string.len, v.val.string.val),
					 errdetail("A queue's segments go as its consumers finish them; one rolled over by age would leave a gap across its delivery window."),
					 errhint("\"segment.ms\" is a setting of streams and stores.")));
		if (one_of(&v, stream_settings))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("topic setting \"%.*s\" does not apply to a %s topic",
							v.val.string.len, v.val.string.val,
							mode == TOPIC_MODE_STORE ? "store" : "queue"),
					 mode == TOPIC_MODE_STORE ?
					 errdetail("A store topic keeps every message until its owner calls topics.delete_records().") :
					 errdetail("A queue drops the segments its consumers are done with."),
					 errhint("Retention and compaction are settings of stream topics.")));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown topic setting \"%.*s\"",
						v.val.string.len, v.val.string.val),
				 mode == TOPIC_MODE_QUEUE ?
				 errhint("Valid settings of a queue are \"segment.messages\", \"segment.bytes\", \"max.message.bytes\", \"message.timestamp.type\", \"visibility.timeout.ms\", \"max.deliveries\", \"dead.letter.topic\", \"fifo\" and \"delivery.window\".") :
				 mode == TOPIC_MODE_STORE ?
				 errhint("Valid settings of a store are \"segment.messages\", \"segment.bytes\", \"segment.ms\", \"max.message.bytes\" and \"message.timestamp.type\".") :
				 errhint("Valid settings of a stream are \"retention.ms\", \"retention.bytes\", \"segment.messages\", \"segment.bytes\", \"segment.ms\", \"cleanup.policy\", \"delete.retention.ms\", \"min.compaction.lag.ms\", \"max.message.bytes\" and \"message.timestamp.type\".")));
	}
}

/*
 * topic_config_parse fills cfg from a topic's config, checking each
 * setting, with the server's defaults for those it does not hold.
 */
void
topic_config_parse(Jsonb *config, TopicMode mode, TopicConfig *cfg)
{
	bool		stream = mode == TOPIC_MODE_STREAM;
	char	   *policy = topic_config_text(config, "cleanup.policy");
	char	   *tstype = topic_config_text(config, "message.timestamp.type");
	int			cleanup = pg_topics_cleanup_policy;

	topic_config_check_keys(config, mode);
	cfg->retention_ms = topic_config_number(config, "retention.ms", -1, PG_INT64_MAX,
											pg_topics_retention_time < 0 ? -1 :
											pg_topics_retention_time * INT64CONST(1000));
	cfg->retention_bytes = topic_config_number(config, "retention.bytes", -1, PG_INT64_MAX,
											   pg_topics_retention_size < 0 ? -1 :
											   pg_topics_retention_size * INT64CONST(1024));
	cfg->segment_ms = topic_config_number(config, "segment.ms", 1, PG_INT64_MAX,
										  pg_topics_segment_time * INT64CONST(1000));
	cfg->segment_messages = topic_config_int(config, "segment.messages");
	cfg->segment_bytes = topic_config_int(config, "segment.bytes");
	cfg->delete_retention_ms = topic_config_number(config, "delete.retention.ms", 0,
												   PG_INT64_MAX,
												   pg_topics_delete_retention_time);
	cfg->min_compaction_lag_ms = topic_config_number(config, "min.compaction.lag.ms", 0,
													 PG_INT64_MAX,
													 pg_topics_min_compaction_lag);
	cfg->max_message_bytes = topic_config_number(config, "max.message.bytes", 1,
												 MaxAllocSize / 2, 0);
	if (policy != NULL)
	{
		if (strcmp(policy, "delete") == 0)
			cleanup = CLEANUP_DELETE;
		else if (strcmp(policy, "compact") == 0)
			cleanup = CLEANUP_COMPACT;
		else if (strcmp(policy, "delete,compact") == 0 ||
				 strcmp(policy, "compact,delete") == 0)
			cleanup = CLEANUP_DELETE | CLEANUP_COMPACT;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid topic setting \"cleanup.policy\": \"%s\"", policy),
					 errhint("Valid values are \"delete\", \"compact\" and \"delete,compact\".")));
	}
	if (tstype != NULL && strcmp(tstype, "CreateTime") != 0 &&
		strcmp(tstype, "LogAppendTime") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid topic setting \"message.timestamp.type\": \"%s\"", tstype),
				 errhint("Valid values are \"CreateTime\" and \"LogAppendTime\".")));
	cfg->log_append_time = tstype != NULL ? strcmp(tstype, "LogAppendTime") == 0 :
		pg_topics_message_timestamp_type == TIMESTAMP_LOG_APPEND_TIME;

	/* what stores and queues keep is not up to these settings */
	cfg->cleanup_delete = stream && (cleanup & CLEANUP_DELETE) != 0;
	cfg->cleanup_compact = stream && (cleanup & CLEANUP_COMPACT) != 0;
	if (!cfg->cleanup_delete)
	{
		cfg->retention_ms = -1;
		cfg->retention_bytes = -1;
	}
}

/*
 * topic_mode_from_name returns the mode named mode; raises 22023 on an
 * unknown name.
 */
TopicMode
topic_mode_from_name(const char *mode)
{
	if (strcmp(mode, "stream") == 0)
		return TOPIC_MODE_STREAM;
	if (strcmp(mode, "store") == 0)
		return TOPIC_MODE_STORE;
	if (strcmp(mode, "queue") == 0)
		return TOPIC_MODE_QUEUE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid topic mode \"%s\"", mode),
			 errhint("Valid modes are \"stream\", \"store\" and \"queue\".")));
	pg_unreachable();
}

/*
 * topic_max_message_bytes returns the largest message a topic takes.
 */
int64
topic_max_message_bytes(const TopicConfig *cfg)
{
	return cfg->max_message_bytes > 0 ?
		Min(cfg->max_message_bytes, pg_topics_max_message_bytes) :
		pg_topics_max_message_bytes;
}

/*
 * settings_push adds one setting to the object being built in *state.
 */
static void
settings_push(JsonbParseState **state, const char *key, const char *text,
			  int64 number)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &v);
	if (text != NULL)
	{
		v.val.string.val = (char *) text;
		v.val.string.len = strlen(text);
	}
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = int64_to_numeric(number);
	}
	pushJsonbValue(state, WJB_VALUE, &v);
}

PG_FUNCTION_INFO_V1(pg_topics_topic_settings);

/*
 * topics_internal.topic_settings(mode, config) returns every setting of a
 * topic that its config and the server's defaults give, under Kafka's
 * names: what topics.topics shows.
 */
Datum
pg_topics_topic_settings(PG_FUNCTION_ARGS)
{
	TopicMode	mode = topic_mode_from_name(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	Jsonb	   *config = PG_GETARG_JSONB_P(1);
	TopicConfig cfg;
	JsonbParseState *state = NULL;
	JsonbValue *result;

	topic_config_parse(config, mode, &cfg);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	settings_push(&state, "cleanup.policy",
				  cfg.cleanup_compact ? (cfg.cleanup_delete ? "delete,compact" : "compact") :
				  "delete", 0);
	settings_push(&state, "delete.retention.ms", NULL, cfg.delete_retention_ms);
	settings_push(&state, "max.message.bytes", NULL, topic_max_message_bytes(&cfg));
	settings_push(&state, "message.timestamp.type",
				  cfg.log_append_time ? "LogAppendTime" : "CreateTime", 0);
	settings_push(&state, "min.compaction.lag.ms", NULL, cfg.min_compaction_lag_ms);
	settings_push(&state, "retention.bytes", NULL, cfg.retention_bytes);
	settings_push(&state, "retention.ms", NULL, cfg.retention_ms);
	settings_push(&state, "segment.bytes", NULL,
				  cfg.segment_bytes > 0 ? cfg.segment_bytes : DEFAULT_SEGMENT_BYTES);
	settings_push(&state, "segment.messages", NULL,
				  cfg.segment_messages > 0 ? cfg.segment_messages : DEFAULT_SEGMENT_MESSAGES);
	settings_push(&state, "segment.ms", NULL, cfg.segment_ms);
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(result));
}
