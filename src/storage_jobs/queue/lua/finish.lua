-- finish: finishes a batch of jobs as arq's finish_job would, one call for the batch: stores
-- each result, deletes the jobs' keys (one DEL), removes them from their lanes (one ZREM per
-- lane) and announces their ids, and adds each ended job's completion event to the events
-- stream (one XADD, trimmed by length, per job that has one); a job left queued (a retry) gets its score back plus its
-- delay, and a wake token tells an idle worker to look at when it is due. Counts each outcome
-- in the minute's history hash and indexes finished jobs for the dashboard.
--
-- KEYS[1]  the queue (arq's: the normal lane; unused, kept so the layout reads as arq's)
-- KEYS[2]  this minute's history hash
-- KEYS[3]  the index of complete jobs
-- KEYS[4]  the index of failed jobs
-- KEYS[5]  the index of cancelled jobs
-- KEYS[6]  the events stream
-- then per job i, 5 keys from KEYS[5 * i + 2]: its lease, result, attempt counter, job
--   (payload), lane
-- KEYS[#KEYS]  the wake list
--
-- ARGV per job i, 10 values from ARGV[10 * (i - 1) + 1]: job id, finish ('1' store the result
--   and remove the job, '0' leave it queued), result data ('' none), result TTL (ms, '' for
--   ever), score increment (ms, ''), keep the lease this long (ms, '' delete it), history
--   field, index ('complete', 'failed', 'cancelled' or ''), the job's score when claimed (''),
--   its completion event's JSON ('' none; added only when the job finishes)
-- ARGV[#ARGV - 5]  the channel that hears the finished ids
-- ARGV[#ARGV - 4]  now (s): the indexes' score
-- ARGV[#ARGV - 3]  the history hash's TTL (s)
-- ARGV[#ARGV - 2]  ids an index keeps
-- ARGV[#ARGV - 1]  '1' to trim the indexes to that now, else ''
-- ARGV[#ARGV]      events the stream keeps (about: MAXLEN ~)
--
-- Returns the number of jobs removed (finished).

local n = 10
local channel, now = ARGV[#ARGV - 5], ARGV[#ARGV - 4]
local history_ttl, kept, trim = ARGV[#ARGV - 3], ARGV[#ARGV - 2], ARGV[#ARGV - 1]
local maxlen = ARGV[#ARGV]
local removed, doomed, fields, by_lane = {}, {}, {}, {}
local indexed = {complete = {}, failed = {}, cancelled = {}}
local requeued = false
for i = 1, (#KEYS - 7) / 5 do
    local lease, result = KEYS[5 * i + 2], KEYS[5 * i + 3]
    local retry, job, lane = KEYS[5 * i + 4], KEYS[5 * i + 5], KEYS[5 * i + 6]
    local at = (i - 1) * n
    local id, finish, data, ttl = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
    local incr, keep, field, index = ARGV[at + 5], ARGV[at + 6], ARGV[at + 7], ARGV[at + 8]
    local score, event = ARGV[at + 9], ARGV[at + 10]
    fields[field] = (fields[field] or 0) + 1
    if index ~= '' then
        local members = indexed[index]
        members[#members + 1] = now
        members[#members + 1] = id
    end
    if keep ~= '' then redis.call('pexpire', lease, keep)
    else doomed[#doomed + 1] = lease end
    if finish == '1' then
        if data ~= '' then
            if ttl == '' then redis.call('set', result, data)
            else redis.call('set', result, data, 'PX', ttl) end
        end
        if event ~= '' then
            redis.call('xadd', KEYS[6], 'MAXLEN', '~', maxlen, '*', 'e', event)
        end
        doomed[#doomed + 1] = retry
        doomed[#doomed + 1] = job
        removed[#removed + 1] = id
        local ids = by_lane[lane]
        if ids == nil then
            ids = {}
            by_lane[lane] = ids
        end
        ids[#ids + 1] = id
    elseif score ~= '' then
        -- The claim moved the score to the lease's deadline: back to arq's, plus any delay.
        redis.call('zadd', lane, tonumber(score) + (tonumber(incr) or 0), id)
        requeued = true
    elseif incr ~= '' then
        redis.call('zincrby', lane, incr, id)
        requeued = true
    end
end
if #doomed > 0 then redis.call('del', unpack(doomed)) end
if requeued then
    -- One token, trimmed to one: wakes an idle worker to learn when the retry is due.
    redis.call('lpush', KEYS[#KEYS], '1')
    redis.call('ltrim', KEYS[#KEYS], 0, 0)
end
if #removed > 0 then
    for lane, ids in pairs(by_lane) do redis.call('zrem', lane, unpack(ids)) end
    redis.call('publish', channel, cjson.encode(removed))
end
-- The dashboard's per-minute chart and finished-jobs lists, a few commands per batch: the
-- hash gets its expiry when a field is first counted, the indexes are trimmed now and then.
for field, count in pairs(fields) do
    if redis.call('hincrby', KEYS[2], field, count) == count then
        redis.call('expire', KEYS[2], history_ttl)
    end
end
for index, key in pairs({complete = KEYS[3], failed = KEYS[4], cancelled = KEYS[5]}) do
    if #indexed[index] > 0 then
        redis.call('zadd', key, unpack(indexed[index]))
        if trim ~= '' then redis.call('zremrangebyrank', key, 0, -tonumber(kept) - 1) end
    end
end
return #removed
