-- schedule_add: writes a schedule's definition. A definition equal to the stored one (same
-- version) changes nothing, so an application may declare its schedules at every start without
-- moving their ticks; a new one takes the next tick given. Counters, the last run and a paused
-- flag are kept; a paused schedule stays out of the due index.
--
-- KEYS[1]  the schedule (hash)
-- KEYS[2]  the due index (sorted set: name -> next tick, ms)
-- KEYS[3]  the index of every schedule (set of names)
--
-- ARGV[1]  the schedule's name
-- ARGV[2]  the definition's version (a digest of it)
-- ARGV[3]  its next tick (ms)
-- ARGV[4]  now (ms): when it was created, if it is new
-- ARGV[5..] the definition's fields and values, in pairs
--
-- Returns 1 (created), 2 (changed) or 0 (the same definition: nothing changed).

local schedule, due, index = KEYS[1], KEYS[2], KEYS[3]
local name, version, next_tick = ARGV[1], ARGV[2], ARGV[3]
local existed = redis.call('exists', schedule) == 1
if existed and redis.call('hget', schedule, 'version') == version then
    return 0
end
local fields = {'version', version, 'next', next_tick}
for i = 5, #ARGV do
    fields[#fields + 1] = ARGV[i]
end
if not existed then
    fields[#fields + 1] = 'created'
    fields[#fields + 1] = ARGV[4]
end
redis.call('hset', schedule, unpack(fields))
redis.call('sadd', index, name)
if redis.call('hget', schedule, 'paused') ~= '1' then
    redis.call('zadd', due, next_tick, name)
end
if existed then
    return 2
end
return 1
