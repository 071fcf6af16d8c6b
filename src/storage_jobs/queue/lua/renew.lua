-- renew: renews one lease while it is still this worker's, and keeps the job's score at the
-- lease's new deadline in the job's lane (a running job is not due; a dead holder's job is
-- due again when its lease lapses).
--
-- KEYS[1]  the job's lease
-- KEYS[2]  the job's lane (sorted set)
--
-- ARGV[1]  worker id (the lease's value when it is ours)
-- ARGV[2]  lease (ms)
-- ARGV[3]  the lease's new deadline (ms): the job's score
-- ARGV[4]  job id (its member in the lane)
--
-- Returns 1 if renewed, 0 if the lease is gone or another worker's: the holder lost the job.

if redis.call('get', KEYS[1]) == ARGV[1] then
    -- A full Redis (noeviction) refuses ZADD but not PEXPIRE: the lease must outlive it. A
    -- score left behind only makes the held job look due, and the claim reads past it.
    redis.pcall('zadd', KEYS[2], 'XX', ARGV[3], ARGV[4])
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
