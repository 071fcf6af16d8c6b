-- pause_job: pauses a prefix job (its batches are parked by the claim, its listing waits), and
-- extends the queue's control flag to outlive the pause flag by a second (see cancel.lua).
--
-- KEYS[1]  the job's pause flag
-- KEYS[2]  the queue's control flag
--
-- ARGV[1]  the pause flag's TTL (ms)
--
-- Returns 1 if newly paused, 0 if it was paused already.

if redis.call('exists', KEYS[1]) == 1 then return 0 end
local want = tonumber(ARGV[1]) + 1000
local left = redis.call('pttl', KEYS[2])
if left ~= -1 and left < want then
    redis.call('set', KEYS[2], '1', 'PX', want)
end
redis.call('set', KEYS[1], '1', 'PX', ARGV[1])
return 1
