-- enqueue: writes a batch of jobs into one lane: each is added unless its id exists or has a
-- result (so one id runs once), the new ones join the lane in one ZADD, and one wake token
-- starts an idle worker. Its reads come before its writes, so a Redis that refuses writes
-- (OOM) refuses at the first SET, before anything is written.
--
-- KEYS[1]  the lane (sorted set)
-- KEYS[2]  the wake list
-- then per job i, 2 keys from KEYS[2 * i + 1]: its job (payload), its result
--
-- ARGV per job i, 4 values from ARGV[4 * (i - 1) + 1]: payload, payload TTL (ms), score
--   (run-at ms), job id
--
-- Returns 1 (added) or 0 (the id was taken) per job.

local added, members = {}, {}
for i = 1, (#KEYS - 2) / 2 do
    local job, result = KEYS[2 * i + 1], KEYS[2 * i + 2]
    if redis.call('exists', job, result) == 0 and not members[job] then
        members[job] = i
        added[i] = 1
    else
        added[i] = 0
    end
end
local zargs = {}
for i = 1, #added do
    if added[i] == 1 then
        local at = (i - 1) * 4
        redis.call('set', KEYS[2 * i + 1], ARGV[at + 1], 'PX', ARGV[at + 2])
        zargs[#zargs + 1] = ARGV[at + 3]
        zargs[#zargs + 1] = ARGV[at + 4]
    end
end
if #zargs > 0 then
    redis.call('zadd', KEYS[1], unpack(zargs))
    redis.call('lpush', KEYS[2], '1')
    redis.call('ltrim', KEYS[2], 0, 0)
end
return added
