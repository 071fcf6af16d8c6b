-- cancel: cancels one job, decided atomically against the claim. A job with a result is left
-- alone; a queued, deferred or parked job is taken off the queue and finished as cancelled at
-- once (a result record, counted in the history and the index of cancelled jobs, its
-- completion event added to the events stream); a running
-- job (its lease is live) gets a cancel marker. Whoever writes a marker extends the queue's
-- control flag to outlive it by a second: the claim checks markers only while the flag is set,
-- so it must never lapse first (the second covers a clock read between the two writes).
--
-- KEYS[1]   the job's result
-- KEYS[2]   its lease
-- KEYS[3]   its job (payload)
-- KEYS[4]   its attempt counter
-- KEYS[5]   its cancel marker
-- KEYS[6]   its owner's parked set (a parked batch waits there)
-- KEYS[7]   high lane
-- KEYS[8]   normal lane
-- KEYS[9]   bulk lane
-- KEYS[10]  the index of cancelled jobs
-- KEYS[11]  this minute's history hash
-- KEYS[12]  the queue's control flag
-- KEYS[13]  the events stream
--
-- ARGV[1]  job id
-- ARGV[2]  the cancelled result record
-- ARGV[3]  result TTL (ms)
-- ARGV[4]  marker TTL (ms)
-- ARGV[5]  now (s): the index's score
-- ARGV[6]  ids the index keeps
-- ARGV[7]  the history hash's TTL (s)
-- ARGV[8]  the history field of a cancelled job
-- ARGV[9]  the job's completion event ('' none)
-- ARGV[10] events the stream keeps (about: MAXLEN ~)
--
-- Returns 0 (finished or unknown), 1 (taken off the queue: it never runs), 2 (running: marked).

local function flag(ttl)
    local want = tonumber(ttl) + 1000
    local left = redis.call('pttl', KEYS[12])
    if left ~= -1 and left < want then
        redis.call('set', KEYS[12], '1', 'PX', want)
    end
end

if redis.call('exists', KEYS[1]) == 1 then return 0 end
if redis.call('exists', KEYS[2]) == 1 then
    flag(ARGV[4])
    redis.call('psetex', KEYS[5], ARGV[4], '1')
    return 2
end
-- A queued job is in one lane (or parked): removing it from each finds it wherever it waits.
local queued = redis.call('zrem', KEYS[7], ARGV[1]) + redis.call('zrem', KEYS[8], ARGV[1])
    + redis.call('zrem', KEYS[9], ARGV[1]) + redis.call('zrem', KEYS[6], ARGV[1])
if queued == 0 then return 0 end
redis.call('psetex', KEYS[1], ARGV[3], ARGV[2])
redis.call('del', KEYS[3], KEYS[4])
flag(ARGV[4])
redis.call('psetex', KEYS[5], ARGV[4], '1')
redis.call('zadd', KEYS[10], ARGV[5], ARGV[1])
redis.call('zremrangebyrank', KEYS[10], 0, -tonumber(ARGV[6]) - 1)
redis.call('hincrby', KEYS[11], ARGV[8], 1)
redis.call('expire', KEYS[11], ARGV[7])
if ARGV[9] ~= '' then
    redis.call('xadd', KEYS[13], 'MAXLEN', '~', ARGV[10], '*', 'e', ARGV[9])
end
return 1
