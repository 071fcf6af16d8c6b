-- claim: takes up to `want` due, unheld jobs from the lanes (high, then normal, then bulk) for
-- one worker: sets each one's lease (SET NX PX), moves its score to the lease's deadline, bumps
-- arq's attempt counter and returns its payload. Obeys the operator: nothing while the queue is
-- paused; while the control flag is set, a job whose cancel marker (or its prefix job's) is set
-- is taken only to be finished as cancelled, and a job of a paused prefix job is parked. A job
-- taken for its first attempt whose envelope carries an expiry ("x": ms, in its first bytes)
-- that has passed is taken only to be finished as expired: it is never run.
--
-- The script reads the due ids from the lanes itself but builds no key: Python declares the
-- keys of each candidate id (ARGV[12...]), the ids it expects to meet (the previous claim's
-- lookahead). Meeting an undeclared id stops the claim there ("miss"): it returns what it took
-- and the due ids it saw, and Python calls again with those declared.
--
-- KEYS[1]      high lane (sorted set: id -> run-at ms)
-- KEYS[2]      normal lane (arq's queue)
-- KEYS[3]      bulk lane
-- KEYS[4]      the queue's pause flag
-- KEYS[5]      the queue's control flag (set while any cancel marker or paused job may exist)
-- then per candidate i (in ARGV order), `stride` keys from KEYS[6 + (i - 1) * stride]:
--   lease, job (payload), arq's attempt counter, and when stride is 8 also:
--   its cancel marker, its owner's cancel marker, its owner's pause flag, its owner's parked
--   set, its owner's parked lane (the owner is its prefix job for a batch, else itself)
--
-- ARGV[1]      now (ms): jobs scored up to it are due
-- ARGV[2]      want: jobs to take at most
-- ARGV[3]      lease (ms)
-- ARGV[4]      worker id (the lease's value)
-- ARGV[5]      scan: due ids read at most per lane
-- ARGV[6]      lease deadline (ms): a taken job's new score
-- ARGV[7]      attempt counter TTL (s)
-- ARGV[8]      the lane (1-3) that gets this call's first slot, or 0
-- ARGV[9]      bulk jobs to take at most (-1: any number)
-- ARGV[10]     parked lane TTL (s)
-- ARGV[11]     stride: 3, or 8 with the control keys declared
-- ARGV[12...]  the candidate ids
--
-- Returns {1} while paused, else
-- {status, taken, cancelled, capped, soonest, seen, control, expired}:
--   status     0 done, 2 missed (an undeclared id or undeclared control keys stopped it)
--   taken      {id, score, payload, try, lane, ...} jobs to run
--   cancelled  {id, lane, ...} jobs taken only to be finished as cancelled
--   capped     1 if due bulk jobs were left for the bulk cap
--   soonest    the lanes' soonest score when nothing was taken (deferred, retrying, leased),
--              else -1 (-1 too when the lanes are empty)
--   seen       due ids read and not taken: the next call's candidates
--   control    1 if the control flag is set
--   expired    {id, score, payload, try, lane, ...} jobs taken only to be finished as expired

local flags = redis.call('mget', KEYS[4], KEYS[5])
if flags[1] then return {1} end
local control = flags[2] and 1 or 0
local stride = tonumber(ARGV[11])
local slot = {}
for i = 12, #ARGV do slot[ARGV[i]] = 6 + (i - 12) * stride end
local want, deadline, scan = tonumber(ARGV[2]), ARGV[6], ARGV[5]
local names = {'high', 'normal', 'bulk'}
local taken, scores, lanes, cancelled, seen, read = {}, {}, {}, {}, {}, {}
local count, bulk_left, capped = 0, tonumber(ARGV[9]), 0
-- Marker checks need the control keys: without them, every candidate is a miss.
local missed = control == 1 and stride < 8

local function take(lane, limit)
    if lane == 3 and bulk_left >= 0 then
        if bulk_left < limit then limit = bulk_left end
        if limit == 0 then
            -- Reads one id only to tell the worker a bulk job waits for a bulk slot.
            if #redis.call('zrangebyscore', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, 1) > 0 then
                capped = 1
            end
            return
        end
    end
    read[lane] = true
    local got, moved = 0, {}
    local due = redis.call('zrangebyscore', KEYS[lane], '-inf', ARGV[1], 'WITHSCORES',
                           'LIMIT', 0, scan)
    local i = 1
    while i <= #due do
        if count >= want then break end
        if got >= limit then
            if lane == 3 and bulk_left == 0 then capped = 1 end
            break
        end
        local id, score = due[i], due[i + 1]
        local k = slot[id]
        if k == nil then
            missed = true
            break
        end
        local state = 'run'
        if control == 1 then
            -- Some marker may exist: check this job's (rare: only while an operator acts).
            if redis.call('exists', KEYS[k]) == 1 then
                state = 'held'
            elseif redis.call('exists', KEYS[k + 3], KEYS[k + 4]) > 0 then
                state = 'cancel'
            elseif redis.call('exists', KEYS[k + 5]) == 1 then
                redis.call('zrem', KEYS[lane], id)
                redis.call('zadd', KEYS[k + 6], score, id)
                redis.call('set', KEYS[k + 7], names[lane], 'EX', ARGV[10])
                state = 'parked'
            end
        end
        if (state == 'run' or state == 'cancel')
            and redis.call('set', KEYS[k], ARGV[4], 'PX', ARGV[3], 'NX') then
            moved[#moved + 1] = deadline
            moved[#moved + 1] = id
            got, count = got + 1, count + 1
            if lane == 3 and bulk_left >= 0 then bulk_left = bulk_left - 1 end
            if state == 'run' then
                taken[#taken + 1] = id
                scores[#scores + 1] = score
                lanes[#lanes + 1] = lane
            else
                cancelled[#cancelled + 1] = id
                cancelled[#cancelled + 1] = lane
            end
        elseif state ~= 'parked' then
            seen[#seen + 1] = id
        end
        i = i + 2
    end
    for j = i, #due, 2 do seen[#seen + 1] = due[j] end
    -- Moved now, so a later pass over the same lane reads past none of them.
    if #moved > 0 then redis.call('zadd', KEYS[lane], 'XX', unpack(moved)) end
end

if not missed then
    local first = tonumber(ARGV[8])
    if first > 0 then take(first, 1) end
    for lane = 1, 3 do
        if count >= want or missed then break end
        take(lane, want)
    end
end
local soonest = -1
if missed then
    -- The next call declares every due id this one could meet: the lanes it did not read.
    for lane = 1, 3 do
        if not read[lane] then
            local due = redis.call('zrangebyscore', KEYS[lane], '-inf', ARGV[1], 'LIMIT', 0, scan)
            for _, id in ipairs(due) do seen[#seen + 1] = id end
        end
    end
elseif count == 0 then
    -- Nothing taken: say when the soonest job is due (deferred, retrying, or a lease that
    -- lapses), so an idle worker blocks until then instead of polling.
    for lane = 1, 3 do
        local head = redis.call('zrange', KEYS[lane], 0, 0, 'WITHSCORES')
        if #head > 0 then
            local score = tonumber(head[2])
            if soonest < 0 or score < soonest then soonest = score end
        end
    end
end
local status = missed and 2 or 0
local out, expired = {}, {}
if #taken > 0 then
    local keys = {}
    for i, id in ipairs(taken) do
        keys[2 * i - 1] = KEYS[slot[id] + 1]
        keys[2 * i] = KEYS[slot[id] + 2]
    end
    local got = redis.call('mget', unpack(keys))
    for i, id in ipairs(taken) do
        local payload, tried = got[2 * i - 1], tonumber(got[2 * i] or '0')
        redis.call('set', KEYS[slot[id] + 2], tried + 1, 'EX', ARGV[7])
        local rows = out
        if tried == 0 and payload then
            -- A first attempt: has the job's expiry (if any) passed? Only the head is read
            -- (a plain find: "x" is followed by "t", so a comma ends its number).
            local head = string.sub(payload, 1, 320)
            local _, at = string.find(head, '"x":', 1, true)
            local stop = at and string.find(head, ',', at + 1, true)
            local deadline = stop and tonumber(string.sub(head, at + 1, stop - 1))
            if deadline and deadline <= tonumber(ARGV[1]) then rows = expired end
        end
        rows[#rows + 1] = id
        rows[#rows + 1] = scores[i]
        rows[#rows + 1] = payload
        rows[#rows + 1] = tried + 1
        rows[#rows + 1] = lanes[i]
    end
end
return {status, out, cancelled, capped, soonest, seen, control, expired}
