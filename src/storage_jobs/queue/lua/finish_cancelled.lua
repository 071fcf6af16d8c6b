-- finish_cancelled: finishes a job the claim found cancelled (its lease is the caller's): a
-- cancelled result, its keys gone, off its lane. Counted in the history and the index of
-- cancelled jobs, and its completion event added, only when this call took it off its lane,
-- so a repeated finish counts nothing.
--
-- KEYS[1]  the job's result
-- KEYS[2]  its job (payload)
-- KEYS[3]  its attempt counter
-- KEYS[4]  its lease
-- KEYS[5]  the index of cancelled jobs
-- KEYS[6]  this minute's history hash
-- KEYS[7]  high lane
-- KEYS[8]  normal lane
-- KEYS[9]  bulk lane
-- KEYS[10] the events stream
--
-- ARGV[1]  job id
-- ARGV[2]  the cancelled result record
-- ARGV[3]  result TTL (ms)
-- ARGV[4]  now (s): the index's score
-- ARGV[5]  ids the index keeps
-- ARGV[6]  the history hash's TTL (s)
-- ARGV[7]  the history field of a cancelled job
-- ARGV[8]  the job's completion event ('' none)
-- ARGV[9]  events the stream keeps (about: MAXLEN ~)
--
-- Returns 1 if the job was still in a lane (it is counted then), else 0.

local removed = redis.call('zrem', KEYS[7], ARGV[1]) + redis.call('zrem', KEYS[8], ARGV[1])
    + redis.call('zrem', KEYS[9], ARGV[1])
redis.call('psetex', KEYS[1], ARGV[3], ARGV[2])
redis.call('del', KEYS[2], KEYS[3], KEYS[4])
if removed == 0 then return 0 end
redis.call('zadd', KEYS[5], ARGV[4], ARGV[1])
redis.call('zremrangebyrank', KEYS[5], 0, -tonumber(ARGV[5]) - 1)
redis.call('hincrby', KEYS[6], ARGV[7], 1)
redis.call('expire', KEYS[6], ARGV[6])
if ARGV[8] ~= '' then
    redis.call('xadd', KEYS[10], 'MAXLEN', '~', ARGV[9], '*', 'e', ARGV[8])
end
return 1
