-- schedule_enqueued: a pending tick is on the queue: it is no longer pending, and the schedule
-- waits in the due index for its next tick again (unless paused or removed meanwhile).
--
-- KEYS[1]  the schedule (hash)
-- KEYS[2]  the due index (sorted set: name -> next tick, ms)
--
-- ARGV[1]  the schedule's name
-- ARGV[2]  the tick's job id
--
-- Returns 1, or 0 if that tick was not the pending one (another worker cleared it already).

local schedule, due = KEYS[1], KEYS[2]
local name, job_id = ARGV[1], ARGV[2]
if redis.call('hget', schedule, 'pending') ~= job_id then
    return 0
end
redis.call('hdel', schedule, 'pending', 'retry_at')
if redis.call('hget', schedule, 'paused') ~= '1' then
    redis.call('zadd', due, redis.call('hget', schedule, 'next'), name)
end
return 1
