-- schedule_control: an operator's pause, resume or removal of one schedule. A paused schedule
-- leaves the due index (no worker sees it); resuming puts it back at the next tick given (the
-- ticks of the pause are not caught up); removing deletes it and its index entries.
--
-- KEYS[1]  the schedule (hash)
-- KEYS[2]  the due index (sorted set: name -> next tick, ms)
-- KEYS[3]  the index of every schedule (set of names)
--
-- ARGV[1]  what to do: pause, resume or remove
-- ARGV[2]  the schedule's name
-- ARGV[3]  resume: the next tick (ms)
-- ARGV[4]  resume: the version of the definition that tick was computed from
--
-- Returns 1 (done), 0 (no such schedule, or it was paused / not paused already) or -1 (resume:
-- the definition changed since it was read; read it again).

local schedule, due, index = KEYS[1], KEYS[2], KEYS[3]
local action, name = ARGV[1], ARGV[2]
if redis.call('exists', schedule) == 0 then
    return 0
end
local paused = redis.call('hget', schedule, 'paused') == '1'
if action == 'remove' then
    redis.call('del', schedule)
    redis.call('zrem', due, name)
    redis.call('srem', index, name)
    return 1
elseif action == 'pause' then
    if paused then
        return 0
    end
    redis.call('hset', schedule, 'paused', '1')
    redis.call('zrem', due, name)
    return 1
elseif action == 'resume' then
    if not paused then
        return 0
    end
    if redis.call('hget', schedule, 'version') ~= ARGV[4] then
        return -1
    end
    redis.call('hset', schedule, 'paused', '0', 'next', ARGV[3])
    redis.call('zadd', due, ARGV[3], name)
    return 1
end
return redis.error_reply('unknown schedule action')
