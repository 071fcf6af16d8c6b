-- schedule_tick: one worker's claim of a due tick, run or skipped. Only the worker that finds
-- the schedule as it read it (same version, same next tick, not paused) moves it on; any other
-- finds it moved and does nothing, so a tick is decided once however many workers look.
-- A tick to run is left pending (its job id) until the worker has enqueued it: the due index
-- then holds the schedule at the earlier of its next tick and the retry time, so another worker
-- enqueues it (under the same id, which the queue takes once) if this one died first.
--
-- KEYS[1]  the schedule (hash)
-- KEYS[2]  the due index (sorted set: name -> next tick, ms)
--
-- ARGV[1]  the schedule's name
-- ARGV[2]  the version of the definition read
-- ARGV[3]  the next tick read (ms)
-- ARGV[4]  run or skip
-- ARGV[5]  the tick decided (ms)
-- ARGV[6]  the tick after it (ms)
-- ARGV[7]  ticks missed before it (a catch-up stands for them)
-- ARGV[8]  run: the tick's job id
-- ARGV[9]  now (ms)
-- ARGV[10] run: when another worker may enqueue the pending tick (ms)
--
-- Returns 1 (decided here) or 0 (moved on, changed, paused or removed meanwhile).

local schedule, due = KEYS[1], KEYS[2]
local name, version, read_next, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local tick, next_tick, missed, job_id = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local now, retry_at = ARGV[9], ARGV[10]
local current = redis.call('hmget', schedule, 'version', 'next', 'paused')
if current[1] ~= version or current[2] ~= read_next or current[3] == '1' then
    return 0
end
redis.call('hset', schedule, 'next', next_tick)
redis.call('hincrby', schedule, 'missed', missed)
if outcome == 'run' then
    redis.call('hset', schedule, 'last', tick, 'last_job', job_id, 'pending', job_id,
        'retry_at', retry_at, 'decided_at', now)
    redis.call('hincrby', schedule, 'runs', 1)
    local at = next_tick
    if tonumber(retry_at) < tonumber(next_tick) then
        at = retry_at
    end
    redis.call('zadd', due, at, name)
else
    redis.call('hset', schedule, 'skipped_tick', tick)
    redis.call('hincrby', schedule, 'skipped', 1)
    redis.call('zadd', due, next_tick, name)
end
return 1
