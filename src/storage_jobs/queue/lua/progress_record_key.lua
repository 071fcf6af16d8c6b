-- progress_record_key: records one key's outcome in a prefix job's progress, once: sets the
-- key's done bit and counts it only if the bit was new, so a batch re-run after a crash never
-- counts a key twice. Crossing the failure threshold sets the job's stop reason.
--
-- KEYS[1]  the batch's done bitmap
-- KEYS[2]  the job's progress hash
-- KEYS[3]  the job's report lines (list)
--
-- ARGV[1]  the key's index in its batch (its bit)
-- ARGV[2]  the counter it counts in (done, skipped, failed, ...)
-- ARGV[3]  bytes it moved (0: none)
-- ARGV[4]  its report line ('' none)
-- ARGV[5]  a second counter it counts in ('' none: verified, mismatch, ...)
-- ARGV[6]  the failure ratio that stops the job ('' no threshold)
-- ARGV[7]  tasks counted before the ratio applies
-- ARGV[8]  the state's TTL (s): the bitmap gets it with its first bit
--
-- Returns 1 if recorded, 0 if it was already.

if redis.call('setbit', KEYS[1], ARGV[1], 1) == 1 then return 0 end
if redis.call('ttl', KEYS[1]) < 0 then redis.call('expire', KEYS[1], ARGV[8]) end
redis.call('hincrby', KEYS[2], ARGV[2], 1)
if tonumber(ARGV[3]) > 0 then redis.call('hincrby', KEYS[2], 'bytes', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('rpush', KEYS[3], ARGV[4]) end
if ARGV[5] ~= '' then redis.call('hincrby', KEYS[2], ARGV[5], 1) end
if ARGV[6] ~= '' then
    local h = redis.call('hmget', KEYS[2], 'done', 'skipped', 'failed')
    local failed = tonumber(h[3] or '0')
    local tasks = tonumber(h[1] or '0') + tonumber(h[2] or '0') + failed
    if tasks >= tonumber(ARGV[7]) and failed > tonumber(ARGV[6]) * tasks then
        if redis.call('hsetnx', KEYS[2], 'stopped', 'failure_threshold') == 1 then
            redis.call('hset', KEYS[2], 'status', 'stopping')
        end
    end
end
return 1
