-- resume_job: resumes a paused prefix job: its parked batches go back into the lane they were
-- parked from (the claim wrote its name), scores kept, and a wake token starts an idle worker.
--
-- KEYS[1]  the job's pause flag
-- KEYS[2]  its parked set (id -> score)
-- KEYS[3]  high lane
-- KEYS[4]  normal lane
-- KEYS[5]  bulk lane
-- KEYS[6]  the wake list
-- KEYS[7]  the name of the lane its batches were parked from
--
-- Returns the number of batches put back, or -1 if the job was not paused.

if redis.call('del', KEYS[1]) == 0 then return -1 end
local lanes = {high = KEYS[3], normal = KEYS[4], bulk = KEYS[5]}
local from = redis.call('get', KEYS[7])
local lane = lanes[from or 'normal'] or KEYS[4]
local parked = redis.call('zrange', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #parked, 2 do redis.call('zadd', lane, parked[i + 1], parked[i]) end
redis.call('del', KEYS[2], KEYS[7])
redis.call('lpush', KEYS[6], '1')
redis.call('ltrim', KEYS[6], 0, 0)
return #parked / 2
